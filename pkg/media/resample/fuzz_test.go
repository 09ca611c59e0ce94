package resample

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// fuzzRates are the rates the fuzz target picks from: the usual ones and
// one whose ratios take interpolated coefficients.
var fuzzRates = []int{8000, 11025, 16000, 22050, 24000, 32000, 44100, 47999, 48000}

// FuzzResampler feeds random samples in random pieces through a Resampler
// of random rates and channels. The input is: the input rate's index, the
// output rate's index, the channel count (low bit), a seed for the piece
// sizes, then samples as little-endian int16. Nothing may panic; every
// Process appends exactly OutputLen samples; Flush appends at most
// (Delay()+1)·Channels(); the stream's total is Delay() plus its duration
// at the output rate; and the pieces give the same samples as one call.
// The seed corpus is in testdata/fuzz/FuzzResampler.
func FuzzResampler(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		in := fuzzRates[int(data[0])%len(fuzzRates)]
		out := fuzzRates[int(data[1])%len(fuzzRates)]
		channels := 1 + int(data[2]&1)
		rng := rand.New(rand.NewPCG(uint64(data[3]), uint64(len(data))))
		data = data[4:]
		src := make([]int16, len(data)/2)
		for i := range src {
			src[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}

		r, err := New(in, out, channels)
		if err != nil {
			t.Fatal(err)
		}
		whole := r.Flush(r.Process(nil, src))

		var got []int16
		for rest := src; len(rest) > 0; {
			n := min(rng.IntN(600), len(rest))
			before, want := len(got), r.OutputLen(n)
			got = r.Process(got, rest[:n])
			if len(got)-before != want {
				t.Fatalf("%d → %d × %d: Process of %d samples appended %d, OutputLen said %d", in, out, channels, n, len(got)-before, want)
			}
			rest = rest[n:]
		}
		before := len(got)
		got = r.Flush(got)
		if bound := (r.Delay() + 1) * channels; len(got)-before > bound {
			t.Fatalf("%d → %d × %d: Flush appended %d samples, bound %d", in, out, channels, len(got)-before, bound)
		}
		if !slices.Equal(got, whole) {
			t.Fatalf("%d → %d × %d: pieces give different samples than one call, from %d", in, out, channels, firstDiff(got, whole))
		}
		want := len(src) // a copy
		if in != out {
			// Delay plus the duration at the output rate, rounded
			// up; nothing for a stream without a whole frame.
			frames := len(src) / channels
			want = 0
			if frames > 0 {
				want = (r.Delay() + (frames*out+in-1)/in) * channels
			}
		}
		if len(whole) != want {
			t.Fatalf("%d → %d × %d: %d input samples gave %d output samples, want %d", in, out, channels, len(src), len(whole), want)
		}
	})
}
