package wav

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader reads arbitrary input as a WAV file: it must never panic, read
// only whole frames, and end with an error after a bounded number of reads.
func FuzzReader(f *testing.F) {
	f.Add(fileOf(formatPCM, 2, 16000, 16, false, make([]byte, 64)))
	f.Add(fileOf(formatPCM, 1, 8000, 24, true, make([]byte, 30), append([]byte("LIST"), "INFOx"...)))
	f.Add(fileOf(formatFloat, 1, 48000, 32, false, []byte{0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf}))
	f.Add(fileOf(formatPCM, 3, 44100, 8, false, []byte{1, 2, 3, 4, 5}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if r.Channels() < 1 || r.Channels() > MaxChannels || r.SampleRate() < 1 {
			t.Fatalf("accepted %d channels at %d Hz", r.Channels(), r.SampleRate())
		}
		buf := make([]int16, 7*r.Channels())
		for reads := 0; ; reads++ {
			if reads > len(data)+2 {
				t.Fatalf("%d reads of a %d-byte input have not ended", reads, len(data))
			}
			n, err := r.Read(buf)
			if n%r.Channels() != 0 || n > len(buf) {
				t.Fatalf("read %d samples of %d channels into %d", n, r.Channels(), len(buf))
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
		}
	})
}
