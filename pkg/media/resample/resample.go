package resample

import (
	"errors"
	"fmt"
	"math"
)

// The range of sample rates New accepts, in Hz.
const (
	MinRate = 8000
	MaxRate = 48000
)

// Errors New returns, wrapped with the offending value; match them with
// errors.Is.
var (
	// ErrInvalidRate is returned for a sample rate outside MinRate..MaxRate.
	ErrInvalidRate = errors.New("resample: sample rate out of range")
	// ErrInvalidChannels is returned for a channel count other than 1 or 2.
	ErrInvalidChannels = errors.New("resample: channel count must be 1 or 2")
)

// blockFrames is how many input frames Process takes into its history at a
// time, which bounds the history buffers however long src is.
const blockFrames = 1024

// Resampler converts a stream of interleaved signed 16-bit PCM from one
// sample rate to another. It keeps the stream's recent input between calls,
// so a stream may be fed in pieces of any size. Make one with New. A
// Resampler is not safe for concurrent use; use one per stream.
type Resampler struct {
	inRate, outRate, channels int

	bank *bank // nil when the rates are equal (a plain copy)
	l, m int   // output/input = l/m, reduced
	half int   // bank.taps / 2: the filter's reach either side, input frames

	// step is m/l in whole input frames and the remainder in 1/l.
	stepInt, stepFrac int

	delay int // output frames before the first one aligned with input 0

	// The next output frame is at input time pos + phase/l (in input
	// frames since the stream began; negative at the start).
	pos   int64
	phase int

	// have is the number of input frames received (plus zeros of a flush).
	have int64
	// hist[c] holds channel c's input frames from absolute index base to
	// have-1; frames before 0 are the silence before the stream.
	hist [2][]float32
	base int64

	// A sample of an incomplete stereo frame, kept until its partner comes.
	partial    int16
	hasPartial bool

	invL float32 // 1/l, for the interpolation weight
}

// New returns a Resampler from inRate to outRate Hz (each MinRate to
// MaxRate) for 1 (mono) or 2 (stereo, interleaved left, right) channels.
// Equal rates give a Resampler that copies its input unchanged.
func New(inRate, outRate, channels int) (*Resampler, error) {
	for _, rate := range []int{inRate, outRate} {
		if rate < MinRate || rate > MaxRate {
			return nil, fmt.Errorf("%w: %d Hz (allowed %d to %d)", ErrInvalidRate, rate, MinRate, MaxRate)
		}
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidChannels, channels)
	}
	r := &Resampler{inRate: inRate, outRate: outRate, channels: channels}
	if inRate == outRate {
		return r, nil
	}
	g := gcd(inRate, outRate)
	r.l, r.m = outRate/g, inRate/g
	r.bank = bankFor(r.l, r.m)
	r.half = r.bank.taps / 2
	r.stepInt, r.stepFrac = r.m/r.l, r.m%r.l
	r.invL = 1 / float32(r.l)
	// The filter reaches half its length ahead of an output's input time.
	// Starting the output that many input frames (in whole output frames,
	// rounded down) before the input keeps the output in step with the
	// input: after n input frames, about n·l/m output frames are ready.
	r.delay = r.half * r.l / r.m
	for c := range channels {
		r.hist[c] = make([]float32, 0, r.bank.taps+blockFrames)
	}
	r.Reset()
	return r, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// InRate returns the input sample rate in Hz.
func (r *Resampler) InRate() int { return r.inRate }

// OutRate returns the output sample rate in Hz.
func (r *Resampler) OutRate() int { return r.outRate }

// Channels returns the number of interleaved channels.
func (r *Resampler) Channels() int { return r.channels }

// Delay returns the filter's group delay in output frames (samples per
// channel): output frame Delay()+k is aligned with the input at time
// k/OutRate. Drop that many frames from the start of the output to align it
// with the input. It is 0 when the rates are equal.
func (r *Resampler) Delay() int { return r.delay }

