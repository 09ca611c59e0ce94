package mediaparse

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

type ivfFrame struct {
	data []byte
	pts  uint64
}

// readIVF reads a whole IVF stream, copying the frames.
func readIVF(t testing.TB, r io.Reader) (*IVFHeader, []ivfFrame, error) {
	t.Helper()
	ir, hdr, err := NewIVFReader(r)
	if err != nil {
		return nil, nil, err
	}
	var frames []ivfFrame
	for {
		f, pts, err := ir.Next()
		if err != nil {
			return hdr, frames, err
		}
		frames = append(frames, ivfFrame{bytes.Clone(f), pts})
	}
}

func TestIVFFiles(t *testing.T) {
	tests := []struct {
		file          string
		fourcc        string
		width, height int
		frames        int
		gop           int
		keyframe      func([]byte) bool
	}{
		{"vp8.ivf", "VP80", 320, 240, 240, 120, IsVP8Keyframe},
		{"vp9.ivf", "VP90", 320, 240, 180, 60, IsVP9Keyframe},
		{"simulcast_q.ivf", "VP80", 320, 180, 150, 30, IsVP8Keyframe},
		{"simulcast_h.ivf", "VP80", 640, 360, 150, 30, IsVP8Keyframe},
		{"simulcast_f.ivf", "VP80", 1280, 720, 150, 30, IsVP8Keyframe},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testdata(t, tt.file)
			hdr, frames, err := readIVF(t, bytes.NewReader(data))
			if err != io.EOF {
				t.Fatalf("read ended with %v, want io.EOF", err)
			}
			want := IVFHeader{
				FourCC: tt.fourcc, Width: uint16(tt.width), Height: uint16(tt.height),
				TimebaseDenominator: 30, TimebaseNumerator: 1, FrameCount: uint32(tt.frames),
			}
			if *hdr != want {
				t.Errorf("header %+v, want %+v", *hdr, want)
			}
			if len(frames) != tt.frames {
				t.Fatalf("%d frames, want %d", len(frames), tt.frames)
			}
			total := 32
			for i, f := range frames {
				total += 12 + len(f.data)
				if f.pts != uint64(i) {
					t.Errorf("frame %d: pts %d", i, f.pts)
				}
				if key := tt.keyframe(f.data); key != (i%tt.gop == 0) {
					t.Errorf("frame %d: keyframe %v", i, key)
				}
				if tt.fourcc == "VP80" {
					w, h, ok := VP8Dimensions(f.data)
					if key := i%tt.gop == 0; ok != key || (ok && (w != tt.width || h != tt.height)) {
						t.Errorf("frame %d: VP8Dimensions %d, %d, %v", i, w, h, ok)
					}
				}
			}
			if total != len(data) {
				t.Errorf("frames cover %d bytes of %d", total, len(data))
			}
			// Duration in seconds: frames * numerator / denominator.
			if d := float64(len(frames)) * float64(hdr.TimebaseNumerator) / float64(hdr.TimebaseDenominator); d != float64(tt.frames)/30 {
				t.Errorf("duration %v s", d)
			}

			// Reading one byte at a time gives the same frames.
			_, slow, err := readIVF(t, iotest.OneByteReader(bytes.NewReader(data)))
			if err != io.EOF || len(slow) != len(frames) {
				t.Fatalf("one-byte reads: %d frames, %v", len(slow), err)
			}
			for i := range slow {
				if !bytes.Equal(slow[i].data, frames[i].data) || slow[i].pts != frames[i].pts {
					t.Fatalf("one-byte reads: frame %d differs", i)
				}
			}
		})
	}
}

