package mediaparse

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"
)

// The fuzz targets check that no input makes a parser panic, return an error
// of an unexpected kind, or return more data than it was given, and that
// splitting the input into one-byte reads changes nothing. Run one with
//
//	go test ./internal/mediaparse -run '^$' -fuzz '^FuzzIVFReader$' -fuzztime 20s
//
// or all of them with `make fuzz`. Their seed corpora are in
// testdata/fuzz/<FuzzName>/; TestFuzzSeeds -update-fuzz-seeds rewrites them
// from the repository's test media.

// readAllIVF reads an IVF stream to its end, returning the frames' total
// size, their count and a digest of frames and timestamps for comparison.
func readAllIVF(r io.Reader) (total, frames int, digest []byte, err error) {
	ir, _, err := NewIVFReader(r)
	if err != nil {
		return 0, 0, nil, err
	}
	for {
		f, pts, err := ir.Next()
		if err != nil {
			return total, frames, digest, err
		}
		total += len(f)
		frames++
		digest = appendDigest(digest, pts, f)
		// The keyframe helpers must not panic on any frame.
		IsVP8Keyframe(f)
		VP8Dimensions(f)
		IsVP9Keyframe(f)
		VP9FrameHeader(f)
		IsAV1Keyframe(f)
	}
}

func FuzzIVFReader(f *testing.F) {
	f.Add(ivfFile("VP80", []byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, []byte{0x31}))
	f.Add(ivfFile("VP90", []byte{0x82, 0x49, 0x83, 0x42, 0x00}, nil))
	f.Add(ivfFile("AV01", []byte{0x12, 0x00, 0x0a, 0x03, 0x00, 0x00, 0x00}))
	f.Add([]byte("DKIF\x00\x00\x20\x00VP80"))
	f.Fuzz(func(t *testing.T, data []byte) {
		total, frames, digest, err := readAllIVF(bytes.NewReader(data))
		checkErrKind(t, err)
		if total > len(data) || frames*ivfFrameHeaderSize > len(data) {
			t.Fatalf("%d frames of %d bytes from %d bytes of input", frames, total, len(data))
		}
		total2, frames2, digest2, err2 := readAllIVF(iotest.OneByteReader(bytes.NewReader(data)))
		if total2 != total || frames2 != frames || !bytes.Equal(digest, digest2) || !sameKind(err, err2) {
			t.Fatalf("one-byte reads differ: %d/%d frames, %v/%v", frames, frames2, err, err2)
		}
	})
}

// appendDigest appends a number and a hash of data to digest, so that the
// results of two reads can be compared cheaply.
func appendDigest(digest []byte, n uint64, data []byte) []byte {
	h := fnv.New64a()
	h.Write(data)
	digest = binary.LittleEndian.AppendUint64(digest, n)
	digest = binary.LittleEndian.AppendUint64(digest, uint64(len(data)))
	return h.Sum(digest)
}

// sameKind reports whether two errors are of the same kind.
func sameKind(a, b error) bool {
	kind := func(err error) string {
		switch {
		case err == nil:
			return "nil"
		case err == io.EOF:
			return "EOF"
		case errors.Is(err, ErrCorrupt):
			return "corrupt"
		case errors.Is(err, io.ErrUnexpectedEOF):
			return "unexpected EOF"
		}
		return err.Error()
	}
	return kind(a) == kind(b)
}

// readAllAnnexB reads an Annex-B stream to its end, checking each access
// unit, and returns the access units' total size and a digest.
func readAllAnnexB(t *testing.T, r io.Reader) (total int, digest []byte, err error) {
	ar := NewAnnexBReader(r)
	for {
		au, key, err := ar.Next()
		if err != nil {
			if s := ar.SPS(); s != nil && (s.Width <= 0 || s.Height <= 0) {
				t.Fatalf("SPS %+v", *s)
			}
			return total, digest, err
		}
		if !bytes.HasPrefix(au, []byte{0, 0, 0, 1}) || len(au) < 5 {
			t.Fatalf("access unit % x", au[:min(len(au), 8)])
		}
		if key != IsH264Keyframe(au) {
			t.Fatalf("keyframe %v but IsH264Keyframe %v", key, !key)
		}
		total += len(au)
		k := uint64(0)
		if key {
			k = 1
		}
		digest = appendDigest(digest, k, au)
	}
}

