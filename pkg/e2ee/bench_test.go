package e2ee

import (
	"bytes"
	"testing"
)

// BenchmarkEncryptFrame and BenchmarkDecryptFrame: the cost of the frame
// cryptors per frame, for a 20 ms Opus frame and video frames of a
// 1 Mbit/s, 30 fps stream (about 4 kB).
func BenchmarkEncryptFrame(b *testing.B) {
	for _, c := range benchFrames() {
		b.Run(c.name, func(b *testing.B) {
			kp := provider(b, "bench")
			e, _ := NewFrameEncryptor(kp, "", c.codec)
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.EncryptFrame(c.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecryptFrame(b *testing.B) {
	for _, c := range benchFrames() {
		b.Run(c.name, func(b *testing.B) {
			kp := provider(b, "bench")
			e, _ := NewFrameEncryptor(kp, "", c.codec)
			d, _ := NewFrameDecryptor(kp, "", c.codec, nil)
			enc, err := e.EncryptFrame(c.frame)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.DecryptFrame(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchFrame struct {
	name  string
	codec Codec
	frame []byte
}

func benchFrames() []benchFrame {
	body := func(n int) []byte { return bytes.Repeat([]byte{0x5a, 0x00, 0xa5, 0x13}, n/4) }
	return []benchFrame{
		{"opus-100B", CodecOpus, append([]byte{0xfc}, body(100)...)},
		{"vp8-4kB", CodecVP8, append([]byte{0x31, 0, 0}, body(4096)...)},
		{"h264-4kB", CodecH264, append([]byte{0, 0, 0, 1, 0x41, 0x9a}, body(4096)...)},
		// An x264 IDR slice, whose parameter set id lies past the clear
		// header: IVs are tried until it reads as in the clear frame.
		{"h264-idr-4kB", CodecH264, append([]byte{0, 0, 0, 1, 0x65, 0x88, 0x84}, body(4096)...)},
	}
}
