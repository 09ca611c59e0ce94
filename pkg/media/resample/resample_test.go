package resample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestNewRejectsBadArguments(t *testing.T) {
	cases := []struct {
		in, out, channels int
		want              error
	}{
		{7999, 16000, 1, ErrInvalidRate},
		{16000, 48001, 1, ErrInvalidRate},
		{0, 16000, 1, ErrInvalidRate},
		{-48000, 16000, 1, ErrInvalidRate},
		{48000, 96000, 2, ErrInvalidRate},
		{48000, 16000, 0, ErrInvalidChannels},
		{48000, 16000, 3, ErrInvalidChannels},
		{48000, 48000, -1, ErrInvalidChannels},
	}
	for _, c := range cases {
		r, err := New(c.in, c.out, c.channels)
		if !errors.Is(err, c.want) || r != nil {
			t.Errorf("New(%d, %d, %d) = %v, %v; want nil, %v", c.in, c.out, c.channels, r, err, c.want)
		}
	}
	for _, rates := range [][2]int{{MinRate, MaxRate}, {MaxRate, MinRate}, {44100, 44100}} {
		for ch := 1; ch <= 2; ch++ {
			if _, err := New(rates[0], rates[1], ch); err != nil {
				t.Errorf("New(%d, %d, %d): %v", rates[0], rates[1], ch, err)
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	r, err := New(44100, 16000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.InRate() != 44100 || r.OutRate() != 16000 || r.Channels() != 2 {
		t.Errorf("got %d → %d Hz, %d channels", r.InRate(), r.OutRate(), r.Channels())
	}
	if r.Delay() <= 0 {
		t.Errorf("Delay() = %d, want > 0", r.Delay())
	}
}

// noise returns n samples of uniform noise over most of the int16 range.
func noise(rng *rand.Rand, n int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(rng.IntN(60001) - 30000)
	}
	return x
}

// A stream fed in random pieces (of 1 to 1000 samples, for stereo also
// splitting frames) gives exactly the samples of one call, and every call
// appends exactly what OutputLen said it would.
func TestChunkedMatchesWhole(t *testing.T) {
	pairs := [][3]int{
		{48000, 16000, 1}, {16000, 48000, 1}, {44100, 16000, 1}, {22050, 48000, 1},
		{44100, 48000, 2}, {48000, 8000, 2}, {11025, 16000, 1}, {11025, 48000, 2},
		{47999, 8000, 1}, {8000, 8001, 2}, {24000, 24000, 2},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%dto%dx%d", p[0], p[1], p[2]), func(t *testing.T) {
			src := noise(rng, p[0]*p[2]/4)
			_, whole := resampleAll(t, p[0], p[1], p[2], src)

			r, err := New(p[0], p[1], p[2])
			if err != nil {
				t.Fatal(err)
			}
			// Empty input is a valid piece too, at the start and later.
			got := r.Process(nil, nil)
			if len(got) != 0 {
				t.Fatalf("Process of nothing appended %d samples", len(got))
			}
			for rest := src; len(rest) > 0; {
				if rng.IntN(50) == 0 {
					if n := len(r.Process(got, nil)) - len(got); n != 0 {
						t.Fatalf("Process of nothing appended %d samples", n)
					}
				}
				n := min(1+rng.IntN(1000), len(rest))
				before, want := len(got), r.OutputLen(n)
				got = r.Process(got, rest[:n])
				if len(got)-before != want {
					t.Fatalf("Process of %d samples appended %d, OutputLen said %d", n, len(got)-before, want)
				}
				rest = rest[n:]
			}
			before := len(got)
			got = r.Flush(got)
			if max := (r.Delay() + 1) * r.Channels(); len(got)-before > max {
				t.Errorf("Flush appended %d samples, more than %d", len(got)-before, max)
			}
			if !slices.Equal(got, whole) {
				t.Fatalf("chunked output (%d samples) differs from one call (%d samples) at %d", len(got), len(whole), firstDiff(got, whole))
			}
		})
	}
}

func firstDiff(a, b []int16) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Over a long stream fed in 10 ms pieces, Process has always emitted the
// input's duration at the output rate to within a sample, and Flush brings the
// total to exactly Delay() plus that duration rounded up.
func TestOutputLength(t *testing.T) {
	for _, p := range [][2]int{{44100, 16000}, {22050, 48000}, {48000, 16000}, {16000, 48000}, {11025, 16000}, {8000, 47999}} {
		t.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(t *testing.T) {
			r, err := New(p[0], p[1], 1)
			if err != nil {
				t.Fatal(err)
			}
			const seconds = 3
			chunk := make([]int16, p[0]/100) // 10 ms; not whole for 11025 or 22050
			var out []int16
			in, total := 0, 0
			for in+len(chunk) <= seconds*p[0] {
				out = r.Process(out[:0], chunk)
				in += len(chunk)
				total += len(out)
				ideal := float64(in) * float64(p[1]) / float64(p[0])
				if math.Abs(float64(total)-ideal) >= 1 {
					t.Fatalf("after %d input samples: %d output samples, want %.2f ± 1", in, total, ideal)
				}
			}
			total += len(r.Flush(out[:0]))
			want := r.Delay() + int(math.Ceil(float64(in)*float64(p[1])/float64(p[0])))
			if total != want {
				t.Errorf("after Flush: %d output samples in all, want %d (Delay %d + the input's duration)", total, want, r.Delay())
			}
		})
	}
}

