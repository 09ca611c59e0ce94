package media

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// plays runs next n times and returns what it said, as short strings.
func plays(j *jitterBuffer, n int) []string {
	var out []string
	for range n {
		act, p, samples := j.next()
		switch act {
		case playDecode:
			out = append(out, "decode "+string(p.payload))
		case playFEC:
			out = append(out, "fec "+string(p.payload))
		case playConceal:
			out = append(out, "conceal")
		case playSilence:
			out = append(out, "silence")
		}
		if samples != 960 {
			out = append(out, "odd length")
		}
	}
	return out
}

func pushAt(j *jitterBuffer, seq uint16, frame uint32, name string) {
	j.push(seq, 1000+frame*960, 960, []byte(name))
}

func TestJitterBufferOrdersAndFillsGaps(t *testing.T) {
	t.Run("in order", func(t *testing.T) {
		j := newJitterBuffer(50)
		for i, n := range []string{"a", "b", "c"} {
			pushAt(j, uint16(10+i), uint32(i), n)
		}
		require.Equal(t, []string{"decode a", "decode b", "decode c"}, plays(j, 3))
	})
	t.Run("reordered", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		pushAt(j, 12, 2, "c")
		pushAt(j, 11, 1, "b")
		pushAt(j, 11, 1, "b") // a duplicate
		require.Equal(t, []string{"decode a", "decode b", "decode c"}, plays(j, 3))
		require.EqualValues(t, 1, j.dupes)
	})
	t.Run("one lost: recovered from the next one's FEC", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		pushAt(j, 12, 2, "c")
		require.Equal(t, []string{"decode a", "fec c", "decode c"}, plays(j, 3))
	})
	t.Run("two lost: concealed, then FEC", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		pushAt(j, 13, 3, "d")
		require.Equal(t, []string{"decode a", "conceal", "fec d", "decode d"}, plays(j, 4))
	})
	t.Run("a pause (DTX): silence up to the next packet", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		pushAt(j, 11, 4, "b") // the next sequence number, 4 frames later
		require.Equal(t, []string{"decode a", "silence", "silence", "silence", "decode b"}, plays(j, 5))
	})
	t.Run("nothing comes: concealed, then silence", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		got := plays(j, 1+concealLimit/960+2)
		require.Equal(t, "decode a", got[0])
		for i, g := range got[1:] {
			want := "conceal"
			if i >= concealLimit/960 {
				want = "silence"
			}
			require.Equal(t, want, g, "frame %d after the stream stopped", i+1)
		}
	})
	t.Run("late packets are dropped", func(t *testing.T) {
		j := newJitterBuffer(50)
		pushAt(j, 10, 0, "a")
		require.Equal(t, []string{"decode a", "conceal"}, plays(j, 2))
		pushAt(j, 11, 1, "b") // its time has passed
		pushAt(j, 12, 2, "c")
		require.Equal(t, []string{"decode c"}, plays(j, 1))
		require.EqualValues(t, 1, j.late)
	})
	t.Run("sequence numbers and timestamps wrap", func(t *testing.T) {
		j := newJitterBuffer(50)
		j.push(65535, 4294967295-959, 960, []byte("a"))
		j.push(1, 960, 960, []byte("c"))
		j.push(0, 0, 960, []byte("b"))
		require.Equal(t, []string{"decode a", "decode b", "decode c"}, plays(j, 3))
	})
	t.Run("bounded: the oldest are dropped and play goes on from the oldest kept", func(t *testing.T) {
		j := newJitterBuffer(3)
		for i, n := range []string{"a", "b", "c", "d", "e"} {
			pushAt(j, uint16(10+i), uint32(i), n)
		}
		require.Equal(t, 3, j.len())
		require.EqualValues(t, 2, j.dropped)
		require.Equal(t, []string{"decode c", "decode d", "decode e"}, plays(j, 3))
	})
}