// Reset forgets the stream: the next Process starts a new one, as from New.
func (r *Resampler) Reset() {
	r.hasPartial = false
	if r.bank == nil {
		return
	}
	r.have = 0
	// Output frame k is at input time (k-delay)·m/l.
	t := -int64(r.delay) * int64(r.m)
	r.pos = floorDiv(t, int64(r.l))
	r.phase = int(t - r.pos*int64(r.l))
	// Silence from the first frame the first output reads.
	r.base = min(r.pos-int64(r.half)+1, 0)
	for c := range r.channels {
		h := r.hist[c][:-r.base]
		clear(h)
		r.hist[c] = h
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// OutputLen returns the number of samples Process appends to dst for n more
// input samples, given what the Resampler holds now. It is exact (and
// saturates at math.MaxInt for absurd n, instead of overflowing). Flush
// appends at most (Delay()+1)·Channels() samples.
func (r *Resampler) OutputLen(n int) int {
	if n < 0 {
		n = 0
	}
	if r.bank == nil {
		return n
	}
	if r.hasPartial {
		n++
	}
	frames := int64(n / r.channels)
	// Outputs at offsets c = 0, 1, ... from the next are ready while
	// pos + (c·m + phase)/l + half < have + frames, that is while
	// c·m < (have + frames - half - pos)·l - phase.
	// Split frames so that the products cannot overflow for any int.
	q, rem := frames/int64(r.m), frames%int64(r.m)
	lim := (r.have+rem-int64(r.half)-r.pos)*int64(r.l) - int64(r.phase)
	count := q * int64(r.l)
	if lim > 0 {
		count += (lim + int64(r.m) - 1) / int64(r.m)
	}
	if count < 0 || count > math.MaxInt/int64(r.channels) {
		return math.MaxInt
	}
	return int(count) * r.channels
}

// Process resamples src (interleaved samples, any length) and appends the
// output to dst, returning the extended slice. It appends every output
// frame whose input has arrived, exactly OutputLen(len(src)) samples: after
// n input frames in all, the stream has had n·OutRate/InRate output frames
// to within one. It allocates only if dst lacks capacity. Feeding a stream
// in pieces gives the same samples as feeding it at once. A stereo sample
// left over from an odd-length src is kept for the next call.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.bank == nil {
		return append(dst, src...)
	}
	dst = r.grow(dst, r.OutputLen(len(src)))
	if r.channels == 2 && r.hasPartial && len(src) > 0 {
		r.push2(r.partial, src[0])
		r.hasPartial = false
		src = src[1:]
		dst = r.emit(dst, math.MaxInt64)
	}
	for len(src) >= r.channels {
		free := cap(r.hist[0]) - len(r.hist[0])
		n := min(len(src)/r.channels, free)
		if r.channels == 1 {
			h := r.hist[0]
			for _, s := range src[:n] {
				h = append(h, float32(s))
			}
			r.hist[0] = h
		} else {
			l, rr := r.hist[0], r.hist[1]
			for i := 0; i < n; i++ {
				l = append(l, float32(src[2*i]))
				rr = append(rr, float32(src[2*i+1]))
			}
			r.hist[0], r.hist[1] = l, rr
		}
		r.have += int64(n)
		src = src[n*r.channels:]
		dst = r.emit(dst, math.MaxInt64)
	}
	if len(src) == 1 && r.channels == 2 {
		r.partial, r.hasPartial = src[0], true
	}
	return dst
}

// push2 appends one stereo frame to the history.
func (r *Resampler) push2(left, right int16) {
	r.hist[0] = append(r.hist[0], float32(left))
	r.hist[1] = append(r.hist[1], float32(right))
	r.have++
}

// Flush appends the output the filter still holds for the input so far (at
// most Delay()+1 frames: the outputs up to the time of the last input
// frame, computed with silence after it) and resets the Resampler for a
// new stream. A stream's output is thus Delay() frames plus its input's
// duration at the output rate, rounded up; a stream without input gives
// none. An incomplete stereo frame is dropped.
func (r *Resampler) Flush(dst []int16) []int16 {
	if r.bank == nil || r.have == 0 {
		r.Reset()
		return dst
	}
	end := r.have
	dst = r.grow(dst, (r.delay+1)*r.channels)
	for pad := r.half; pad > 0; {
		n := min(pad, cap(r.hist[0])-len(r.hist[0]))
		for c := range r.channels {
			h := r.hist[c]
			h = h[:len(h)+n]
			clear(h[len(h)-n:])
			r.hist[c] = h
		}
		r.have += int64(n)
		pad -= n
		dst = r.emit(dst, end)
	}
	r.Reset()
	return dst
}

// grow makes room in dst for n more samples, so that one call allocates at
// most once.
func (r *Resampler) grow(dst []int16, n int) []int16 {
	if cap(dst)-len(dst) < n {
		nd := make([]int16, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	return dst
}

// emit appends every output frame that is at an input time before end and
// whose input has arrived, then drops the history no output will need.
func (r *Resampler) emit(dst []int16, end int64) []int16 {
	b := r.bank
	for r.pos+int64(r.half) < r.have && r.pos < end {
		start := int(r.pos - int64(r.half) + 1 - r.base)
		if b.interp {
			u := r.phase * (b.rows - 1)
			row := u / r.l
			w := float32(u%r.l) * r.invL
			h0, h1 := b.row(row), b.row(row+1)
			for c := range r.channels {
				y0, y1 := dot2(r.hist[c][start:], h0, h1)
				dst = append(dst, toInt16(y0+w*(y1-y0)))
			}
		} else {
			h := b.row(r.phase)
			for c := range r.channels {
				dst = append(dst, toInt16(dot(r.hist[c][start:], h)))
			}
		}
		r.pos += int64(r.stepInt)
		r.phase += r.stepFrac
		if r.phase >= r.l {
			r.phase -= r.l
			r.pos++
		}
	}
	// The next output reads from pos-half+1 on.
	if drop := int(r.pos - int64(r.half) + 1 - r.base); drop > 0 {
		drop = min(drop, len(r.hist[0]))
		for c := range r.channels {
			h := r.hist[c]
			n := copy(h, h[drop:])
			r.hist[c] = h[:n]
		}
		r.base += int64(drop)
	}
	return dst
}

// toInt16 rounds v to the nearest integer, halves away from zero, and
// saturates it to the int16 range.
func toInt16(v float32) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v >= 0:
		return int16(v + 0.5)
	default:
		return int16(v - 0.5)
	}
}
