package lksdk_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func TestAgentKindAndAttributesAtJoin(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	changed := make(chan map[string]string, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnAttributesChanged: func(ch map[string]string, p lksdk.Participant) {
			if p.Identity() == "agent" {
				changed <- ch
			}
		},
	}})
	a, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: "agent",
		ParticipantKind:       lksdk.ParticipantAgent,
		ParticipantAttributes: map[string]string{"role": "transcriber", "lang": "en"},
	}, nil, loopback(t)...)
	require.NoError(t, err)
	t.Cleanup(a.Disconnect)
	require.Equal(t, lksdk.ParticipantAgent, a.LocalParticipant.Kind())
	require.Equal(t, map[string]string{"role": "transcriber", "lang": "en"}, a.LocalParticipant.Attributes())

	eventually(t, 5*time.Second, func() bool { return b.GetParticipantByIdentity("agent") != nil }, "bob to see the agent")
	agent := b.GetParticipantByIdentity("agent")
	require.Equal(t, lksdk.ParticipantAgent, agent.Kind())
	require.Equal(t, "AGENT", agent.Kind().String())
	require.Equal(t, map[string]string{"role": "transcriber", "lang": "en"}, agent.Attributes())
	require.Equal(t, lksdk.ParticipantStandard, b.LocalParticipant.Kind())

	_, err = rs.UpdateParticipant(testContext(t), &livekit.UpdateParticipantRequest{
		Room: room, Identity: "agent", Attributes: map[string]string{"lang": "de", "role": ""},
	})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"lang": "de", "role": ""}, recv(t, changed, 5*time.Second, "OnAttributesChanged"))
	require.Equal(t, map[string]string{"lang": "de"}, agent.Attributes())
}

func TestUnknownParticipantKindIsRefused(t *testing.T) {
	_, err := lksdk.NewJoinToken(lksdk.ConnectInfo{
		APIKey: "k", APISecret: "s", RoomName: "r", ParticipantIdentity: "p", ParticipantKind: 99,
	}, nil, 0)
	require.ErrorContains(t, err, "unknown participant kind 99")
}

func TestPermissionsChangedByServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	type change struct {
		identity string
		old, now *livekit.ParticipantPermission
	}
	changes := make(chan change, 4)
	cb := func(old *livekit.ParticipantPermission, p lksdk.Participant) {
		changes <- change{p.Identity(), old, p.(*lksdk.LocalParticipant).Permissions()}
	}
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{OnPermissionsChanged: cb}})
	remoteChanges := make(chan change, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnPermissionsChanged: func(old *livekit.ParticipantPermission, p lksdk.Participant) {
			remoteChanges <- change{p.Identity(), old, p.(*lksdk.RemoteParticipant).Permissions()}
		},
	}})
	eventually(t, 5*time.Second, func() bool { return b.GetParticipantByIdentity("alice") != nil }, "bob to see alice")
	require.True(t, b.GetParticipantByIdentity("alice").Permissions().GetCanPublish())
	require.True(t, a.LocalParticipant.Permissions().GetCanPublish())
	require.True(t, a.LocalParticipant.Permissions().GetCanSubscribe())

	_, err := rs.UpdateParticipant(testContext(t), &livekit.UpdateParticipantRequest{
		Room: room, Identity: "alice",
		Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: false, CanPublishData: true},
	})
	require.NoError(t, err)
	ch := recv(t, changes, 5*time.Second, "OnPermissionsChanged")
	require.Equal(t, "alice", ch.identity)
	require.True(t, ch.old.GetCanPublish(), "the permissions before")
	require.False(t, ch.now.GetCanPublish())
	require.False(t, a.LocalParticipant.Permissions().GetCanPublish())
	require.True(t, a.LocalParticipant.Permissions().GetCanPublishData())

	// The others see the change too.
	ch = recv(t, remoteChanges, 5*time.Second, "OnPermissionsChanged at bob")
	require.Equal(t, "alice", ch.identity)
	require.True(t, ch.old.GetCanPublish())
	require.False(t, ch.now.GetCanPublish())
	require.False(t, b.GetParticipantByIdentity("alice").Permissions().GetCanPublish())
}

