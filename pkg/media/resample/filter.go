package resample

import (
	"math"
	"runtime"
	"sync"
	"weak"
)

// Filter design. Every figure here is relative to the lower of the two
// Nyquist frequencies (min(inRate, outRate)/2), called "the Nyquist" below.
const (
	// passEdge is where the passband ends and stopEdge where the stopband
	// starts. The cutoff of the windowed sinc lies midway between them.
	passEdge = 0.8
	stopEdge = 0.875

	// attenuation is the stopband attenuation the Kaiser window is designed
	// for, in dB. It is above the 60 dB the package promises, so that the
	// interpolated tables and float32 coefficients keep a margin.
	attenuation = 70

	// maxExactCoeffs bounds the size of a table with one row per output
	// phase (L rows). Ratios that would need more use a table of finer
	// fixed phases and interpolate between neighbouring rows.
	maxExactCoeffs = 1 << 16

	// interpPhases is the number of table rows per sample period of the
	// lower rate when coefficients are interpolated. The error of linear
	// interpolation then shows as images near multiples of that many times
	// the lower rate, attenuated by more than 100 dB.
	interpPhases = 256
)

// bank holds a polyphase filter: rows of taps coefficients, each row the
// windowed sinc sampled at one fractional offset. It is read-only once made
// and shared by every Resampler with the same reduced ratio.
type bank struct {
	l, m   int       // the reduced ratio outRate/inRate = l/m
	taps   int       // coefficients per row, a multiple of 4
	rows   int       // number of phases the table has (plus one row if interp)
	interp bool      // rows are a fixed grid of phases; interpolate between two
	coeffs []float32 // rows × taps, row r at [r*taps, (r+1)*taps)
}

// row returns the coefficients of table row r.
func (b *bank) row(r int) []float32 {
	return b.coeffs[r*b.taps : (r+1)*b.taps : (r+1)*b.taps]
}

// filterTaps is the length of the Kaiser-windowed sinc in samples of the
// lower rate, from Kaiser's estimate for the given attenuation and a
// transition band from passEdge to stopEdge.
func filterTaps() float64 {
	width := 2 * math.Pi * (stopEdge - passEdge) / 2 // radians per low-rate sample
	return (attenuation-8)/(2.285*width) + 1
}

// kaiserBeta is Kaiser's shape parameter for the given attenuation in dB.
func kaiserBeta(a float64) float64 {
	switch {
	case a > 50:
		return 0.1102 * (a - 8.7)
	case a >= 21:
		return 0.5842*math.Pow(a-21, 0.4) + 0.07886*(a-21)
	default:
		return 0
	}
}

// besselI0 is the modified Bessel function of the first kind, order zero,
// summed from its power series until the terms no longer matter.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// newBank designs the polyphase filter for the reduced ratio l/m (output
// samples per input sample).
//
// The prototype is h(t) = 2fc·sinc(2fc·t)·w(t) with t in input samples, fc
// the cutoff in cycles per input sample and w a Kaiser window over
// |t| ≤ taps/2. Row r of an exact table holds h at the offsets
// r/l + taps/2 - 1 - k for k = 0..taps-1: the weights of the input samples
// i-taps/2+1 .. i+taps/2 for an output at input time i + r/l. An
// interpolated table holds the offsets r/P instead, for P fixed phases per
// input sample, and one more row (r = P) so that any offset lies between
// two rows. Each row is scaled to sum to one, so a constant passes at
// exactly unit gain whatever the phase.
func newBank(l, m int) *bank {
	down := float64(m) / float64(l) // input samples per output sample
	if down < 1 {
		down = 1 // upsampling: the input rate is the lower one
	}
	// The cutoff in cycles per input sample: midway between the band
	// edges of the lower Nyquist, which is 1/(2·down) input-rate cycles.
	fc := (passEdge + stopEdge) / 2 / (2 * down)
	taps := int(math.Ceil(filterTaps() * down))
	taps = (taps + 3) &^ 3

	b := &bank{l: l, m: m, taps: taps}
	phases := l
	if l*taps > maxExactCoeffs {
		b.interp = true
		phases = int(math.Ceil(interpPhases / down))
		b.rows = phases + 1
	} else {
		b.rows = phases
	}
	b.coeffs = make([]float32, b.rows*taps)

	beta := kaiserBeta(attenuation)
	i0beta := besselI0(beta)
	half := float64(taps) / 2
	row := make([]float64, taps)
	for r := 0; r < b.rows; r++ {
		frac := float64(r) / float64(phases)
		sum := 0.0
		for k := range row {
			t := frac + half - 1 - float64(k)
			v := 0.0
			if x := t / half; x > -1 && x < 1 {
				v = 2 * fc * sinc(2*fc*t) * besselI0(beta*math.Sqrt(1-x*x)) / i0beta
			}
			row[k] = v
			sum += v
		}
		dst := b.coeffs[r*taps : (r+1)*taps]
		for k, v := range row {
			dst[k] = float32(v / sum)
		}
	}
	return b
}

// sinc is sin(πx)/(πx).
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// banks shares filter tables between Resamplers of the same ratio. It holds
// them weakly: a table lives as long as some Resampler uses it, and its
// entry goes when it is collected, so the map never grows beyond the ratios
// in use.
var banks struct {
	sync.Mutex
	m map[[2]int]weak.Pointer[bank]
}

// bankFor returns the shared table for the reduced ratio l/m, designing it
// on first use.
func bankFor(l, m int) *bank {
	key := [2]int{l, m}
	banks.Lock()
	defer banks.Unlock()
	if b := banks.m[key].Value(); b != nil {
		return b
	}
	b := newBank(l, m)
	if banks.m == nil {
		banks.m = make(map[[2]int]weak.Pointer[bank])
	}
	banks.m[key] = weak.Make(b)
	runtime.AddCleanup(b, forgetBank, key)
	return b
}

// forgetBank removes a collected table's entry, unless a new table for the
// same ratio has taken its place.
func forgetBank(key [2]int) {
	banks.Lock()
	defer banks.Unlock()
	if banks.m[key].Value() == nil {
		delete(banks.m, key)
	}
}

// dot is the inner product of x[:len(h)] and h, with four partial sums so
// that successive additions do not wait on each other. len(h) is a multiple
// of 4.
func dot(x, h []float32) float32 {
	x = x[:len(h)]
	var s0, s1, s2, s3 float32
	for len(h) >= 4 && len(x) >= 4 {
		s0 += x[0] * h[0]
		s1 += x[1] * h[1]
		s2 += x[2] * h[2]
		s3 += x[3] * h[3]
		x, h = x[4:], h[4:]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2 is dot(x, h0) and dot(x, h1) in one pass over x. len(h0) ==
// len(h1), a multiple of 4.
func dot2(x, h0, h1 []float32) (float32, float32) {
	x = x[:len(h0)]
	h1 = h1[:len(h0)]
	var a0, a1, b0, b1 float32
	for len(h0) >= 4 && len(h1) >= 4 && len(x) >= 4 {
		a0 += x[0]*h0[0] + x[2]*h0[2]
		a1 += x[1]*h0[1] + x[3]*h0[3]
		b0 += x[0]*h1[0] + x[2]*h1[2]
		b1 += x[1]*h1[1] + x[3]*h1[3]
		x, h0, h1 = x[4:], h0[4:], h1[4:]
	}
	return a0 + a1, b0 + b1
}
