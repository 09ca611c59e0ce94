package lksdk_test

import (
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func TestParticipantsSeeEachOther(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	aSees := make(chan *lksdk.RemoteParticipant, 4)
	aLost := make(chan *lksdk.RemoteParticipant, 4)
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{
		OnParticipantConnected:    func(rp *lksdk.RemoteParticipant) { aSees <- rp },
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { aLost <- rp },
	})
	bSees := make(chan *lksdk.RemoteParticipant, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{
		OnParticipantConnected: func(rp *lksdk.RemoteParticipant) { bSees <- rp },
	})

	seenByB := recv(t, bSees, 5*time.Second, "bob to see alice")
	require.Equal(t, "alice", seenByB.Identity())
	require.Equal(t, "name of alice", seenByB.Name())
	require.Equal(t, "metadata of alice", seenByB.Metadata())
	require.Equal(t, a.LocalParticipant.SID(), seenByB.SID())

	seenByA := recv(t, aSees, 5*time.Second, "alice to see bob")
	require.Equal(t, "bob", seenByA.Identity())
	require.Equal(t, "name of bob", seenByA.Name())
	require.Equal(t, "metadata of bob", seenByA.Metadata())
	require.Same(t, seenByA, a.GetParticipantByIdentity("bob"))
	require.Same(t, seenByA, a.GetParticipant(b.LocalParticipant.SID()))
	require.Equal(t, room, a.Name())
	require.NotEmpty(t, a.SID())

	start := time.Now()
	b.Disconnect()
	gone := recv(t, aLost, 5*time.Second, "alice to see bob leave")
	t.Logf("a non-publishing participant's leave was seen after %s", time.Since(start))
	require.Equal(t, "bob", gone.Identity())
	require.Nil(t, a.GetParticipantByIdentity("bob"))
}

type subscription struct {
	track *webrtc.TrackRemote
	pub   *lksdk.RemoteTrackPublication
	rp    *lksdk.RemoteParticipant
}

func TestSubscribeReceiveUnsubscribe(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	var order []string
	var orderMu sync.Mutex
	note := func(s string) { orderMu.Lock(); order = append(order, s); orderMu.Unlock() }
	subscribed := make(chan subscription, 8)
	unsubscribed := make(chan subscription, 8)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackPublished: func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			note("published " + pub.Name())
		},
		OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			note("subscribed " + pub.Name())
			subscribed <- subscription{track, pub, rp}
		},
		OnTrackUnsubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			unsubscribed <- subscription{track, pub, rp}
		},
	}})
	a := join(t, srv, room, "alice", nil)
	pubs := publishAV(t, a, "alice")

	readers := map[string]*trackReader{}
	subs := map[string]subscription{}
	for i := 0; i < 2; i++ {
		s := recv(t, subscribed, 10*time.Second, "a subscribed track")
		require.Equal(t, "alice", s.rp.Identity())
		readers[s.pub.Name()] = readTrack(s.track)
		subs[s.pub.Name()] = s
	}
	require.ElementsMatch(t, []string{"camera", "mic"}, []string{subs["camera"].pub.Name(), subs["mic"].pub.Name()})
	require.Equal(t, pubs.videoPub.SID(), subs["camera"].pub.SID())
	require.Equal(t, lksdk.TrackKindVideo, subs["camera"].pub.Kind())
	require.Equal(t, "video/VP8", subs["camera"].track.Codec().MimeType)
	require.Equal(t, "audio/opus", subs["mic"].track.Codec().MimeType)
	orderMu.Lock()
	for _, name := range []string{"camera", "mic"} {
		require.Less(t, indexOf(order, "published "+name), indexOf(order, "subscribed "+name), "OnTrackPublished comes first: %v", order)
	}
	orderMu.Unlock()
	for name, r := range readers {
		eventually(t, 5*time.Second, func() bool { return r.packets.Load() > 20 }, "RTP of %s", name)
	}

	// Unsubscribing stops delivery and is reported.
	cam := subs["camera"]
	require.True(t, cam.pub.IsSubscribed())
	require.NoError(t, cam.pub.SetSubscribed(false))
	gone := recv(t, unsubscribed, 5*time.Second, "OnTrackUnsubscribed")
	require.Equal(t, cam.pub.SID(), gone.pub.SID())
	require.False(t, cam.pub.IsSubscribed())
	time.Sleep(300 * time.Millisecond)
	before := readers["camera"].packets.Load()
	time.Sleep(time.Second)
	require.LessOrEqual(t, readers["camera"].packets.Load()-before, int64(2), "video still flowing after unsubscribing")
	micBefore := readers["mic"].packets.Load()
	eventually(t, 5*time.Second, func() bool { return readers["mic"].packets.Load() > micBefore+20 }, "audio keeps flowing")

	// Subscribing again resumes it.
	require.NoError(t, cam.pub.SetSubscribed(true))
	again := recv(t, subscribed, 5*time.Second, "OnTrackSubscribed again")
	require.Equal(t, cam.pub.SID(), again.pub.SID())
	r2 := readTrack(again.track)
	eventually(t, 5*time.Second, func() bool { return r2.packets.Load() > 20 }, "video after subscribing again")

	pubs.close()
	b.Disconnect()
	for _, r := range append(mapValues(readers), r2) {
		recv(t, r.done, 5*time.Second, "track reader to end")
	}
}

