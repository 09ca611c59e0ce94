package lksdk_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// replayingProvider is a user's provider of VP8 delta frames that answers
// keyframe requests by replaying a keyframe it keeps.
type replayingProvider struct {
	lksdk.BaseSampleProvider
	requested atomic.Int32
	mu        sync.Mutex
	pending   bool
}

var (
	replayKeyframe = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, bytes.Repeat([]byte("KEYFRAME"), 20)...)
	deltaFrame     = append([]byte{0x11, 0x02, 0x00}, bytes.Repeat([]byte("delta"), 20)...)
)

func (p *replayingProvider) NextSample() (media.Sample, error) {
	return media.Sample{Data: deltaFrame, Duration: 33 * time.Millisecond}, nil
}

func (p *replayingProvider) RequestKeyFrame() {
	p.requested.Add(1)
	p.mu.Lock()
	p.pending = true
	p.mu.Unlock()
}

func (p *replayingProvider) NextReplay() ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pending {
		return nil, false
	}
	p.pending = false
	return replayKeyframe, true
}

func TestAUsersProviderCanReplayKeyframes(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	noLeaks(t)
	type pkt struct {
		ts  uint32
		key bool
	}
	got := make(chan pkt, 4096)
	join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			go func() {
				for {
					p, _, err := track.ReadRTP()
					if err != nil {
						return
					}
					select {
					case got <- pkt{ts: p.Timestamp, key: bytes.Contains(p.Payload, []byte("KEYFRAME"))}:
					default:
					}
				}
			}()
		},
	}})
	a := join(t, srv, room, "alice", nil)
	provider := &replayingProvider{}
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	require.NoError(t, err)
	_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "replaying"})
	require.NoError(t, err)
	require.NoError(t, track.StartWrite(provider, nil))

	// Bob's subscription asks for a keyframe; the provider's replay answers.
	var key pkt
	deadline := time.After(15 * time.Second)
	for !key.key {
		select {
		case p := <-got:
			if p.key {
				key = p
			}
		case <-deadline:
			t.Fatalf("no replayed keyframe reached the subscriber (%d requests)", provider.requested.Load())
		}
	}
	require.Positive(t, provider.requested.Load())
	var after pkt
	for after = recv(t, got, 5*time.Second, "a frame after the replay"); after.key; after = recv(t, got, 5*time.Second, "a frame after the replay") {
	}
	// The server forwards nothing before the keyframe; the replay's
	// timestamp lies just after the last frame's, less than a frame (2970
	// ticks at 90 kHz) before the next one's: it takes no slot of its own.
	t.Logf("replay at %d, next frame at %d", key.ts, after.ts)
	require.Greater(t, after.ts-key.ts, uint32(0))
	require.Less(t, after.ts-key.ts, uint32(2970))
}
