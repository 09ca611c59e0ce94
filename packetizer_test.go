package lksdk

import (
	"errors"
	"io"
	"math/rand"
	"os"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
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

// vp9Frames returns the frames of testdata/vp9.ivf.
func vp9Frames(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/vp9.ivf")
	require.NoError(t, err)
	defer f.Close()
	r, _, err := mediaparse.NewIVFReader(f)
	require.NoError(t, err)
	var frames [][]byte
	for {
		b, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return frames
		}
		require.NoError(t, err)
		frames = append(frames, append([]byte(nil), b...))
	}
}

// TestVP9PacketizerMatchesPion: on frames in clear, the packetizer lays
// out exactly what pion's VP9Payloader does.
func TestVP9PacketizerMatchesPion(t *testing.T) {
	pion := &codecs.VP9Payloader{InitialPictureIDFn: func() uint16 { return 0 }}
	v := &vp9Packetizer{}
	var keys int
	for i, frame := range vp9Frames(t) {
		want := pion.Payload(rtpMTU, frame)
		var c collected
		v.packetize(frame, &c)
		require.Equal(t, want, c.payloads, "frame %d", i)
		for j := range c.marks {
			require.Equal(t, j == len(c.marks)-1, c.marks[j])
		}
		if c.payloads[0][0]&0x02 != 0 {
			keys++
		}
	}
	require.Positive(t, keys, "no keyframe in the file")
}

// TestVP9PacketizerReadsTheClearFrame: a frame rewritten by a transformer
// (here: random bytes, as ciphertext) is described by the frame in clear
// it was hinted, and sent whole; unhinted, pion's payloader and this one
// send nothing of it.
func TestVP9PacketizerReadsTheClearFrame(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	v := &vp9Packetizer{}
	clearPk := &vp9Packetizer{}
	var sent, pionSent int
	frames := vp9Frames(t)
	for i, frame := range frames {
		enc := make([]byte, len(frame)+28)
		rng.Read(enc)
		enc[0] = 0 // a frame marker that does not parse
		var clearOut, encOut collected
		clearPk.packetize(frame, &clearOut)
		v.hintClear(frame)
		v.packetize(enc, &encOut)
		v.hintClear(nil)
		require.Equal(t, clearOut.payloads[0][:vp9DescriptorSize+vp9SSSize*int(clearOut.payloads[0][0]>>1&1)],
			encOut.payloads[0][:vp9DescriptorSize+vp9SSSize*int(encOut.payloads[0][0]>>1&1)], "frame %d: descriptor", i)
		var out []byte
		for _, p := range encOut.payloads {
			var pkt codecs.VP9Packet
			data, err := pkt.Unmarshal(p)
			require.NoError(t, err)
			out = append(out, data...)
		}
		require.Equal(t, enc, out, "frame %d", i)
		sent++
		if len((&codecs.VP9Payloader{}).Payload(rtpMTU, enc)) > 0 {
			pionSent++
		}
	}
	require.Equal(t, len(frames), sent)
	require.Zero(t, pionSent, "pion's payloader sent encrypted frames")
	// Unhinted again: the ciphertext is read as a header, and not sent.
	var c collected
	v.packetize([]byte{0, 1, 2, 3}, &c)
	require.Empty(t, c.payloads)
}
