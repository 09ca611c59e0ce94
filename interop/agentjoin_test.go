package interop_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// TestAgentsAloneInRooms joins Go participants of kind AGENT, one after
// the other, each into a new room of its own on one server. The server
// closes a room that only agents are in, so each may be told ROOM_CLOSED,
// during its join or after it. Whatever the server does, a join must
// neither panic nor hang: it returns well within its context, and a room
// that joined ends with the server's reason and Done closed.
func TestAgentsAloneInRooms(t *testing.T) {
	requireInterop(t)
	srv := lktest.Start(t)
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			room := lktest.RoomName(t)
			var mu sync.Mutex
			var reasons []livekit.DisconnectReason
			r := lksdk.CreateRoom(&lksdk.RoomCallback{
				OnDisconnectedWithReason: func(reason lksdk.DisconnectReason) {
					mu.Lock()
					reasons = append(reasons, reason)
					mu.Unlock()
				},
			})
			t.Cleanup(r.Disconnect)
			tok := token(t, srv, room, participant{identity: fmt.Sprintf("agent-%d", i), kind: livekit.ParticipantInfo_AGENT})
			// A generous bound: a join that needs it has hung.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := r.JoinWithTokenContext(ctx, srv.URL, tok, opts...)
			took := time.Since(start)
			t.Logf("join %d: %v after %s", i, err, took.Round(time.Millisecond))
			require.NoError(t, ctx.Err(), "the join ran into its context's end (%s)", took)
			if err != nil {
				// A join the server ended: the error says so, and the
				// room is closed with nothing left running.
				assert.ErrorIs(t, err, lksdk.ErrRoomClosed)
				requireClosed(t, r)
				assert.Equal(t, livekit.DisconnectReason_ROOM_CLOSED, r.DisconnectReason())
				mu.Lock()
				assert.Empty(t, reasons, "a failed join reaches no callback")
				mu.Unlock()
				return
			}
			// Joined: the server closes the room (ROOM_CLOSED) or it stays
			// open; either way it ends cleanly when we leave.
			select {
			case <-r.Done():
				t.Logf("room %d closed by the server %s after joining", i, (time.Since(start) - took).Round(time.Millisecond))
				assert.Equal(t, livekit.DisconnectReason_ROOM_CLOSED, r.DisconnectReason())
				mu.Lock()
				assert.Equal(t, []livekit.DisconnectReason{livekit.DisconnectReason_ROOM_CLOSED}, reasons)
				mu.Unlock()
			case <-time.After(3 * time.Second):
				t.Logf("room %d still open after 3 s", i)
			}
			r.Disconnect()
			requireClosed(t, r)
		})
	}
}

// requireClosed checks that r is closed: Done is closed, and the room says
// it is disconnected.
func requireClosed(t *testing.T, r *lksdk.Room) {
	t.Helper()
	select {
	case <-r.Done():
	default:
		t.Fatal("the room's Done is not closed")
	}
	assert.Equal(t, lksdk.ConnectionStateDisconnected, r.ConnectionState())
}
