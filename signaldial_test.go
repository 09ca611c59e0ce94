package lksdk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
)

// Asking /rtc/validate why a join was refused goes through the signal
// client's own dialer and follows no redirect: the URL carries the token.
func TestValidateAsksThroughTheDialerAndFollowsNoRedirect(t *testing.T) {
	var stolen atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		http.Error(w, "took the token", http.StatusForbidden)
	}))
	t.Cleanup(sink.Close)

	for name, tc := range map[string]struct {
		validate http.HandlerFunc
		reason   string
	}{
		"redirected": {
			validate: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, sink.URL+"/collect?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
			},
			reason: "refused by the fake server", // the upgrade's own answer
		},
		"answered": {
			validate: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no permission to join", http.StatusUnauthorized)
			},
			reason: "no permission to join",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := startFake(t)
			s.Refuse = http.StatusUnauthorized
			s.Validate = tc.validate

			var dials atomic.Int32
			c := lksdk.NewSignalClient()
			c.Dialer = &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.JoinWithContext(ctx, s.URL(), "secret-token", lksdk.SignalOptions{})
			var ce *lksdk.ConnectError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Equal(t, lksdk.PhaseSignalDial, ce.Phase)
			require.Equal(t, http.StatusUnauthorized, ce.StatusCode)
			require.Equal(t, tc.reason, ce.Reason)
			require.EqualValues(t, 2, dials.Load(), "the upgrade and the validate request both went through the dialer")
			require.Zero(t, stolen.Load(), "the redirect was not followed")
		})
	}
}

// A room that never joined has no peer connections, and asking for them
// does not panic, before and after Disconnect.
func TestUnjoinedRoomHasNoPeerConnections(t *testing.T) {
	r := lksdk.CreateRoom(nil)
	require.Nil(t, r.LocalParticipant.GetPublisherPeerConnection())
	require.Nil(t, r.LocalParticipant.GetSubscriberPeerConnection())
	r.Disconnect()
	require.Nil(t, r.LocalParticipant.GetPublisherPeerConnection())
	require.Nil(t, r.LocalParticipant.GetSubscriberPeerConnection())

	// And one whose join failed: the server never answered in time.
	s := startFake(t)
	failed := lksdk.CreateRoom(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, failed.JoinWithContext(ctx, s.URL(), lksdk.ConnectInfo{
		APIKey: "key", APISecret: "a secret of at least thirty-two characters", RoomName: "r", ParticipantIdentity: "me",
	}), lksdk.ErrConnectionTimeout)
	require.Nil(t, failed.LocalParticipant.GetPublisherPeerConnection())
	require.Nil(t, failed.LocalParticipant.GetSubscriberPeerConnection())
}