func FuzzAnnexBReader(f *testing.F) {
	f.Add(annexB([]byte{0, 0, 1}, nalSPSUnit, nalPPSUnit, idrFirst, idrSecond, sliceFirst))
	f.Add(annexB([]byte{0, 0, 0, 1}, nalAUDUnit, nalSEIUnit, idrFirst, nalAUDUnit, sliceFirst, sliceSecond))
	f.Add([]byte{0, 0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 0, 0, 1, 0x41})
	f.Add([]byte{0, 0, 1, 0x41, 0, 0, 3, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		total, digest, err := readAllAnnexB(t, bytes.NewReader(data))
		checkErrKind(t, err)
		// Each NAL unit of at least one byte follows a start code of at
		// least 3 bytes and is returned after one of 4.
		if max := len(data) + len(data)/4; total > max {
			t.Fatalf("%d bytes of access units from %d bytes of input", total, len(data))
		}
		total2, digest2, err2 := readAllAnnexB(t, iotest.OneByteReader(bytes.NewReader(data)))
		if total2 != total || !bytes.Equal(digest, digest2) || !sameKind(err, err2) {
			t.Fatalf("one-byte reads differ: %d/%d bytes, %v/%v", total, total2, err, err2)
		}
	})
}

func FuzzParseSPS(f *testing.F) {
	for _, s := range x264SPS {
		nal, _ := hex.DecodeString(s.hex)
		f.Add(nal)
	}
	f.Add(nalSPSUnit)
	f.Add([]byte{0x67, 0x64, 0x00, 0x1f, 0xff})
	f.Fuzz(func(t *testing.T, nal []byte) {
		info, err := ParseSPS(nal)
		if err != nil {
			if info != nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%+v, %v", info, err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.Width > 16*maxPicSizeInMbs || info.Height > 32*maxPicSizeInMbs {
			t.Fatalf("size %dx%d", info.Width, info.Height)
		}
		if info.ProfileIDC < 0 || info.ProfileIDC > 255 || info.LevelIDC < 0 || info.LevelIDC > 255 {
			t.Fatalf("profile %d level %d", info.ProfileIDC, info.LevelIDC)
		}
		if info.FrameRate < 0 || math.IsNaN(info.FrameRate) || math.IsInf(info.FrameRate, 0) {
			t.Fatalf("frame rate %v", info.FrameRate)
		}
	})
}

// readAllOpus reads an Ogg Opus stream to its end and returns the packets'
// total size and a digest.
func readAllOpus(r io.Reader, verifyCRC bool) (total int, digest []byte, err error) {
	or, head, err := newOggOpusReader(r, verifyCRC)
	if err != nil {
		return 0, nil, err
	}
	digest = fmt.Appendf(digest, "%+v;", *head)
	for {
		p, err := or.Next()
		if err != nil {
			return total, digest, err
		}
		if len(p) == 0 {
			return total, digest, errors.New("empty packet returned")
		}
		OpusPacketDuration(p)
		total += len(p)
		digest = appendDigest(digest, 0, p)
	}
}

func FuzzOggOpusReader(f *testing.F) {
	hdr := oggHeaders(5, 2)
	f.Add(append(hdr, oggPage(oggFlagEOS, 960, 5, 2, []byte{3}, []byte{0xfc, 0xff, 0xfe})...))
	f.Add(append(append(hdr, oggPage(0, 0, 5, 2, []byte{1, 255}, make([]byte, 256))...),
		oggPage(oggFlagContinue, 1920, 5, 3, []byte{0}, nil)...))
	f.Add(oggPage(oggFlagBOS, 0, 1, 0, []byte{8}, []byte("OpusHead")))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, verify := range []bool{true, false} {
			total, digest, err := readAllOpus(bytes.NewReader(data), verify)
			checkErrKind(t, err)
			if total > len(data) {
				t.Fatalf("%d bytes of packets from %d bytes of input", total, len(data))
			}
			total2, digest2, err2 := readAllOpus(iotest.OneByteReader(bytes.NewReader(data)), verify)
			if total2 != total || !bytes.Equal(digest, digest2) || !sameKind(err, err2) {
				t.Fatalf("one-byte reads differ: %d/%d bytes, %v/%v", total, total2, err, err2)
			}
		}
	})
}

func FuzzOpusPacketDuration(f *testing.F) {
	f.Add([]byte{0xfc})
	f.Add([]byte{0x7b, 0x03})
	f.Add([]byte{0x83, 0x30})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, err := OpusPacketDuration(p)
		if err != nil {
			if d != 0 || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v, %v", d, err)
			}
			return
		}
		if d <= 0 || d > 120*time.Millisecond || d%(2500*time.Microsecond) != 0 {
			t.Fatalf("duration %v", d)
		}
	})
}

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz from the repository's test media")

