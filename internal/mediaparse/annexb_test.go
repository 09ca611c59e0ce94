package mediaparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// splitAnnexB splits an Annex-B stream into NAL units the simple way: on
// every 00 00 01, dropping trailing zero bytes.
func splitAnnexB(data []byte) [][]byte {
	var nals [][]byte
	parts := bytes.Split(data, []byte{0, 0, 1})
	for _, p := range parts[1:] {
		if p = bytes.TrimRight(p, "\x00"); len(p) > 0 {
			nals = append(nals, p)
		}
	}
	return nals
}

type accessUnit struct {
	data []byte
	key  bool
}

// readAUs reads a whole Annex-B stream, copying the access units.
func readAUs(r io.Reader) ([]accessUnit, *AnnexBReader, error) {
	ar := NewAnnexBReader(r)
	var aus []accessUnit
	for {
		au, key, err := ar.Next()
		if err != nil {
			return aus, ar, err
		}
		aus = append(aus, accessUnit{bytes.Clone(au), key})
	}
}

// nalTypes lists the NAL unit types of an access unit the reader returned.
func nalTypes(t testing.TB, au []byte) []int {
	t.Helper()
	if !bytes.HasPrefix(au, []byte{0, 0, 0, 1}) {
		t.Fatalf("access unit does not start with 00 00 00 01: % x", au[:min(len(au), 8)])
	}
	var types []int
	for _, nal := range splitAnnexB(au) {
		types = append(types, int(nal[0]&0x1f))
	}
	return types
}

