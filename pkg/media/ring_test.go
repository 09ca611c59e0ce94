package media

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRingIsAFIFO(t *testing.T) {
	r := newRing(7)
	rng := rand.New(rand.NewPCG(1, 2))
	var want []int16
	next := int16(0)
	for range 1000 {
		if rng.IntN(2) == 0 {
			in := make([]int16, rng.IntN(9))
			for i := range in {
				in[i] = next + int16(i)
			}
			n := r.push(in)
			require.Equal(t, min(len(in), 7-len(want)), n)
			want = append(want, in[:n]...)
			next += int16(n)
		} else {
			out := make([]int16, rng.IntN(9))
			n := r.pop(out)
			require.Equal(t, min(len(out), len(want)), n)
			require.Equal(t, want[:n], out[:n])
			want = want[n:]
		}
		require.Equal(t, len(want), r.size)
	}
}