// maxSeedSize keeps the checked-in seeds small.
const maxSeedSize = 8 << 10

// fuzzSeeds returns the checked-in seed corpus: prefixes of the real test
// files and hand-made inputs, by fuzz target.
func fuzzSeeds(t *testing.T) map[string]map[string][]byte {
	prefix := func(name string, n int) []byte {
		b := testdata(t, name)
		return b[:min(n, len(b))]
	}
	// interFrames returns the file's header followed by as many of its
	// frames after the first (keyframe) as fit in n bytes.
	interFrames := func(name string, n int) []byte {
		b := testdata(t, name)
		out := append([]byte{}, b[:32]...)
		off := 32
		for first := true; off+12 <= len(b); first = false {
			size := int(binary.LittleEndian.Uint32(b[off:]))
			if !first {
				if len(out)+12+size > n {
					break
				}
				out = append(out, b[off:off+12+size]...)
			}
			off += 12 + size
		}
		return out
	}
	h264 := testdata(t, "h264.h264")
	nals := splitAnnexB(h264)
	// SPS and PPS, then P pictures up to 2500 bytes.
	aus, _, _ := readAUs(bytes.NewReader(h264))
	pFrames := au4(nals[0], nals[1])
	for _, au := range aus[1:] {
		if len(pFrames)+len(au.data) > 2500 {
			break
		}
		pFrames = append(pFrames, au.data...)
	}
	ogg := testdata(t, "opus.ogg")
	ends, _ := oggPageEnds(t, ogg)
	lastPage := ogg[ends[len(ends)-2]:]
	hdrs := ogg[:ends[1]]

	const raw = 2800 // bytes of binary data that stay under maxSeedSize once quoted
	seeds := map[string]map[string][]byte{
		"FuzzIVFReader": {
			"vp8_prefix":               prefix("vp8.ivf", raw),
			"vp8_inter_frames":         interFrames("vp8.ivf", raw),
			"vp9_inter_frames":         interFrames("vp9.ivf", raw),
			"simulcast_q_inter_frames": interFrames("simulcast_q.ivf", raw),
			"header_only":              prefix("vp8.ivf", 32),
			"cut_frame_header":         prefix("vp8.ivf", 40),
		},
		"FuzzAnnexBReader": {
			"h264_prefix":   prefix("h264.h264", raw),
			"h264_p_frames": pFrames,
			"h264_cut_sps":  prefix("h264.h264", 20),
			"three_byte_start_codes": annexB([]byte{0, 0, 1},
				nalAUDUnit, nalSPSUnit, nalPPSUnit, idrFirst, idrSecond, nalSEIUnit, sliceFirst, sliceSecond),
		},
		"FuzzParseSPS": {
			"testdata_sps": nals[0],
		},
		"FuzzOggOpusReader": {
			"opus_prefix":      ogg[:raw],
			"opus_headers":     hdrs,
			"opus_last_page":   append(append([]byte{}, hdrs...), lastPage...),
			"opus_cut_in_page": ogg[:ends[1]+100],
		},
		"FuzzOpusPacketDuration": {
			"celt_nb_20ms": {0x9c, 0x11, 0x22},
			"code3_cbr":    {0x1b, 0x02, 0xaa},
			"code3_vbr":    {0xfb, 0x83, 0x01},
		},
	}
	for i, s := range x264SPS {
		nal, _ := hex.DecodeString(s.hex)
		seeds["FuzzParseSPS"][fmt.Sprintf("x264_%d", i)] = nal
	}
	return seeds
}

// TestFuzzSeeds checks that the checked-in seed corpus is what fuzzSeeds
// gives, or rewrites it with -update-fuzz-seeds.
func TestFuzzSeeds(t *testing.T) {
	for target, files := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, data := range files {
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if len(want) >= maxSeedSize {
				t.Fatalf("%s/%s: %d bytes", target, name, len(want))
			}
			path := filepath.Join(dir, name)
			if *updateFuzzSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFuzzSeeds -update-fuzz-seeds)", err)
			}
			if string(got) != want {
				t.Errorf("%s is out of date (run go test -run TestFuzzSeeds -update-fuzz-seeds)", path)
			}
		}
	}
}
