package lksdk_test

import (
	"testing"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
)

// peerPair connects two peer connections of api on loopback, with the
// sender offering tracks, and closes them when the test ends. onTrack runs
// for each track the receiver gets.
func peerPair(tb testing.TB, api *webrtc.API, tracks []webrtc.TrackLocal, onTrack func(*webrtc.TrackRemote)) (*webrtc.PeerConnection, []*webrtc.RTPSender) {
	tb.Helper()
	sender, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = sender.Close() })
	receiver, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = receiver.Close() })

	var senders []*webrtc.RTPSender
	for _, t := range tracks {
		s, err := sender.AddTrack(t)
		require.NoError(tb, err)
		senders = append(senders, s)
		go func() { // RTCP must be read for the interceptors to see it
			for {
				if _, _, err := s.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	receiver.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { onTrack(remote) })

	offer, err := sender.CreateOffer(nil)
	require.NoError(tb, err)
	gathered := webrtc.GatheringCompletePromise(sender)
	require.NoError(tb, sender.SetLocalDescription(offer))
	<-gathered
	require.NoError(tb, receiver.SetRemoteDescription(*sender.LocalDescription()))
	answer, err := receiver.CreateAnswer(nil)
	require.NoError(tb, err)
	gathered = webrtc.GatheringCompletePromise(receiver)
	require.NoError(tb, receiver.SetLocalDescription(answer))
	<-gathered
	require.NoError(tb, sender.SetRemoteDescription(*receiver.LocalDescription()))
	return receiver, senders
}

// loopbackAPI is the SDK's API with ICE on loopback and opts.
func loopbackAPI(tb testing.TB, se webrtc.SettingEngine, opts ...lksdk.WebRTCAPIOption) *webrtc.API {
	tb.Helper()
	api, err := lksdk.NewWebRTCAPIWithOptions(se, opts...)
	require.NoError(tb, err)
	return api
}