func TestSetSubscriptionPermission(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	a := join(t, srv, room, "alice", nil)
	require.NoError(t, a.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{
		TrackPermissions: []*livekit.TrackPermission{{ParticipantIdentity: "carol", AllTracks: true}},
	}))
	pubs := publishAV(t, a, "alice")

	type sub struct {
		sid    string
		reader *trackReader
	}
	watch := func(identity string) (*lksdk.Room, chan sub, chan string) {
		subs, failed := make(chan sub, 4), make(chan string, 4)
		r := join(t, srv, room, identity, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
				subs <- sub{pub.SID(), readTrack(track)}
			},
			OnTrackSubscriptionFailed: func(sid string, _ *lksdk.RemoteParticipant) { failed <- sid },
		}})
		return r, subs, failed
	}
	bob, bobSubs, bobFailed := watch("bob")
	_, carolSubs, _ := watch("carol")

	want := []string{pubs.videoPub.SID(), pubs.audioPub.SID()}
	// carol may subscribe, and receives the media.
	for range want {
		s := recv(t, carolSubs, 10*time.Second, "carol's subscription")
		require.Contains(t, want, s.sid)
		eventually(t, 10*time.Second, func() bool { return s.reader.packets.Load() > 0 }, "media at carol")
	}
	// bob may not: the server refuses, for both tracks.
	got := []string{recv(t, bobFailed, 10*time.Second, "bob's refusal"), recv(t, bobFailed, 10*time.Second, "bob's refusal")}
	require.ElementsMatch(t, want, got)
	alice := bob.GetParticipantByIdentity("alice")
	for _, sid := range want {
		require.False(t, alice.GetTrackPublication(sid).IsSubscriptionAllowed())
		require.False(t, alice.GetTrackPublication(sid).IsSubscribed())
	}
	select {
	case s := <-bobSubs:
		t.Fatalf("bob subscribed to %s, which alice does not allow him", s.sid)
	default:
	}

	// Allowed everyone, bob receives the media too.
	require.NoError(t, a.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{AllParticipants: true}))
	for range want {
		s := recv(t, bobSubs, 10*time.Second, "bob's subscription once allowed")
		require.Contains(t, want, s.sid)
		eventually(t, 10*time.Second, func() bool { return s.reader.packets.Load() > 0 }, "media at bob")
		require.True(t, alice.GetTrackPublication(s.sid).IsSubscriptionAllowed())
	}

	require.Error(t, a.LocalParticipant.SetSubscriptionPermission(nil))
	require.ErrorContains(t, a.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{
		TrackPermissions: []*livekit.TrackPermission{{AllTracks: true}},
	}), "names no participant")
}

func TestLocalTrackCallbacksInOrder(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	events := make(chan string, 8)
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnLocalTrackPublished: func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) { events <- "published " + pub.SID() },
			OnLocalTrackUnpublished: func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) {
				events <- "unpublished " + pub.SID()
			},
		},
		OnLocalTrackSubscribed: func(pub *lksdk.LocalTrackPublication, lp *lksdk.LocalParticipant) {
			events <- "subscribed " + pub.SID()
		},
	})
	pubs := publishAV(t, a, "alice")
	v, au := pubs.videoPub.SID(), pubs.audioPub.SID()
	require.Equal(t, "published "+v, recv(t, events, 5*time.Second, "video published"))
	require.Equal(t, "published "+au, recv(t, events, 5*time.Second, "audio published"))

	join(t, srv, room, "bob", nil)
	subscribed := []string{recv(t, events, 10*time.Second, "first subscription"), recv(t, events, 10*time.Second, "second subscription")}
	require.ElementsMatch(t, []string{"subscribed " + v, "subscribed " + au}, subscribed)

	require.NoError(t, a.LocalParticipant.UnpublishTrack(v))
	require.Equal(t, "unpublished "+v, recv(t, events, 5*time.Second, "video unpublished"))
	require.ErrorIs(t, a.LocalParticipant.UnpublishTrack(v), lksdk.ErrCannotFindTrack)
	select {
	case e := <-events:
		t.Fatalf("unexpected %q after unpublishing", e)
	default:
	}
}

func TestParticipantLookupsBySID(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	b := join(t, srv, room, "bob", nil)
	a := join(t, srv, room, "alice", nil)
	eventually(t, 5*time.Second, func() bool { return b.GetParticipantByIdentity("alice") != nil }, "bob to see alice")
	alice := b.GetParticipantBySID(a.LocalParticipant.SID())
	require.NotNil(t, alice)
	require.Same(t, b.GetParticipant(a.LocalParticipant.SID()), alice)
	require.Equal(t, "alice", alice.Identity())
	require.Len(t, b.GetRemoteParticipants(), 1)
	require.Same(t, alice, b.GetRemoteParticipants()[0])
	require.Nil(t, b.GetParticipantBySID("PA_nobody"))
}

func TestSubscriptionPermissionSurvivesFullReconnect(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	reconnected := make(chan struct{}, 2)
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{OnReconnected: func() { reconnected <- struct{}{} }})
	require.NoError(t, a.LocalParticipant.SetSubscriptionPermission(&livekit.SubscriptionPermission{
		TrackPermissions: []*livekit.TrackPermission{{ParticipantIdentity: "carol", AllTracks: true}},
	}))
	pubs := publishAV(t, a, "alice")
	oldSID := pubs.videoPub.SID()

	// The server closes the session as when it shuts down: alice joins
	// again as a new session and publishes her tracks again.
	a.Simulate(lksdk.SimulateServerLeave)
	recv(t, reconnected, 30*time.Second, "alice to reconnect")
	require.NotEqual(t, oldSID, pubs.videoPub.SID(), "published again on a new session")

	failed := make(chan string, 4)
	subscribed := make(chan string, 4)
	join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			subscribed <- pub.SID()
		},
		OnTrackSubscriptionFailed: func(sid string, _ *lksdk.RemoteParticipant) { failed <- sid },
	}})
	want := []string{pubs.videoPub.SID(), pubs.audioPub.SID()}
	got := []string{recv(t, failed, 10*time.Second, "bob's refusal"), recv(t, failed, 10*time.Second, "bob's refusal")}
	require.ElementsMatch(t, want, got, "the new session keeps the permission")
	select {
	case sid := <-subscribed:
		t.Fatalf("bob subscribed to %s after alice's reconnect", sid)
	default:
	}
}
