package resample

import (
	"fmt"
	"math"
	"testing"
)

const amp = 16000 // test tones' amplitude, about -6 dBFS

// A 1 kHz tone keeps its frequency and level through every common
// conversion, including ratios with large terms (160/441, 320/147) and one
// that takes interpolated coefficients (11025 → 16000 is 640/441).
func TestToneFrequencyAndLevel(t *testing.T) {
	pairs := [][2]int{
		{24000, 48000}, {48000, 16000}, {44100, 16000}, {22050, 48000},
		{16000, 48000}, {8000, 48000}, {48000, 44100}, {44100, 48000},
		{16000, 24000}, {11025, 16000}, {48000, 8000},
	}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(t *testing.T) {
			in := sine(p[0], 1000, amp, p[0]/2)
			r, out := resampleAll(t, p[0], p[1], 1, in)
			// Analyse the settled part, before the tail where the
			// input ends.
			out = settled(t, r, out)
			out = out[:len(out)-2*r.Delay()]
			got := peakFrequency(out, p[1])
			if math.Abs(got-1000) > 5 {
				t.Errorf("dominant frequency %.1f Hz, want 1000 ± 5", got)
			}
			gain := db(rms(out) / rms(in))
			if math.Abs(gain) > 0.5 {
				t.Errorf("level changed by %.3f dB, want within 0.5", gain)
			}
			t.Logf("peak %.1f Hz, level %+.4f dB, interpolated coefficients %v", got, gain, r.bank.interp)
		})
	}
}

// Downsampling 48 kHz to 16 kHz removes what the output cannot carry: a
// 7 kHz tone (at the stopband edge) and a 10 kHz tone (above the output's
// Nyquist, which would alias to 6 kHz).
func TestStopband48to16(t *testing.T) {
	level := func(f float64) ([]int16, float64) {
		_, out := resampleAll(t, 48000, 16000, 1, sine(48000, f, amp, 24000))
		r, _ := New(48000, 16000, 1)
		out = settled(t, r, out)
		out = out[:len(out)-2*r.Delay()]
		return out, rms(out)
	}
	_, ref := level(1000)
	_, l7 := level(7000)
	if a := db(ref / l7); a < 40 {
		t.Errorf("7 kHz attenuated by %.1f dB relative to 1 kHz, want ≥ 40", a)
	} else {
		t.Logf("7 kHz: %.1f dB below 1 kHz", a)
	}
	out10, l10 := level(10000)
	if l10 == 0 {
		t.Logf("10 kHz: output is silent")
		return
	}
	if a := db(ref / l10); a < 50 {
		t.Errorf("10 kHz attenuated by %.1f dB relative to 1 kHz, want ≥ 50", a)
	} else {
		t.Logf("10 kHz: %.1f dB below 1 kHz", a)
	}
	alias := newSpectrum(out10, 16000).amplitude(6000)
	if a := db(amp / alias); a < 50 {
		t.Errorf("10 kHz tone aliases to 6 kHz at -%.1f dB, want below -50 dB", a)
	}
}

// The response the package documents: flat within 0.05 dB up to 0.8 of the
// lower Nyquist, at least 65 dB down from 0.875 of it, both for input
// above the output's band (downsampling) and for images of the input
// (upsampling), with exact and with interpolated coefficients.
func TestFrequencyResponse(t *testing.T) {
	pairs := [][2]int{{48000, 16000}, {44100, 16000}, {16000, 48000}, {22050, 48000}, {11025, 16000}, {47999, 8000}}
	passband := []float64{0.05, 0.2, 0.4, 0.6, 0.7, 0.75, 0.8}
	// Densest near the edge, where the first sidelobe peaks.
	stopband := []float64{0.875, 0.8775, 0.88, 0.8825, 0.885, 0.89, 0.9, 0.95, 1, 1.1, 1.3, 1.7, 2.3, 2.9}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(t *testing.T) {
			in, outRate := p[0], p[1]
			nyq := float64(min(in, outRate)) / 2
			frames := in / 8
			// measure returns the settled output for a tone at f.
			measure := func(f float64) []int16 {
				x := sine(in, f, amp, frames)
				r, y := resampleAll(t, in, outRate, 1, x)
				y = settled(t, r, y)
				return y[:len(y)-2*r.Delay()]
			}
			worstPass, worstStop, worstImage := 0.0, -200.0, -200.0
			for _, rel := range passband {
				f := rel * nyq
				// The tone's own amplitude: an RMS over a window
				// of a few cycles would be less exact.
				y := measure(f)
				s := newSpectrum(y, outRate)
				worstPass = math.Max(worstPass, math.Abs(db(s.amplitude(f)/amp)))
				if outRate > in {
					// Images of the tone around multiples of the
					// input rate.
					for k := 1; float64(k*in)-f < float64(outRate)/2; k++ {
						for _, img := range []float64{float64(k*in) - f, float64(k*in) + f} {
							if img < float64(outRate)/2 {
								worstImage = math.Max(worstImage, db(s.amplitude(img)/amp))
							}
						}
					}
				}
			}
			for _, rel := range stopband {
				f := rel * nyq
				if f >= float64(in)/2 {
					continue
				}
				// Everything that comes out, aliases included.
				if g := rms(measure(f)) / (amp / math.Sqrt2); g > 0 {
					worstStop = math.Max(worstStop, db(g))
				}
			}
			if worstPass > 0.05 {
				t.Errorf("passband deviates by %.3f dB, want ≤ 0.05", worstPass)
			}
			// 70 dB by design; 65 leaves room for where a sidelobe
			// peaks between the tones tried.
			if worstStop > -65 {
				t.Errorf("stopband at %.1f dB, want ≤ -65", worstStop)
			}
			if worstImage > -65 {
				t.Errorf("images at %.1f dB, want ≤ -65", worstImage)
			}
			t.Logf("passband within ±%.3f dB, stopband ≤ %.1f dB", worstPass, worstStop)
			if outRate > in {
				t.Logf("images ≤ %.1f dB", worstImage)
			}
		})
	}
}