func TestNoAutoSubscribe(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	published := make(chan *lksdk.RemoteTrackPublication, 4)
	subscribed := make(chan subscription, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackPublished: func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) { published <- pub },
		OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			subscribed <- subscription{track, pub, rp}
		},
	}}, lksdk.WithAutoSubscribe(false))
	a := join(t, srv, room, "alice", nil)
	publishAV(t, a, "alice")

	pubs := []*lksdk.RemoteTrackPublication{
		recv(t, published, 10*time.Second, "first publication"),
		recv(t, published, 10*time.Second, "second publication"),
	}
	select {
	case s := <-subscribed:
		t.Fatalf("subscribed to %s without asking", s.pub.Name())
	case <-time.After(2 * time.Second):
	}
	for _, p := range pubs {
		require.False(t, p.IsSubscribed())
	}
	require.NoError(t, pubs[0].SetSubscribed(true))
	s := recv(t, subscribed, 5*time.Second, "the track asked for")
	require.Equal(t, pubs[0].SID(), s.pub.SID())
	r := readTrack(s.track)
	eventually(t, 5*time.Second, func() bool { return r.packets.Load() > 10 }, "RTP of the track asked for")
	select {
	case s := <-subscribed:
		t.Fatalf("subscribed to %s without asking", s.pub.Name())
	case <-time.After(time.Second):
	}
	b.Disconnect()
	recv(t, r.done, 5*time.Second, "track reader to end")
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// The server announces a publisher's departure at once (a participant that
// publishes nothing is announced in its next 3 s batch).
func TestPublisherLeaveIsSeenAsItsOwn(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	left := make(chan *lksdk.RemoteParticipant, 1)
	tracks := make(chan struct{}, 4)
	join(t, srv, room, "bob", &lksdk.RoomCallback{
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { left <- rp },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(*webrtc.TrackRemote, *lksdk.RemoteTrackPublication, *lksdk.RemoteParticipant) {
				tracks <- struct{}{}
			},
		},
	})
	a := join(t, srv, room, "alice", nil)
	pubs := publishAV(t, a, "alice")
	recv(t, tracks, 10*time.Second, "alice's tracks at bob")

	start := time.Now()
	pubs.close()
	a.Disconnect()
	rp := recv(t, left, 15*time.Second, "OnParticipantDisconnected")
	t.Logf("alice's leave was seen by bob after %s", time.Since(start))
	require.Equal(t, "alice", rp.Identity())
	require.Equal(t, livekit.DisconnectReason_CLIENT_INITIATED.String(), rp.ParticipantInfo().GetDisconnectReason().String(),
		"alice told the server she left: bob did not wait for the server to give up on her")
}
