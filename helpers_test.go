package lksdk_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// loopback returns options that keep a test participant's media on
// 127.0.0.1.
func loopback(t testing.TB) []lksdk.ConnectOption {
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	return opts
}

// join connects identity to room on srv, and disconnects it when the test
// ends.
func join(t testing.TB, srv *lkserver.Server, room, identity string, cb *lksdk.RoomCallback, opts ...lksdk.ConnectOption) *lksdk.Room {
	t.Helper()
	r, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room,
		ParticipantIdentity: identity, ParticipantName: "name of " + identity,
		ParticipantMetadata: "metadata of " + identity,
	}, cb, append(loopback(t), opts...)...)
	require.NoError(t, err, "%s joining %s", identity, room)
	t.Cleanup(r.Disconnect)
	return r
}

// eventually waits for cond, checking every 10 ms, for at most d.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, d, 10*time.Millisecond, append([]any{msg}, args...)...)
}

// recv waits for a value on ch for at most d.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
		var zero T
		return zero
	}
}
