package interop_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// TestServerRPCToPeer calls methods the peer registered with its SDK's RPC
// API through RoomServiceClient.PerformRpc: a round trip, a handler's error
// with its code, message and data, an unknown method, a timeout and an
// oversized payload.
func TestServerRPCToPeer(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		me := "peer-" + kind
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me})
		for method, reply := range map[string]map[string]any{
			"echo": {"echo": true},
			"fail": {"error": map[string]any{"code": 2001, "message": "the handler failed", "data": "details"}},
			"slow": {"delayMs": 4000, "payload": "late"},
		} {
			require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "registerRpc", map[string]any{"method": method, "reply": reply}, nil))
		}
		rs := lksdk.NewRoomServiceClient(srv.HTTPURL, srv.APIKey, srv.APISecret)
		perform := func(method, payload string, timeout time.Duration) (*livekit.PerformRpcResponse, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return rs.PerformRpc(ctx, &livekit.PerformRpcRequest{
				Room: room, DestinationIdentity: me, Method: method, Payload: payload,
				ResponseTimeoutMs: uint32(timeout.Milliseconds()),
			})
		}

		t.Run("RoundTrip", func(t *testing.T) {
			payload := "hello, " + kind + " ✓"
			res, err := perform("echo", payload, 10*time.Second)
			require.NoError(t, err)
			assert.Equal(t, payload, res.Payload)
			ev, err := peer.WaitEvent(ctxFor(t, 10*time.Second), "rpcInvoked", nil)
			require.NoError(t, err)
			var inv struct {
				Method, Payload string
			}
			require.NoError(t, ev.Decode(&inv))
			assert.Equal(t, "echo", inv.Method)
			assert.Equal(t, payload, inv.Payload)
		})

		t.Run("HandlerError", func(t *testing.T) {
			_, err := perform("fail", "x", 10*time.Second)
			t.Logf("handler error: %v", describeTwirp(err))
			requireRPCError(t, err, 2001, "the handler failed: details")
		})

		t.Run("UnknownMethod", func(t *testing.T) {
			_, err := perform("no-such-method", "x", 10*time.Second)
			t.Logf("unknown method: %v", describeTwirp(err))
			requireRPCError(t, err, 1400, "Method not supported")
		})

		t.Run("Timeout", func(t *testing.T) {
			_, err := perform("slow", "x", time.Second)
			t.Logf("timeout: %v", describeTwirp(err))
			requireRPCError(t, err, 1502, "Response timeout")
		})

		t.Run("OversizedPayload", func(t *testing.T) {
			_, err := perform("echo", strings.Repeat("x", 16*1024), 10*time.Second)
			t.Logf("oversized: %v", describeTwirp(err))
			requireRPCError(t, err, 1402, "Request payload too large")
		})
	})
}

func describeTwirp(err error) string {
	var terr twirp.Error
	if !errors.As(err, &terr) {
		return "not a twirp error: " + errString(err)
	}
	return string(terr.Code()) + " " + terr.Msg() + " " + strings.Join(metaPairs(terr), " ")
}

func metaPairs(terr twirp.Error) []string {
	var out []string
	for k, v := range terr.MetaMap() {
		out = append(out, k+"="+v)
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// rpcErrorText is how the server's API puts an RPC error in a Twirp
// error's message: "RpcError <code>: <message>[: <data>]".
var rpcErrorText = regexp.MustCompile(`RpcError (\d+): (.*)$`)

// requireRPCError checks that err is a Twirp error carrying the RPC error
// code, whose message contains msg.
func requireRPCError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var terr twirp.Error
	require.True(t, errors.As(err, &terr), "want a Twirp error, got %v", err)
	m := rpcErrorText.FindStringSubmatch(terr.Msg())
	require.NotNil(t, m, "no RPC error in %q", terr.Msg())
	got, _ := strconv.Atoi(m[1])
	assert.Equal(t, code, got, "RPC error code in %q", terr.Msg())
	assert.Contains(t, m[2], msg)
}
