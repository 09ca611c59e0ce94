package lksdk_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
)

var (
	loopbackOnce sync.Once
	loopbackAPI  *webrtc.API
)

// loopback returns options that keep a test participant's media on
// 127.0.0.1: host candidates of the loopback interface only, and no STUN.
func loopback(t testing.TB) []lksdk.ConnectOption {
	loopbackOnce.Do(func() {
		se := webrtc.SettingEngine{}
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		var err error
		loopbackAPI, err = lksdk.NewWebRTCAPI(se)
		require.NoError(t, err)
	})
	return []lksdk.ConnectOption{lksdk.WithWebRTCAPI(loopbackAPI), lksdk.WithICEServers()}
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
