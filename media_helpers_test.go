package lksdk_test

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
)

// A VP8 keyframe header (320x240) and an Opus 20 ms frame: enough for the
// server to forward them as media.
var (
	vp8Frame  = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, make([]byte, 200)...)
	opusFrame = append([]byte{0xfc}, make([]byte, 60)...)
)

// testPublisher publishes a VP8 and an Opus sample track and writes frames
// to them until the test ends.
type testPublisher struct {
	video, audio       *webrtc.TrackLocalStaticSample
	videoPub, audioPub *lksdk.LocalTrackPublication
	stop               chan struct{}
	wg                 sync.WaitGroup
}

func publishAV(t *testing.T, r *lksdk.Room, prefix string) *testPublisher {
	t.Helper()
	p := &testPublisher{stop: make(chan struct{})}
	var err error
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, prefix+"-video", prefix)
	require.NoError(t, err)
	p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, prefix+"-audio", prefix)
	require.NoError(t, err)
	p.videoPub, err = r.LocalParticipant.PublishTrack(p.video, &lksdk.TrackPublicationOptions{Name: "camera", VideoWidth: 320, VideoHeight: 240})
	require.NoError(t, err)
	p.audioPub, err = r.LocalParticipant.PublishTrack(p.audio, &lksdk.TrackPublicationOptions{Name: "mic"})
	require.NoError(t, err)
	write := func(track *webrtc.TrackLocalStaticSample, frame []byte, d time.Duration) {
		defer p.wg.Done()
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: frame, Duration: d})
			}
		}
	}
	p.wg.Add(2)
	go write(p.video, vp8Frame, 33*time.Millisecond)
	go write(p.audio, opusFrame, 20*time.Millisecond)
	t.Cleanup(p.close)
	return p
}

func (p *testPublisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// trackReader counts the RTP packets of a subscribed track until it ends.
type trackReader struct {
	packets atomic.Int64
	done    chan struct{}
	err     error
}

func readTrack(track *webrtc.TrackRemote) *trackReader {
	tr := &trackReader{done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			if _, _, err := track.ReadRTP(); err != nil {
				if !errors.Is(err, io.EOF) {
					tr.err = err
				}
				return
			}
			tr.packets.Add(1)
		}
	}()
	return tr
}