// TestIVFTruncated cuts a real file at many offsets: the reader must end with
// io.EOF exactly at frame boundaries and with io.ErrUnexpectedEOF elsewhere.
func TestIVFTruncated(t *testing.T) {
	data := testdata(t, "vp8.ivf")
	_, frames, _ := readIVF(t, bytes.NewReader(data))
	boundaries := map[int]int{32: 0} // offset -> frames before it
	off := 32
	for i, f := range frames {
		off += 12 + len(f.data)
		boundaries[off] = i + 1
	}
	var offsets []int
	for i := 0; i < 600; i++ {
		offsets = append(offsets, i)
	}
	for i := 600; i < len(data); i += 97 {
		offsets = append(offsets, i)
	}
	for b := range boundaries {
		offsets = append(offsets, b-1, b, b+1, b+11, b+12, b+13)
	}
	for _, n := range offsets {
		if n < 0 || n > len(data) {
			continue
		}
		_, got, err := readIVF(t, bytes.NewReader(data[:n]))
		want, clean := boundaries[n]
		switch {
		case n < 32:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
			}
		case clean:
			if err != io.EOF || len(got) != want {
				t.Fatalf("cut at %d: %d frames, %v; want %d frames, io.EOF", n, len(got), err, want)
			}
		default:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
			}
		}
	}
}

func TestIVFEdgeCases(t *testing.T) {
	t.Run("bad signature", func(t *testing.T) {
		b := ivfFile("VP80", []byte{1, 2, 3})
		copy(b, "RIFF")
		if _, _, err := NewIVFReader(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("short header size", func(t *testing.T) {
		b := ivfFile("VP80")
		b[6] = 16
		if _, _, err := NewIVFReader(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, _, err := NewIVFReader(bytes.NewReader(nil)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("long header skipped", func(t *testing.T) {
		b := ivfFile("AV01", []byte{0x12, 0x00}, []byte{0x0a, 0x0b, 0x00, 0x00, 0x00})
		b[6] = 40
		b = append(b[:32:32], append(make([]byte, 8), b[32:]...)...)
		_, frames, err := readIVF(t, bytes.NewReader(b))
		if err != io.EOF || len(frames) != 2 || frames[1].pts != 1 || !bytes.Equal(frames[1].data, []byte{0x0a, 0x0b, 0x00, 0x00, 0x00}) {
			t.Fatalf("got %v frames, %v", frames, err)
		}
	})
	t.Run("empty frame", func(t *testing.T) {
		_, frames, err := readIVF(t, bytes.NewReader(ivfFile("VP80", nil, []byte{9})))
		if err != io.EOF || len(frames) != 2 || len(frames[0].data) != 0 {
			t.Fatalf("got %v, %v", frames, err)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		b := ivfFile("VP80", []byte{1})
		b[32], b[33], b[34], b[35] = 0x01, 0x00, 0x00, 0x01 // 16 MiB + 1
		r, _, err := NewIVFReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("got %v", err)
		}
		// The error is sticky.
		if _, _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("second call: %v", err)
		}
	})
	t.Run("huge claim in short file", func(t *testing.T) {
		b := ivfFile("VP80", []byte{1})
		b[32], b[33], b[34], b[35] = 0x00, 0x00, 0xf0, 0x00 // 15 MiB, 1 byte present
		r, _, _ := NewIVFReader(bytes.NewReader(b))
		_, _, err := r.Next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
		if cap(r.buf) > 64<<10 {
			t.Fatalf("buffer grew to %d bytes for 1 byte of data", cap(r.buf))
		}
	})
	t.Run("reader error", func(t *testing.T) {
		boom := errors.New("boom")
		b := ivfFile("VP80", []byte{1, 2, 3})
		r, _, _ := NewIVFReader(io.MultiReader(bytes.NewReader(b[:40]), iotest.ErrReader(boom)))
		if _, _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestIVFNoAllocsPerFrame(t *testing.T) {
	data := testdata(t, "vp8.ivf")
	br := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(5, func() {
		br.Reset(data)
		r, _, err := NewIVFReader(br)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
		}
	})
	// The reader, its header and a few buffer growths, not one per frame.
	if allocs > 20 {
		t.Fatalf("%v allocations to read 240 frames", allocs)
	}
}