func TestAnnexBFile(t *testing.T) {
	data := testdata(t, "h264.h264")
	aus, r, err := readAUs(bytes.NewReader(data))
	if err != io.EOF {
		t.Fatalf("read ended with %v", err)
	}
	if len(aus) != 240 {
		t.Fatalf("%d access units, want 240", len(aus))
	}
	sps := r.SPS()
	if sps == nil {
		t.Fatal("no SPS")
	}
	if want := (SPSInfo{ProfileIDC: 66, LevelIDC: 13, Width: 320, Height: 240, FrameRate: 30}); *sps != want {
		t.Fatalf("SPS %+v, want %+v", *sps, want)
	}
	timestamp := func(i int) time.Duration {
		return time.Duration(float64(i) * float64(time.Second) / sps.FrameRate)
	}
	var all [][]byte
	for i, au := range aus {
		types := nalTypes(t, au.data)
		vcl := 0
		for _, typ := range types {
			if typ == 1 || typ == 5 {
				vcl++
			}
		}
		if vcl != 1 {
			t.Errorf("AU %d: NAL types %v, want one slice", i, types)
		}
		key := i%120 == 0
		if au.key != key || IsH264Keyframe(au.data) != key {
			t.Errorf("AU %d: keyframe %v, IsH264Keyframe %v", i, au.key, IsH264Keyframe(au.data))
		}
		if key {
			// x264 repeats SPS and PPS before each IDR; the first one also
			// carries its version SEI.
			if types[0] != 7 || types[1] != 8 || types[len(types)-1] != 5 {
				t.Errorf("AU %d: NAL types %v", i, types)
			}
			// One timestamp per access unit: keyframes every 4 s.
			if ts := timestamp(i); ts != time.Duration(i/120)*4*time.Second {
				t.Errorf("AU %d at %v", i, ts)
			}
		}
		all = append(all, splitAnnexB(au.data)...)
	}
	if d := timestamp(len(aus)); d != 8*time.Second {
		t.Errorf("duration %v, want 8s", d)
	}
	// The access units hold every NAL unit of the file, in order.
	want := splitAnnexB(data)
	if len(all) != len(want) {
		t.Fatalf("%d NAL units, file has %d", len(all), len(want))
	}
	for i := range want {
		if !bytes.Equal(all[i], want[i]) {
			t.Fatalf("NAL %d differs", i)
		}
	}

	// Any split of the input into reads gives the same access units.
	readers := map[string]io.Reader{
		"one byte":  iotest.OneByteReader(bytes.NewReader(data)),
		"half":      iotest.HalfReader(bytes.NewReader(data)),
		"data+EOF":  iotest.DataErrReader(bytes.NewReader(data)),
		"4093 byte": &chunkReader{data: data, n: 4093},
	}
	for name, rd := range readers {
		got, _, err := readAUs(rd)
		if err != io.EOF || len(got) != len(aus) {
			t.Fatalf("%s reads: %d AUs, %v", name, len(got), err)
		}
		for i := range got {
			if !bytes.Equal(got[i].data, aus[i].data) || got[i].key != aus[i].key {
				t.Fatalf("%s reads: AU %d differs", name, i)
			}
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// Hand-made NAL units. Slice headers start with first_mb_in_slice: the bit 1
// is ue(v) 0, the bits 010 are 1.
var (
	nalAUDUnit = []byte{0x09, 0xf0}
	nalSPSUnit = buildSPS(spsParams{profile: 66, level: 30, widthMbs: 40, heightUnits: 30, frameMbsOnly: true,
		vui: true, timing: true, numUnits: 1, timeScale: 50})
	nalPPSUnit  = []byte{0x68, 0xce, 0x3c, 0x80}
	nalSEIUnit  = []byte{0x06, 0x05, 0x01, 0xaa, 0x80}
	idrFirst    = []byte{0x65, 0x88, 0x84, 0x21}
	idrSecond   = []byte{0x65, 0x48, 0x84, 0x21} // first_mb_in_slice 1
	sliceFirst  = []byte{0x41, 0x9a, 0x02, 0x03}
	sliceSecond = []byte{0x41, 0x5a, 0x02, 0x03} // first_mb_in_slice 1
)

// annexB joins NAL units with the given start code.
func annexB(sc []byte, nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(b, sc...)
		b = append(b, n...)
	}
	return b
}

// au4 is the access unit the reader should return for nals.
func au4(nals ...[]byte) []byte {
	return annexB([]byte{0, 0, 0, 1}, nals...)
}

func TestAnnexBGrouping(t *testing.T) {
	sc3 := []byte{0, 0, 1}
	sc4 := []byte{0, 0, 0, 1}
	tests := []struct {
		name  string
		input []byte
		want  []accessUnit
	}{
		{
			"3-byte start codes, no AUD",
			annexB(sc3, nalSPSUnit, nalPPSUnit, idrFirst, sliceFirst, sliceFirst),
			[]accessUnit{{au4(nalSPSUnit, nalPPSUnit, idrFirst), true}, {au4(sliceFirst), false}, {au4(sliceFirst), false}},
		},
		{
			"AUDs and mixed start codes",
			append(annexB(sc4, nalAUDUnit, nalSPSUnit, nalPPSUnit, idrFirst), annexB(sc3, nalAUDUnit, sliceFirst)...),
			[]accessUnit{{au4(nalAUDUnit, nalSPSUnit, nalPPSUnit, idrFirst), true}, {au4(nalAUDUnit, sliceFirst), false}},
		},
		{
			"slices of one picture stay together",
			annexB(sc3, idrFirst, idrSecond, idrSecond, sliceFirst, sliceSecond, sliceFirst),
			[]accessUnit{{au4(idrFirst, idrSecond, idrSecond), true}, {au4(sliceFirst, sliceSecond), false}, {au4(sliceFirst), false}},
		},
		{
			"SEI, SPS and PPS after a slice start a new access unit",
			annexB(sc3, sliceFirst, nalSEIUnit, sliceFirst, nalSPSUnit, nalPPSUnit, idrFirst, nalPPSUnit, sliceFirst),
			[]accessUnit{{au4(sliceFirst), false}, {au4(nalSEIUnit, sliceFirst), false},
				{au4(nalSPSUnit, nalPPSUnit, idrFirst), true}, {au4(nalPPSUnit, sliceFirst), false}},
		},
		{
			"NAL types 14 to 18 start an access unit, 19 and 12 do not",
			annexB(sc3, sliceFirst, []byte{0x0c, 0xff}, []byte{0x13, 0x80}, []byte{0x0e, 0x80}, sliceFirst, []byte{0x12, 0x80}, sliceFirst),
			[]accessUnit{{au4(sliceFirst, []byte{0x0c, 0xff}, []byte{0x13, 0x80}), false},
				{au4([]byte{0x0e, 0x80}, sliceFirst), false}, {au4([]byte{0x12, 0x80}, sliceFirst), false}},
		},
		{
			"leading, trailing and extra zero bytes",
			append(append([]byte{0, 0, 0, 0, 0}, annexB([]byte{0, 0, 0, 0, 0, 1}, idrFirst, sliceFirst)...), 0, 0, 0, 0),
			[]accessUnit{{au4(idrFirst), true}, {au4(sliceFirst), false}},
		},
		{
			"empty NAL units are skipped",
			annexB(sc3, idrFirst, nil, nil, sliceFirst),
			[]accessUnit{{au4(idrFirst), true}, {au4(sliceFirst), false}},
		},
		{
			"NAL unit ending in zero bytes before the next start code",
			annexB(sc3, []byte{0x06, 0x05, 0x80, 0x00, 0x00}, idrFirst),
			[]accessUnit{{au4([]byte{0x06, 0x05, 0x80}, idrFirst), true}},
		},
		{
			"only parameter sets",
			annexB(sc3, nalSPSUnit, nalPPSUnit),
			[]accessUnit{{au4(nalSPSUnit, nalPPSUnit), false}},
		},
		{"empty stream", nil, nil},
		{"only zeros", make([]byte, 100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []string{"whole", "one byte"} {
				var rd io.Reader = bytes.NewReader(tt.input)
				if split == "one byte" {
					rd = iotest.OneByteReader(rd)
				}
				got, r, err := readAUs(rd)
				if err != io.EOF {
					t.Fatalf("%s: read ended with %v", split, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("%s: got\n%v\nwant\n%v", split, got, tt.want)
				}
				// io.EOF is sticky.
				if _, _, err := r.Next(); err != io.EOF {
					t.Fatalf("%s: after the end: %v", split, err)
				}
			}
		})
	}
}

func TestAnnexBSPS(t *testing.T) {
	sps2 := buildSPS(spsParams{profile: 100, level: 31, chromaFormat: 1, widthMbs: 80, heightUnits: 45, frameMbsOnly: true})
	r := NewAnnexBReader(bytes.NewReader(annexB([]byte{0, 0, 1},
		sliceFirst, nalSPSUnit, idrFirst, []byte{0x67, 0xff}, sliceFirst, sps2, idrFirst)))
	if r.SPS() != nil {
		t.Fatal("SPS before any")
	}
	r.Next()
	if r.SPS() != nil {
		t.Fatal("SPS before any")
	}
	r.Next()
	first := r.SPS()
	if first == nil || *first != (SPSInfo{ProfileIDC: 66, LevelIDC: 30, Width: 640, Height: 480, FrameRate: 25}) {
		t.Fatalf("SPS %+v", first)
	}
	// A broken SPS is ignored.
	r.Next()
	if r.SPS() != first {
		t.Fatalf("SPS %+v after a broken one", r.SPS())
	}
	r.Next()
	if s := r.SPS(); s == nil || *s != (SPSInfo{ProfileIDC: 100, LevelIDC: 31, Width: 1280, Height: 720}) {
		t.Fatalf("SPS %+v", s)
	}
	// The earlier value is not modified.
	if first.Width != 640 {
		t.Fatal("earlier SPSInfo modified")
	}
}

func TestAnnexBErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		aus   int // access units returned before the error
		want  error
	}{
		{"data before the first start code", append([]byte{0x12, 0, 0, 1}, idrFirst...), 0, ErrCorrupt},
		{"bad start code", append(annexB([]byte{0, 0, 1}, idrFirst), 0, 0, 0, 2, 0x41), 1, ErrCorrupt},
		{"forbidden zero bit", annexB([]byte{0, 0, 1}, idrFirst, []byte{0xc1, 0x80}), 1, ErrCorrupt},
		{"slice header missing mid-stream", annexB([]byte{0, 0, 1}, idrFirst, []byte{0x41}, sliceFirst), 1, ErrCorrupt},
		{"slice header cut at the end", annexB([]byte{0, 0, 1}, idrFirst, []byte{0x41}), 1, io.ErrUnexpectedEOF},
		{"slice header of zeros cut at the end", annexB([]byte{0, 0, 1}, idrFirst, []byte{0x41, 0x00}), 1, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aus, r, err := readAUs(bytes.NewReader(tt.input))
			if len(aus) != tt.aus || !errors.Is(err, tt.want) {
				t.Fatalf("%d AUs, %v; want %d, %v", len(aus), err, tt.aus, tt.want)
			}
			if _, _, err2 := r.Next(); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
		})
	}

	t.Run("reader error", func(t *testing.T) {
		boom := errors.New("boom")
		in := annexB([]byte{0, 0, 1}, idrFirst, sliceFirst)
		_, _, err := readAUs(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)))
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reader without progress", func(t *testing.T) {
		_, _, err := readAUs(emptyReader{})
		if !errors.Is(err, io.ErrNoProgress) {
			t.Fatalf("got %v", err)
		}
	})
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// repeatReader yields n bytes of value c.
type repeatReader struct {
	c byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.c
	}
	r.n -= n
	return n, nil
}

