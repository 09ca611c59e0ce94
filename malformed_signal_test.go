package lksdk_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/fakesignal"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func startFake(t *testing.T, first ...*livekit.SignalResponse) *fakesignal.Server {
	t.Helper()
	s, err := fakesignal.Start()
	require.NoError(t, err)
	s.First = first
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func joinMsg(j *livekit.JoinResponse) *livekit.SignalResponse {
	return &livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: j}}
}

// A join response the SDK cannot use ends ConnectToRoom with a ConnectError
// in the join phase, wrapping ErrInvalidResponse, and leaves nothing
// running (TestMain's goleak check).
func TestMalformedJoinIsAConnectError(t *testing.T) {
	me := &livekit.ParticipantInfo{Sid: "PA_me", Identity: "me"}
	room := &livekit.Room{Sid: "RM_1", Name: "room"}
	cases := map[string]*livekit.JoinResponse{
		"zero-length everything":   {},
		"no participant":           {Room: room},
		"no room":                  {Participant: me},
		"participant without sid":  {Room: room, Participant: &livekit.ParticipantInfo{Identity: "me"}},
		"room without name or sid": {Room: &livekit.Room{}, Participant: me},
		"other participant empty":  {Room: room, Participant: me, OtherParticipants: []*livekit.ParticipantInfo{{}}},
		"track without sid":        {Room: room, Participant: me, OtherParticipants: []*livekit.ParticipantInfo{{Sid: "PA_a", Tracks: []*livekit.TrackInfo{{}}}}},
	}
	for name, j := range cases {
		t.Run(name, func(t *testing.T) {
			s := startFake(t, joinMsg(j))
			var disconnected atomic.Bool
			_, err := lksdk.ConnectToRoomWithToken(s.URL(), "token", &lksdk.RoomCallback{
				OnDisconnected: func() { disconnected.Store(true) },
			}, loopback(t)...)
			require.Error(t, err)
			var ce *lksdk.ConnectError
			require.True(t, errors.As(err, &ce), "want a *ConnectError, got %T: %v", err, err)
			require.Equal(t, lksdk.PhaseJoin, ce.Phase, "%v", err)
			require.ErrorIs(t, err, lksdk.ErrInvalidResponse)
			require.ErrorIs(t, err, lksdk.ErrSignalError)
			require.False(t, disconnected.Load(), "a room that never joined is not disconnected")
		})
	}
}

// malformed is one of each kind of signal response the room acts on, each
// missing what the room needs. (A leave or a request response has no field
// the room cannot do without: on the wire, an empty one is a valid one.)
func malformed() map[string]*livekit.SignalResponse {
	return map[string]*livekit.SignalResponse{
		"answer":                {Message: &livekit.SignalResponse_Answer{}},
		"offer":                 {Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{Type: "offer"}}},
		"trickle":               {Message: &livekit.SignalResponse_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: "{not json"}}},
		"trickle empty":         {Message: &livekit.SignalResponse_Trickle{}},
		"update":                {Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{{Identity: "ghost"}}}}},
		"track published":       {Message: &livekit.SignalResponse_TrackPublished{TrackPublished: &livekit.TrackPublishedResponse{Cid: "c"}}},
		"track unpublished":     {Message: &livekit.SignalResponse_TrackUnpublished{TrackUnpublished: &livekit.TrackUnpublishedResponse{}}},
		"speakers changed":      {Message: &livekit.SignalResponse_SpeakersChanged{SpeakersChanged: &livekit.SpeakersChanged{Speakers: []*livekit.SpeakerInfo{{Level: 1}}}}},
		"connection quality":    {Message: &livekit.SignalResponse_ConnectionQuality{ConnectionQuality: &livekit.ConnectionQualityUpdate{Updates: []*livekit.ConnectionQualityInfo{{}}}}},
		"room update":           {Message: &livekit.SignalResponse_RoomUpdate{RoomUpdate: &livekit.RoomUpdate{}}},
		"mute":                  {Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Muted: true}}},
		"refresh token":         {Message: &livekit.SignalResponse_RefreshToken{}},
		"track subscribed":      {Message: &livekit.SignalResponse_TrackSubscribed{TrackSubscribed: &livekit.TrackSubscribed{}}},
		"subscription response": {Message: &livekit.SignalResponse_SubscriptionResponse{SubscriptionResponse: &livekit.SubscriptionResponse{}}},
		"join mid-session":      joinMsg(&livekit.JoinResponse{}),
	}
}

// Each malformed kind of signal response, sent into a live session with a
// real server, is dropped, logged and counted: the room neither panics nor
// stalls (a valid message sent after each is applied), and stays connected.
func TestMalformedSignalResponsesMidSession(t *testing.T) {
	srv := lktest.Start(t)
	relay, err := fakesignal.StartRelay(srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })

	metadata := make(chan string, 64)
	r, err := lksdk.ConnectToRoom(relay.URL(), lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: lktest.RoomName(t), ParticipantIdentity: "bot",
	}, &lksdk.RoomCallback{OnRoomMetadataChanged: func(m string) { metadata <- m }}, loopback(t)...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)

	n := uint64(0)
	for kind, res := range malformed() {
		require.NoError(t, relay.Inject(res), kind)
		n++
		marker := fmt.Sprintf("after %s", kind)
		require.NoError(t, relay.Inject(&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomUpdate{
			RoomUpdate: &livekit.RoomUpdate{Room: &livekit.Room{Sid: r.SID(), Name: r.Name(), Metadata: marker}},
		}}))
		require.Equal(t, marker, recv(t, metadata, 10*time.Second, "the message after a malformed "+kind), kind)
		require.Equal(t, n, r.DroppedSignalResponses(), "dropped after %s", kind)
	}
	require.Equal(t, lksdk.ConnectionStateConnected, r.ConnectionState())
}

// A full reconnect whose join is malformed fails as an attempt, not as a
// panic: the room keeps trying until its reconnect timeout, then reports
// the disconnection once.
func TestMalformedJoinOnFullReconnect(t *testing.T) {
	srv := lktest.Start(t)
	relay, err := fakesignal.StartRelay(srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })

	disconnected := make(chan struct{}, 4)
	r, err := lksdk.ConnectToRoom(relay.URL(), lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: lktest.RoomName(t), ParticipantIdentity: "bot",
	}, &lksdk.RoomCallback{OnDisconnected: func() { disconnected <- struct{}{} }},
		append(loopback(t), lksdk.WithReconnectTimeout(3*time.Second))...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)

	// From now on every connection gets a join with no participant; the
	// server's leave asks for a full reconnect.
	relay.Script(joinMsg(&livekit.JoinResponse{Room: &livekit.Room{Name: "room"}}))
	require.NoError(t, relay.Inject(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{
		Leave: &livekit.LeaveRequest{Action: livekit.LeaveRequest_RECONNECT, Reason: livekit.DisconnectReason_SIGNAL_CLOSE},
	}}))
	recv(t, disconnected, 20*time.Second, "OnDisconnected after the failed reconnects")
	require.Greater(t, relay.Connections(), 1, "the room tried to join again")
	select {
	case <-disconnected:
		t.Fatal("OnDisconnected called twice")
	case <-time.After(200 * time.Millisecond):
	}
}
