package lksdk_test

import (
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// TestMoveParticipantOnPinnedServer records what the pinned server answers
// to MoveParticipant: it does not carry moves out, so the client side of a
// move is driven by TestRoomMovedResponse. A server that starts moving
// participants fails this test, to have it replaced by one that moves a
// participant for real.
func TestMoveParticipantOnPinnedServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	join(t, srv, room, "bob", nil)
	join(t, srv, room+"-b", "carol", nil)
	_, err := rs.MoveParticipant(testContext(t), &livekit.MoveParticipantRequest{Room: room, Identity: "bob", DestinationRoom: room + "-b"})
	require.ErrorContains(t, err, "not implemented")
}

// TestRoomMovedResponse moves a participant the way the protocol does: the
// server's RoomMovedResponse, here added to a real server's responses by a
// tap. The room must become the new one, with its participants, and the
// move's token must be the one used to connect again: the resumed session
// is in the new room, with its media.
func TestRoomMovedResponse(t *testing.T) {
	srv := lktest.Start(t)
	roomA := lktest.RoomName(t)
	roomB := roomA + "-b"
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)

	alice := join(t, srv, roomA, "alice", nil)
	alicePubs := publishAV(t, alice, "alice")
	carol := join(t, srv, roomB, "carol", nil)
	carolPubs := publishAV(t, carol, "carol")

	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	moved := make(chan [2]string, 1)
	type sub struct {
		identity, sid string
		reader        *trackReader
	}
	subs := make(chan sub, 8)
	tap := newSignalTap(t, srv.URL)
	bob, err := lksdk.ConnectToRoom(tap.URL(), lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: roomA, ParticipantIdentity: "bob",
	}, &lksdk.RoomCallback{
		OnParticipantConnected:    func(rp *lksdk.RemoteParticipant) { record("connected " + rp.Identity()) },
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { record("disconnected " + rp.Identity()) },
		OnRoomMoved: func(name, token string) {
			record("moved " + name)
			moved <- [2]string{name, token}
		},
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				subs <- sub{rp.Identity(), pub.SID(), readTrack(track)}
			},
			OnTrackUnsubscribed: func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				record("unsubscribed " + rp.Identity() + " " + pub.SID())
			},
		},
	}, loopback(t)...)
	require.NoError(t, err)
	t.Cleanup(bob.Disconnect)
	for range 2 {
		s := recv(t, subs, 10*time.Second, "bob's subscriptions in the first room")
		require.Equal(t, "alice", s.identity)
	}
	oldSID := bob.LocalParticipant.SID()

	rooms, err := rs.ListRooms(testContext(t), &livekit.ListRoomsRequest{Names: []string{roomB}})
	require.NoError(t, err)
	require.Len(t, rooms.Rooms, 1)
	// The server lists a track once its media arrived.
	var others *livekit.ListParticipantsResponse
	eventually(t, 10*time.Second, func() bool {
		others, err = rs.ListParticipants(testContext(t), &livekit.ListParticipantsRequest{Room: roomB})
		return err == nil && len(others.Participants) == 1 && len(others.Participants[0].Tracks) == 2
	}, "the server to list carol with her two tracks")
	token, err := lksdk.NewJoinToken(lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: roomB, ParticipantIdentity: "bob",
	}, &auth.VideoGrant{}, 0)
	require.NoError(t, err)
	me := proto.Clone(bob.LocalParticipant.ParticipantInfo()).(*livekit.ParticipantInfo)
	me.Sid = "PA_movedbob"
	me.Tracks = nil

	// A move that names no room is ignored.
	tap.inject(&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomMoved{RoomMoved: &livekit.RoomMovedResponse{Token: token}}})
	tap.inject(&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomMoved{RoomMoved: &livekit.RoomMovedResponse{
		Room: rooms.Rooms[0], Token: token, Participant: me, OtherParticipants: others.Participants,
	}}})
	require.Equal(t, [2]string{roomB, token}, recv(t, moved, 5*time.Second, "OnRoomMoved"))
	require.Equal(t, roomB, bob.Name())
	require.Equal(t, rooms.Rooms[0].Sid, bob.SID())
	require.Equal(t, "PA_movedbob", bob.LocalParticipant.SID())
	require.NotEqual(t, oldSID, bob.LocalParticipant.SID())
	require.Nil(t, bob.GetParticipantByIdentity("alice"))
	rps := bob.GetRemoteParticipants()
	require.Len(t, rps, 1)
	require.Equal(t, "carol", rps[0].Identity())
	require.Len(t, rps[0].TrackPublications(), 2)
	mu.Lock()
	require.ElementsMatch(t, []string{
		"connected alice", "disconnected alice", "connected carol", "moved " + roomB,
		"unsubscribed alice " + alicePubs.videoPub.SID(), "unsubscribed alice " + alicePubs.audioPub.SID(),
	}, events)
	require.Equal(t, "moved "+roomB, events[len(events)-1], "OnRoomMoved comes after the room is replaced")
	mu.Unlock()

	// Connecting again uses the move's session and token: the server, which
	// never moved bob, does not know the session, and bob joins the new room
	// with the move's token and receives its media.
	bob.Simulate(lksdk.SimulateSignalReconnect)
	want := []string{carolPubs.videoPub.SID(), carolPubs.audioPub.SID()}
	for range want {
		s := recv(t, subs, 20*time.Second, "bob's subscriptions in the new room")
		require.Equal(t, "carol", s.identity)
		require.Contains(t, want, s.sid)
		eventually(t, 10*time.Second, func() bool { return s.reader.packets.Load() > 0 }, "carol's media at bob")
	}
	require.Equal(t, roomB, bob.Name())
	eventually(t, 5*time.Second, func() bool {
		ps, err := rs.ListParticipants(testContext(t), &livekit.ListParticipantsRequest{Room: roomB})
		if err != nil {
			return false
		}
		for _, p := range ps.Participants {
			if p.Identity == "bob" && p.Sid == bob.LocalParticipant.SID() {
				return true
			}
		}
		return false
	}, "the server to have bob in the new room")
}