func TestAnnexBOversizedNAL(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 16 MiB")
	}
	in := io.MultiReader(bytes.NewReader([]byte{0, 0, 0, 1, 0x65}), &repeatReader{c: 0xff, n: maxUnitSize + 10})
	r := NewAnnexBReader(in)
	_, _, err := r.Next()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
	if cap(r.buf) > maxUnitSize+annexBReadSize {
		t.Fatalf("buffer of %d bytes", cap(r.buf))
	}
}

// TestAnnexBTruncated cuts the real file at many offsets: every access unit
// before the last one returned is intact, and the reader never fails with
// anything but the package's errors.
func TestAnnexBTruncated(t *testing.T) {
	data := testdata(t, "h264.h264")
	full, _, _ := readAUs(bytes.NewReader(data))
	var offsets []int
	for i := 0; i < 400; i++ {
		offsets = append(offsets, i)
	}
	for i := 400; i < len(data); i += 211 {
		offsets = append(offsets, i)
	}
	for _, n := range offsets {
		aus, _, err := readAUs(bytes.NewReader(data[:n]))
		checkErrKind(t, err)
		if len(aus) > len(full) {
			t.Fatalf("cut at %d: %d AUs", n, len(aus))
		}
		for i := 0; i+1 < len(aus); i++ {
			if !bytes.Equal(aus[i].data, full[i].data) {
				t.Fatalf("cut at %d: AU %d differs", n, i)
			}
		}
		if len(aus) > 0 {
			last := aus[len(aus)-1].data
			if !bytes.HasPrefix(full[len(aus)-1].data, last[:len(last)-1]) {
				t.Fatalf("cut at %d: last AU is not a prefix of the original", n)
			}
		}
	}
}