// Equal rates copy the input exactly, with no delay and nothing held back.
func TestEqualRatesPassThrough(t *testing.T) {
	for _, ch := range []int{1, 2} {
		r, err := New(24000, 24000, ch)
		if err != nil {
			t.Fatal(err)
		}
		src := noise(rand.New(rand.NewPCG(3, 4)), 1001)
		if r.Delay() != 0 || r.OutputLen(len(src)) != len(src) {
			t.Errorf("Delay %d, OutputLen(%d) %d", r.Delay(), len(src), r.OutputLen(len(src)))
		}
		out := r.Process(nil, src[:500])
		out = r.Process(out, src[500:])
		out = r.Flush(out)
		if !slices.Equal(out, src) {
			t.Errorf("%d channels: output differs from input at %d", ch, firstDiff(out, src))
		}
	}
}

// Process appends without allocating once dst has room, whatever the
// length of src.
func TestProcessDoesNotAllocate(t *testing.T) {
	for _, p := range [][3]int{{48000, 16000, 1}, {24000, 48000, 1}, {44100, 16000, 2}, {11025, 48000, 2}, {48000, 48000, 2}} {
		r, err := New(p[0], p[1], p[2])
		if err != nil {
			t.Fatal(err)
		}
		src := noise(rand.New(rand.NewPCG(5, 6)), 5000*p[2]+1)
		dst := make([]int16, 0, r.OutputLen(len(src))+(r.Delay()+1)*p[2])
		allocs := testing.AllocsPerRun(20, func() {
			dst = r.Process(dst[:0], src)
			dst = r.Flush(dst)
		})
		if allocs != 0 {
			t.Errorf("%d → %d × %d: %.1f allocations per Process and Flush", p[0], p[1], p[2], allocs)
		}
	}
}

// Flushing a stream that had no input gives nothing, however often.
func TestFlushEmpty(t *testing.T) {
	r, err := New(16000, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if out := r.Flush(nil); len(out) != 0 {
			t.Fatalf("Flush of an empty stream appended %d samples", len(out))
		}
	}
	r.Process(nil, []int16{1}) // half a frame: still no input
	if out := r.Flush(nil); len(out) != 0 {
		t.Fatalf("Flush after half a frame appended %d samples", len(out))
	}
	out := r.Flush(r.Process(nil, []int16{1000, -1000}))
	if want := (r.Delay() + 3) * 2; len(out) != want {
		t.Errorf("one frame gave %d samples, want %d (Delay and 3 frames)", len(out), want)
	}
}

// Flush and Reset start a new stream: the same input gives the same output
// again, as from a new Resampler.
func TestFlushAndResetStartOver(t *testing.T) {
	src := noise(rand.New(rand.NewPCG(7, 8)), 3001)
	for _, p := range [][3]int{{44100, 16000, 2}, {16000, 48000, 1}} {
		r, first := resampleAll(t, p[0], p[1], p[2], src)
		second := r.Flush(r.Process(nil, src))
		if !slices.Equal(first, second) {
			t.Errorf("%v: after Flush the same input gives different output", p)
		}
		r.Process(nil, src[:1234])
		r.Reset()
		third := r.Flush(r.Process(nil, src))
		if !slices.Equal(first, third) {
			t.Errorf("%v: after Reset the same input gives different output", p)
		}
	}
}

// OutputLen saturates for absurd lengths instead of overflowing.
func TestOutputLenLarge(t *testing.T) {
	r, err := New(8000, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.OutputLen(math.MaxInt); got != math.MaxInt {
		t.Errorf("OutputLen(MaxInt) = %d, want MaxInt (saturated)", got)
	}
	if got := r.OutputLen(-5); got != 0 {
		t.Errorf("OutputLen(-5) = %d, want 0", got)
	}
	d, _ := New(48000, 8000, 1)
	if got, want := d.OutputLen(math.MaxInt), math.MaxInt/6; got < want-2 || got > want+2 {
		t.Errorf("OutputLen(MaxInt) at 48 → 8 kHz = %d, want about %d", got, want)
	}
}

// Resamplers of the same reduced ratio share one coefficient table,
// whatever their channels, and the table goes once none uses it.
func TestBanksShared(t *testing.T) {
	a, _ := New(44100, 16000, 1)
	b, _ := New(44100, 16000, 2)
	c, _ := New(22050, 8000, 1) // also 160/441
	if a.bank != b.bank || a.bank != c.bank {
		t.Fatal("resamplers of ratio 160/441 have different tables")
	}
	if d, _ := New(16000, 44100, 1); d.bank == a.bank {
		t.Fatal("441/160 shares the table of 160/441")
	}

	// A ratio no other test uses (6300/6857), from a Resampler that is
	// dropped at once.
	key := func() [2]int {
		r, _ := New(47999, 44100, 1)
		return [2]int{r.bank.l, r.bank.m}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		banks.Lock()
		_, held := banks.m[key]
		banks.Unlock()
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the table of an unused ratio is still held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
