package lksdk_test

import (
	"testing"
	"time"

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