func TestAnnexBNoAllocsPerAU(t *testing.T) {
	data := testdata(t, "h264.h264")
	br := bytes.NewReader(data)
	r := NewAnnexBReader(br)
	for {
		if _, _, err := r.Next(); err != nil {
			break
		}
	}
	// Reading the file again with a warmed-up reader allocates nothing.
	allocs := testing.AllocsPerRun(3, func() {
		br.Reset(data)
		*r = AnnexBReader{r: br, buf: r.buf, cur: r.cur[:0], out: r.out[:0], sps: r.sps}
		n := 0
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
			n++
		}
		if n != 240 {
			t.Fatalf("%d AUs", n)
		}
	})
	if allocs > 0 {
		t.Fatalf("%v allocations to read 240 access units", allocs)
	}
}

func TestIsH264Keyframe(t *testing.T) {
	tests := []struct {
		in   []byte
		want bool
	}{
		{nil, false},
		{[]byte{0, 0, 1}, false},
		{[]byte{0, 0, 1, 0x65}, true},
		{[]byte{0, 0, 0, 1, 0x25, 0x88}, true},
		{[]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88}, true},
		{[]byte{0, 0, 0, 1, 0x41, 0x9a, 0x65, 0x65}, false},
		{[]byte{0, 0, 1, 0xe5, 0x88}, false}, // forbidden bit set
		{[]byte{0x65, 0x88}, false},          // no start code
	}
	for _, tt := range tests {
		if got := IsH264Keyframe(tt.in); got != tt.want {
			t.Errorf("IsH264Keyframe(% x) = %v", tt.in, got)
		}
	}
}
