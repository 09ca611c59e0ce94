package lksdk

import (
	"math/rand"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/codec"
)

type collected struct {
	payloads [][]byte
	marks    []bool
}

func (c *collected) emit(p []byte, last bool) {
	c.payloads = append(c.payloads, append([]byte(nil), p...))
	c.marks = append(c.marks, last)
}

func TestVP8PacketizerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	v := &vp8Packetizer{}
	for _, size := range []int{1, 100, rtpMTU - 4, rtpMTU - 3, 5000, 30000} {
		frame := make([]byte, size)
		rng.Read(frame)
		var c collected
		v.packetize(frame, &c)
		var out []byte
		var pid uint16
		for i, p := range c.payloads {
			require.LessOrEqual(t, len(p), rtpMTU)
			var pkt codecs.VP8Packet
			data, err := pkt.Unmarshal(p)
			require.NoError(t, err)
			require.Equal(t, uint8(1), pkt.I)
			if i == 0 {
				require.Equal(t, uint8(1), pkt.S)
				pid = pkt.PictureID
			} else {
				require.Equal(t, uint8(0), pkt.S)
				require.Equal(t, pid, pkt.PictureID)
			}
			require.Equal(t, i == len(c.payloads)-1, c.marks[i])
			out = append(out, data...)
		}
		require.Equal(t, frame, out, "size %d", size)
	}
}

func TestH264PacketizerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	nal := func(header byte, size int) []byte {
		b := make([]byte, size)
		rng.Read(b)
		b[0] = header
		for i := 1; i < len(b); i++ {
			if b[i] == 0 {
				b[i] = 1 // no start codes inside
			}
		}
		return b
	}
	sps, pps := nal(0x67, 20), nal(0x68, 6)
	idr := nal(0x65, 5000)
	slice := nal(0x41, 800)
	annexB := func(nals ...[]byte) []byte {
		var b []byte
		for i, n := range nals {
			if i%2 == 0 {
				b = append(b, 0, 0, 0, 1)
			} else {
				b = append(b, 0, 0, 1)
			}
			b = append(b, n...)
		}
		return b
	}
	h := &h264Packetizer{}
	for _, tc := range []struct {
		name string
		au   []byte
		want [][]byte
	}{
		{"keyframe with parameter sets", annexB(nal(0x09, 2), sps, pps, idr), [][]byte{sps, pps, idr}},
		{"small slice", annexB(slice), [][]byte{slice}},
	} {
		var c collected
		h.packetize(tc.au, &c)
		var depack codecs.H264Packet
		var out []byte
		for i, p := range c.payloads {
			require.LessOrEqual(t, len(p), rtpMTU)
			data, err := depack.Unmarshal(p)
			require.NoError(t, err, tc.name)
			out = append(out, data...)
			require.Equal(t, i == len(c.payloads)-1, c.marks[i], tc.name)
		}
		require.Equal(t, annexB4(tc.want...), out, tc.name)
	}
	// The parameter sets travelled together, in one STAP-A.
	var c collected
	h.packetize(annexB(sps, pps, idr), &c)
	require.Equal(t, byte(codec.NALSTAPA), codec.NALType(c.payloads[0][0]))
}

// annexB4 is what pion's depacketizer returns: each NAL behind 00 00 00 01.
func annexB4(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

func FuzzH264Packetizer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 4, 5})
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{0x65})
	f.Fuzz(func(t *testing.T, au []byte) {
		h := &h264Packetizer{}
		var total int
		h.packetize(au, emitFunc(func(p []byte, _ bool) {
			if len(p) > rtpMTU {
				t.Fatalf("payload of %d bytes", len(p))
			}
			total += len(p)
		}))
		if total > 2*len(au)+rtpMTU {
			t.Fatalf("%d bytes out of %d in", total, len(au))
		}
	})
}

type emitFunc func([]byte, bool)

func (f emitFunc) emit(p []byte, last bool) { f(p, last) }
