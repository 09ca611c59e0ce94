package lksdk_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// A subscriber that sends 100 PLIs in a second, through a real server,
// gets its keyframe, and the publisher's provider is asked for at most a
// few replays. (The server throttles PLIs on its own; the writer's own
// bound is shown with requests fed to the track directly in
// TestKeyFrameRequestsAreRateLimitedAndReplaysPaced.)
func TestPLIFloodThroughTheServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	noLeaks(t)
	keys := make(chan time.Time, 256)
	subscribed := make(chan func(), 1)
	join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			ssrc := track.SSRC()
			subscribed <- func() { rp.WritePLI(ssrc) }
			go func() {
				for {
					p, _, err := track.ReadRTP()
					if err != nil {
						return
					}
					if bytes.Contains(p.Payload, []byte("KEYFRAME")) {
						select {
						case keys <- time.Now():
						default:
						}
					}
				}
			}()
		},
	}})
	a := join(t, srv, room, "alice", nil)
	provider := &replayingProvider{}
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	require.NoError(t, err)
	_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "flooded"})
	require.NoError(t, err)
	require.NoError(t, track.StartWrite(provider, nil))

	pli := recv(t, subscribed, 15*time.Second, "bob's subscription")
	recv(t, keys, 15*time.Second, "the keyframe for the subscription")
	before := track.KeyFrameStats()
	for len(keys) > 0 {
		<-keys // replays before the flood
	}
	for i := 0; i < 100; i++ {
		pli()
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(lksdk.KeyFrameRequestInterval + 500*time.Millisecond)
	recv(t, keys, 5*time.Second, "a keyframe after the flood")
	after := track.KeyFrameStats()
	t.Logf("before the flood %+v, after %+v", before, after)
	forwarded := after.Forwarded - before.Forwarded
	require.Positive(t, forwarded, "the flood was answered")
	require.LessOrEqual(t, forwarded, uint64(3), "at most a few replays for 100 PLIs in a second")
	require.EqualValues(t, after.Forwarded, provider.requested.Load())
}
