package mediaparse

import (
	"bytes"
	"testing"
)

// The benchmarks read a whole test file per iteration; allocs/op is the
// total for the file (240 frames, 240 access units or 401 packets).

func BenchmarkIVFReader(b *testing.B) {
	data := testdata(b, "vp8.ivf")
	br := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(data)
		r, _, err := NewIVFReader(br)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func BenchmarkAnnexBReader(b *testing.B) {
	data := testdata(b, "h264.h264")
	br := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(data)
		r := NewAnnexBReader(br)
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func BenchmarkOggOpusReader(b *testing.B) {
	data := testdata(b, "opus.ogg")
	br := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(data)
		r, _, err := NewOggOpusReader(br)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
