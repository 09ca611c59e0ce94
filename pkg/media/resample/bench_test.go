package resample

import (
	"math/rand/v2"
	"testing"
)

// benchmarkResample feeds 20 ms frames (the usual WebRTC audio frame) of
// noise through a Resampler and reports the cost per second of audio
// processed, besides the usual per-frame figures.
func benchmarkResample(b *testing.B, in, out, channels int) {
	r, err := New(in, out, channels)
	if err != nil {
		b.Fatal(err)
	}
	frame := noise(rand.New(rand.NewPCG(1, 1)), in/50*channels)
	dst := make([]int16, 0, r.OutputLen(len(frame))+channels)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = r.Process(dst[:0], frame)
	}
	// Each frame is 20 ms: 50 per second of audio.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*50, "ns/audio-s")
}

func BenchmarkResample48to16Mono(b *testing.B)       { benchmarkResample(b, 48000, 16000, 1) }
func BenchmarkResample24to48Mono(b *testing.B)       { benchmarkResample(b, 24000, 48000, 1) }
func BenchmarkResample44100to16000Mono(b *testing.B) { benchmarkResample(b, 44100, 16000, 1) }
func BenchmarkResample48to48Stereo(b *testing.B)     { benchmarkResample(b, 48000, 48000, 2) }

// Beyond the four above: upsampling text-to-speech output, stereo
// filtering, and a ratio with interpolated coefficients.
func BenchmarkResample22050to48000Mono(b *testing.B) { benchmarkResample(b, 22050, 48000, 1) }
func BenchmarkResample16to48Mono(b *testing.B)       { benchmarkResample(b, 16000, 48000, 1) }
func BenchmarkResample48to16Stereo(b *testing.B)     { benchmarkResample(b, 48000, 16000, 2) }
func BenchmarkResample11025to48000Mono(b *testing.B) { benchmarkResample(b, 11025, 48000, 1) }
