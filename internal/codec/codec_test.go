package codec

import (
	"bytes"
	"testing"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"
)

func TestTableAnswersEveryQuestion(t *testing.T) {
	vp9, ok := Lookup("VIDEO/vp9")
	require.True(t, ok)
	require.Equal(t, webrtc.MimeTypeVP9, vp9.MimeType)
	require.True(t, vp9.IsVideo())
	require.Equal(t, uint32(90000), vp9.ClockRate)
	require.Equal(t, "profile-id=0", vp9.Capability().SDPFmtpLine)

	opus, ok := Lookup(webrtc.MimeTypeOpus)
	require.True(t, ok)
	require.Equal(t, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, opus.Capability())

	av1, ok := ByFourCC("AV01")
	require.True(t, ok)
	require.Equal(t, webrtc.MimeTypeAV1, av1.MimeType)
	_, ok = ByFourCC("")
	require.False(t, ok, "codecs without a FourCC do not match an empty one")
	_, ok = Lookup("video/H265")
	require.False(t, ok)

	require.Len(t, ForExtension(".IVF"), 3)
	require.Equal(t, webrtc.MimeTypeH264, ForExtension(".264")[0].MimeType)
	require.Equal(t, webrtc.MimeTypeOpus, ForExtension(".opus")[0].MimeType)
	require.Empty(t, ForExtension(".mp4"))
	require.Equal(t, []string{".ivf", ".h264", ".264", ".ogg", ".opus"}, Extensions())
}

func TestSplitAnnexB(t *testing.T) {
	data := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5}
	nals := SplitAnnexB(data, nil)
	require.Equal(t, [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 4, 5}}, nals)
	require.Equal(t, byte(NALSPS), NALType(nals[0][0]))
	require.Equal(t, byte(NALIDR), NALType(nals[2][0]))
	require.Equal(t, [][]byte{{0x41, 9}}, SplitAnnexB([]byte{0x41, 9}, nil), "a bare NAL unit")
	require.Empty(t, SplitAnnexB(nil, nil))
}

func TestLEB128(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1} {
		b := AppendLEB128(nil, v)
		got, n, ok := ReadLEB128(b)
		require.True(t, ok, "%d", v)
		require.Equal(t, v, got)
		require.Equal(t, len(b), n)
	}
	_, _, ok := ReadLEB128([]byte{0x80, 0x80})
	require.False(t, ok, "truncated")
	_, _, ok = ReadLEB128(AppendLEB128(nil, 1<<32))
	require.False(t, ok, "over 32 bits")
}

func TestOpusTOC(t *testing.T) {
	require.Equal(t, 960, OpusFrameSamples(0xfc), "config 31: CELT 20 ms")
	require.Equal(t, 120, OpusFrameSamples(16<<3), "config 16: CELT 2.5 ms")
	require.Equal(t, 2880, OpusFrameSamples(3<<3), "config 3: SILK 60 ms")
	n, ok := OpusFrameCount([]byte{0x01})
	require.True(t, ok)
	require.Equal(t, 2, n)
	n, ok = OpusFrameCount([]byte{0x03, 0x05})
	require.True(t, ok)
	require.Equal(t, 5, n)
	_, ok = OpusFrameCount([]byte{0x03})
	require.False(t, ok)
	_, ok = OpusFrameCount(nil)
	require.False(t, ok)
}

func FuzzSplitAnnexB(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 2})
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{0x41})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, nal := range SplitAnnexB(data, nil) {
			if len(nal) == 0 || !bytes.Contains(data, nal) {
				t.Fatalf("NAL unit %x is not a part of the input", nal)
			}
		}
	})
}

func FuzzReadLEB128(f *testing.F) {
	f.Add([]byte{0x80, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, ok := ReadLEB128(data)
		if !ok {
			return
		}
		if n < 1 || n > len(data) || v > 1<<32-1 {
			t.Fatalf("value %d from %d of %d bytes", v, n, len(data))
		}
		if got, _, _ := ReadLEB128(AppendLEB128(nil, v)); got != v {
			t.Fatalf("%d does not round-trip", v)
		}
	})
}
