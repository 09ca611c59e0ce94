package resample

import (
	"math"
	"testing"
)

// sine returns frames of a sine of amplitude amp at f Hz sampled at rate,
// rounded to int16.
func sine(rate int, f, amp float64, frames int) []int16 {
	x := make([]int16, frames)
	for i := range x {
		x[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))))
	}
	return x
}

// interleave makes a stereo stream from two channels of equal length.
func interleave(left, right []int16) []int16 {
	x := make([]int16, 0, 2*len(left))
	for i := range left {
		x = append(x, left[i], right[i])
	}
	return x
}

// channel returns channel c of an interleaved stream of n channels.
func channel(x []int16, c, n int) []int16 {
	y := make([]int16, 0, len(x)/n)
	for i := c; i < len(x); i += n {
		y = append(y, x[i])
	}
	return y
}

// rms is the root mean square of x.
func rms(x []int16) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

// settled drops the start of a resampler's output, where the filter still
// ramps up from the silence before the stream: the delay plus the filter's
// reach after it, and a margin.
func settled(t *testing.T, r *Resampler, out []int16) []int16 {
	t.Helper()
	skip := (2*r.Delay() + 16) * r.Channels()
	if len(out) <= skip {
		t.Fatalf("output of %d samples is shorter than the filter ramp of %d", len(out), skip)
	}
	return out[skip:]
}

// spectrum measures the components of a signal with a Hann window and the
// Goertzel recurrence.
type spectrum struct {
	x    []float64 // the windowed signal
	rate int
	gain float64 // sum of the window, to scale a bin to an amplitude
}

func newSpectrum(sig []int16, rate int) *spectrum {
	s := &spectrum{x: make([]float64, len(sig)), rate: rate}
	for i, v := range sig {
		s.x[i] = float64(v)
	}
	s.window()
	return s
}

// window applies the Hann window to s.x.
func (s *spectrum) window() {
	n := len(s.x)
	s.gain = 0
	for i := range s.x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		s.x[i] *= w
		s.gain += w
	}
}

// amplitude returns the amplitude of the component at f Hz.
func (s *spectrum) amplitude(f float64) float64 {
	w := 2 * math.Pi * f / float64(s.rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range s.x {
		s1, s2 = v+coeff*s1-s2, s1
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / s.gain
}

// peakFrequency returns the frequency of the strongest component of sig
// between 20 Hz and the Nyquist: a scan at the DFT's bin spacing, refined
// to 0.1 Hz. It looks at the middle 8192 samples at most, which keeps the
// scan cheap.
func peakFrequency(sig []int16, rate int) float64 {
	if n := len(sig); n > 8192 {
		sig = sig[(n-8192)/2 : (n+8192)/2]
	}
	s := newSpectrum(sig, rate)
	bin := float64(s.rate) / float64(len(s.x))
	best, bestAmp := 0.0, -1.0
	for f := 20.0; f < float64(s.rate)/2; f += bin {
		if a := s.amplitude(f); a > bestAmp {
			best, bestAmp = f, a
		}
	}
	centre := best
	for f := centre - bin; f <= centre+bin; f += 0.1 {
		if a := s.amplitude(f); a > bestAmp {
			best, bestAmp = f, a
		}
	}
	return best
}

// resampleAll runs a whole stream through a new Resampler in one call and
// flushes it.
func resampleAll(t *testing.T, in, out, channels int, src []int16) (*Resampler, []int16) {
	t.Helper()
	r, err := New(in, out, channels)
	if err != nil {
		t.Fatal(err)
	}
	y := r.Process(nil, src)
	return r, r.Flush(y)
}