// Stereo channels are filtered separately: a different tone in each comes
// out without the other's (below -60 dB), and a silent channel stays
// exactly silent beside a loud one.
func TestStereoSeparation(t *testing.T) {
	for _, p := range [][2]int{{48000, 16000}, {16000, 48000}, {44100, 48000}, {11025, 16000}} {
		t.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(t *testing.T) {
			frames := p[0] / 4
			left, right := sine(p[0], 1000, amp, frames), sine(p[0], 3000, amp, frames)
			r, out := resampleAll(t, p[0], p[1], 2, interleave(left, right))
			out = settled(t, r, out)
			out = out[:len(out)-4*r.Delay()]
			l := newSpectrum(channel(out, 0, 2), p[1])
			rr := newSpectrum(channel(out, 1, 2), p[1])
			for _, c := range []struct {
				name       string
				s          *spectrum
				own, other float64
			}{{"left", l, 1000, 3000}, {"right", rr, 3000, 1000}} {
				ownAmp, leak := c.s.amplitude(c.own), c.s.amplitude(c.other)
				if x := db(leak / ownAmp); x > -60 {
					t.Errorf("%s channel: the other channel's %.0f Hz at %.1f dB", c.name, c.other, x)
				}
				if g := db(ownAmp / amp); math.Abs(g) > 0.05 {
					t.Errorf("%s channel: its own tone at %.2f dB", c.name, g)
				}
			}

			silent := make([]int16, frames)
			_, out = resampleAll(t, p[0], p[1], 2, interleave(left, silent))
			for i := 1; i < len(out); i += 2 {
				if out[i] != 0 {
					t.Fatalf("silent right channel has %d at frame %d", out[i], i/2)
				}
			}
		})
	}
}

// Output frame Delay()+k is the input's value at time k/OutRate: a sine
// comes out on the same time axis it went in on.
func TestDelayAligns(t *testing.T) {
	for _, p := range [][2]int{{48000, 16000}, {16000, 48000}, {44100, 16000}, {22050, 48000}, {11025, 16000}, {8000, 47999}} {
		t.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(t *testing.T) {
			const f = 440.0
			in := sine(p[0], f, amp, p[0]/4)
			r, out := resampleAll(t, p[0], p[1], 1, in)
			d := r.Delay()
			worst := 0.0
			for k := 2 * d; k < len(out)-2*d; k++ {
				want := amp * math.Sin(2*math.Pi*f*float64(k-d)/float64(p[1]))
				worst = math.Max(worst, math.Abs(float64(out[k])-want))
			}
			// A misalignment of one output sample would give errors
			// of amp·2π·f/rate, at least 550 here.
			if worst > 4 {
				t.Errorf("output deviates from the delayed input by up to %.1f", worst)
			}
			t.Logf("deviation from the delayed input ≤ %.2f", worst)
		})
	}
}

// A constant passes at exactly unit gain, and full-scale input saturates
// instead of wrapping around.
func TestConstantAndSaturation(t *testing.T) {
	for _, p := range [][2]int{{48000, 16000}, {16000, 48000}, {44100, 16000}, {11025, 16000}} {
		for _, level := range []int16{12345, -20000, math.MaxInt16, math.MinInt16} {
			in := make([]int16, p[0]/10)
			for i := range in {
				in[i] = level
			}
			r, out := resampleAll(t, p[0], p[1], 1, in)
			d := r.Delay()
			for k := 2 * d; k < len(out)-2*d; k++ {
				if out[k] != level {
					t.Fatalf("%d → %d: constant %d came out as %d at %d", p[0], p[1], level, out[k], k)
				}
			}
		}
		// A full-scale square wave overshoots at its edges (Gibbs);
		// the overshoot must clip at the rails, not wrap to the other
		// sign.
		in := make([]int16, p[0]/10)
		for i := range in {
			in[i] = math.MaxInt16
			if (i/50)%2 == 1 {
				in[i] = math.MinInt16
			}
		}
		r, out := resampleAll(t, p[0], p[1], 1, in)
		clipped := 0
		for k := 2 * r.Delay(); k < len(out)-2*r.Delay(); k++ {
			prev, cur := out[k-1], out[k]
			if (prev > 30000 && cur < -30000) || (prev < -30000 && cur > 30000) {
				t.Fatalf("%d → %d: jump from %d to %d at %d: wrapped around", p[0], p[1], prev, cur, k)
			}
			if cur == math.MaxInt16 || cur == math.MinInt16 {
				clipped++
			}
		}
		if clipped == 0 {
			t.Errorf("%d → %d: a full-scale square wave never reached the rails", p[0], p[1])
		}
	}
}
