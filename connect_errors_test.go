package lksdk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// connectHangBound is less than the 15 s join timeout: a connect that
// fails within it failed on its own, not because the timeout ran out.
const connectHangBound = 10 * time.Second

// requireConnectError checks that a failed connect says why and leaves
// nothing running. Unless it was meant to time out, it must not have: the
// server's answer, not the join timeout, ended it.
func requireConnectError(t *testing.T, err error, took time.Duration, status int, reason string) *lksdk.ConnectError {
	t.Helper()
	require.Error(t, err)
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
	require.Less(t, took, connectHangBound, "the connect hung")
	if reason != "" {
		require.NotErrorIs(t, err, lksdk.ErrConnectionTimeout, "the connect failed on the answer, not on a timeout")
	}
	var ce *lksdk.ConnectError
	require.True(t, errors.As(err, &ce), "not a ConnectError: %v", err)
	if status != 0 {
		require.Equal(t, status, ce.StatusCode)
		require.ErrorIs(t, err, lksdk.ErrSignalError)
	}
	require.Contains(t, ce.Reason+err.Error(), reason)
	require.NotContains(t, err.Error(), "eyJ", "the token is not quoted in errors")
	return ce
}

func noLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

func TestConnectFailuresCarryTheServersReason(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	noLeaks(t)

	t.Run("bad secret", func(t *testing.T) {
		start := time.Now()
		_, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
			APIKey: srv.APIKey, APISecret: "wrong-secret-wrong-secret-wrong-secret", RoomName: room, ParticipantIdentity: "x",
		}, nil, loopback(t)...)
		ce := requireConnectError(t, err, time.Since(start), http.StatusUnauthorized, "invalid token")
		require.Equal(t, lksdk.PhaseSignalDial, ce.Phase)
	})
	t.Run("expired token", func(t *testing.T) {
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": srv.APIKey, "sub": "x", "nbf": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-10 * time.Minute).Unix(),
			"video": map[string]any{"roomJoin": true, "room": room},
		}).SignedString([]byte(srv.APISecret))
		require.NoError(t, err)
		start := time.Now()
		_, err = lksdk.ConnectToRoomWithToken(srv.URL, token, nil, loopback(t)...)
		requireConnectError(t, err, time.Since(start), http.StatusUnauthorized, "expired")
	})
	t.Run("token that does not grant the room", func(t *testing.T) {
		token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("x").
			SetVideoGrant(&auth.VideoGrant{RoomList: true, Room: room}).ToJWT()
		require.NoError(t, err)
		start := time.Now()
		_, err = lksdk.ConnectToRoomWithToken(srv.URL, token, nil, loopback(t)...)
		requireConnectError(t, err, time.Since(start), http.StatusUnauthorized, "permissions denied")
	})
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		start := time.Now()
		_, err = lksdk.ConnectToRoom("ws://"+addr, lksdk.ConnectInfo{
			APIKey: "k", APISecret: "s", RoomName: room, ParticipantIdentity: "x",
		}, nil, loopback(t)...)
		requireConnectError(t, err, time.Since(start), 0, "connection refused")
	})
	t.Run("server that never answers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r := lksdk.CreateRoom(nil)
		start := time.Now()
		err = r.JoinWithContext(ctx, "ws://"+l.Addr().String(), lksdk.ConnectInfo{
			APIKey: "k", APISecret: "s", RoomName: room, ParticipantIdentity: "x",
		}, loopback(t)...)
		requireConnectError(t, err, time.Since(start), 0, "")
		require.ErrorIs(t, err, lksdk.ErrConnectionTimeout)
		if c, ok := <-accepted; ok {
			c.Close()
		}
	})
	t.Run("bad url", func(t *testing.T) {
		_, err := lksdk.ConnectToRoomWithToken("ftp://host", "token", nil)
		require.ErrorIs(t, err, lksdk.ErrInvalidURL)
	})
}

func TestCallbacksMayCallTheSDK(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	var a *lksdk.Room
	ready := make(chan struct{})
	published := make(chan error, 1)
	a = join(t, srv, room, "alice", &lksdk.RoomCallback{
		OnParticipantConnected: func(rp *lksdk.RemoteParticipant) {
			<-ready
			// Publishing data from a callback waits for the publisher
			// connection, which the engine brings up meanwhile.
			published <- a.LocalParticipant.PublishDataPacket(context.Background(), []byte("hello "+rp.Identity()),
				lksdk.WithDataDestinations(rp.Identity()))
		},
	})
	close(ready)

	var b *lksdk.Room
	bReady := make(chan struct{})
	got := make(chan string, 1)
	b = join(t, srv, room, "bob", &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnDataReceived: func(data []byte, rp *lksdk.RemoteParticipant) {
				<-bReady
				b.Disconnect() // from inside a callback
				got <- string(data)
			},
		},
	})
	close(bReady)
	require.NoError(t, recv(t, published, 10*time.Second, "publish from a callback"))
	require.Equal(t, "hello bob", recv(t, got, 10*time.Second, "data at bob"))
	recv(t, b.Done(), 5*time.Second, "bob's room to close after the callback")
}
