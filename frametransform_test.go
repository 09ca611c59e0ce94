package lksdk

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"
)

// sealer stands in for an encryptor: it appends a marker and the frame's
// timestamp, records what it was told, and fails when told to.
type sealer struct {
	infos []FrameInfo
	fail  bool
}

func (x *sealer) TransformFrame(frame []byte, info FrameInfo) ([]byte, error) {
	x.infos = append(x.infos, info)
	if x.fail {
		return nil, errors.New("no key")
	}
	out := append([]byte(nil), frame...)
	return append(out, 0xee, byte(info.Timestamp)), nil
}

func transformedTrack(t *testing.T, mime string, x FrameTransformer) (*LocalSampleTrack, *capture) {
	t.Helper()
	track, err := NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: mime}, WithFrameTransformer(x))
	require.NoError(t, err)
	c := &capture{keep: true, codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
	}}
	_, err = track.Bind(c)
	require.NoError(t, err)
	return track, c
}

func TestFrameTransformerSeesEachFrameBeforePacketizing(t *testing.T) {
	x := &sealer{}
	track, c := transformedTrack(t, webrtc.MimeTypeOpus, x)
	for i := 0; i < 3; i++ {
		require.NoError(t, track.WriteSample(media.Sample{Data: []byte{0xfc, byte(i)}, Duration: 20 * time.Millisecond}, nil))
	}
	require.Len(t, x.infos, 3)
	require.Len(t, c.payloads, 3)
	for i, info := range x.infos {
		require.Equal(t, webrtc.MimeTypeOpus, info.MimeType)
		require.Equal(t, uint32(1234), info.SSRC)
		require.Equal(t, c.headers[i].Timestamp, info.Timestamp)
		require.False(t, info.KeyFrame)
		require.False(t, info.Replay)
		require.Equal(t, []byte{0xfc, byte(i), 0xee, byte(info.Timestamp)}, c.payloads[i], "the transformed frame is sent")
	}
}

func TestReplayedFramesAreTransformedAgain(t *testing.T) {
	x := &sealer{}
	track, c := transformedTrack(t, webrtc.MimeTypeVP8, x)
	key := []byte{0x10, 2, 0, 0x9d, 1, 0x2a, 1, 0, 1, 0}
	require.NoError(t, track.WriteSample(media.Sample{Data: key, Duration: time.Second / 30}, nil))
	require.NoError(t, track.writeReplay(key))
	require.Len(t, x.infos, 2)
	require.True(t, x.infos[0].KeyFrame)
	require.False(t, x.infos[0].Replay)
	require.True(t, x.infos[1].KeyFrame)
	require.True(t, x.infos[1].Replay, "a replay is transformed again, never sent as written")
	require.Equal(t, x.infos[0].Timestamp+1, x.infos[1].Timestamp)
	require.Len(t, c.payloads, 2)
	for i, p := range c.payloads {
		// Past the 4-byte VP8 payload descriptor: the frame as transformed.
		require.True(t, bytes.HasSuffix(p, []byte{0xee, byte(x.infos[i].Timestamp)}), "packet %d: %x", i, p)
	}
}

func TestFailedTransformDropsTheFrame(t *testing.T) {
	x := &sealer{fail: true}
	track, c := transformedTrack(t, webrtc.MimeTypeVP8, x)
	delta := []byte{0x11, 2, 0, 7, 7, 7}
	for i := 0; i < 3; i++ {
		err := track.WriteSample(media.Sample{Data: delta, Duration: time.Second / 30}, nil)
		require.ErrorIs(t, err, ErrFrameTransform)
	}
	require.Empty(t, c.payloads, "nothing is sent in clear")
	st := track.Stats()
	require.Equal(t, int64(3), st.TransformFailed)
	require.Zero(t, st.Packets)
	require.False(t, x.infos[0].KeyFrame)

	// The clock moved on: the next frame that transforms keeps its place.
	x.fail = false
	require.NoError(t, track.WriteSample(media.Sample{Data: delta, Duration: time.Second / 30}, nil))
	require.Len(t, c.payloads, 1)
}
