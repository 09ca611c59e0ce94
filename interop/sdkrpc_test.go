package interop_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/interop"
)

// RPC payloads at and past the limit, counted in bytes: "✓" is three bytes
// in UTF-8, so the oversized one is shorter than the limit in characters.
var (
	rpcAtLimit  = strings.Repeat("✓", lksdk.MaxPayloadBytes/3)
	rpcOverSize = strings.Repeat("✓", lksdk.MaxPayloadBytes/3+1)
	rpcTooBig   = strings.Repeat("x", 16*1024) // an answer past the limit
)

// The standard messages of the built-in RPC errors, as every SDK sends them.
const (
	msgUnsupportedMethod = "Method not supported at destination"
	msgResponseTooLarge  = "Response payload too large"
	msgApplicationError  = "Application error in method handler"
	msgRecipientLeft     = "Recipient disconnected"
)

// rpcInvocation is an rpcInvoked event: a call a peer's handler got.
type rpcInvocation struct {
	Method          string  `json:"method"`
	RequestID       string  `json:"requestId"`
	CallerIdentity  string  `json:"callerIdentity"`
	Payload         string  `json:"payload"`
	ResponseTimeout float64 `json:"responseTimeout"`
}

// TestRPCBothWays calls methods between the Go SDK and each peer, in both
// directions, with each side's own RPC API: a round trip (also with a
// payload at the size limit, counted in bytes), a handler's own error with
// its code, message and data, a handler's plain error, an unknown method,
// a timeout, a request and an answer past the size limit, and a recipient
// that leaves before it answers. Each fails with the standard error code
// on the calling side.
func TestRPCBothWays(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		me := "peer-" + kind
		r := joinGo(t, srv, room, participant{identity: "go-rpc"}, nil)
		goCalls := registerGoRPC(t, r)
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me})
		for method, reply := range map[string]map[string]any{
			"echo":  {"echo": true},
			"fail":  {"error": map[string]any{"code": 2001, "message": "the handler failed", "data": "details"}},
			"plain": {"throwPlain": "something internal"},
			"slow":  {"delayMs": 3000, "payload": "late"},
			"big":   {"payload": rpcTooBig},
			"hang":  {"delayMs": 20000, "payload": "never"},
		} {
			require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "registerRpc", map[string]any{"method": method, "reply": reply}, nil))
		}
		eventually(t, 20*time.Second, func() bool { return r.GetParticipantByIdentity(me) != nil }, "Go never saw %s", me)
		requirePeerSees(t, peer, "go-rpc")

		t.Run("GoToPeer", func(t *testing.T) {
			call := func(method, payload string, timeout time.Duration) (*string, error) {
				return r.LocalParticipant.PerformRpcWithContext(ctxFor(t, 30*time.Second), lksdk.PerformRpcParams{
					DestinationIdentity: me, Method: method, Payload: payload, ResponseTimeout: &timeout,
				})
			}
			t.Run("RoundTrip", func(t *testing.T) {
				payload := "hello, " + kind + " ✓"
				res, err := call("echo", payload, 10*time.Second)
				require.NoError(t, err)
				assert.Equal(t, payload, *res)
				inv := peerInvocation(t, peer, payload)
				assert.Equal(t, "echo", inv.Method)
				assert.Equal(t, "go-rpc", inv.CallerIdentity)
				assert.NotEmpty(t, inv.RequestID)
				t.Logf("the %s peer's handler was given %v ms to answer a call of 10 s", kind, inv.ResponseTimeout)
			})
			t.Run("AtSizeLimit", func(t *testing.T) {
				res, err := call("echo", rpcAtLimit, 10*time.Second)
				require.NoError(t, err)
				assert.Equal(t, rpcAtLimit, *res)
			})
			t.Run("HandlerError", func(t *testing.T) {
				_, err := call("fail", "x", 10*time.Second)
				requireGoRPCError(t, err, 2001, "the handler failed", "details")
			})
			t.Run("PlainError", func(t *testing.T) {
				_, err := call("plain", "x", 10*time.Second)
				requireGoRPCError(t, err, lksdk.RpcApplicationError, msgApplicationError, "")
			})
			t.Run("UnknownMethod", func(t *testing.T) {
				_, err := call("no-such-method", "x", 10*time.Second)
				requireGoRPCError(t, err, lksdk.RpcUnsupportedMethod, msgUnsupportedMethod, "")
			})
			t.Run("Timeout", func(t *testing.T) {
				_, err := call("slow", "x", time.Second)
				requireGoRPCError(t, err, lksdk.RpcResponseTimeout, "Response timeout", "")
			})
			t.Run("RequestTooLarge", func(t *testing.T) {
				before := len(peer.Events("rpcInvoked"))
				_, err := call("echo", rpcOverSize, 10*time.Second)
				requireGoRPCError(t, err, lksdk.RpcRequestPayloadTooLarge, "Request payload too large", "")
				// It was refused before it was sent: the round trip after
				// it is the next call the peer sees.
				_, err = call("echo", "after", 10*time.Second)
				require.NoError(t, err)
				peerInvocation(t, peer, "after")
				calls := peer.Events("rpcInvoked")[before:]
				if assert.Len(t, calls, 1) {
					var inv rpcInvocation
					require.NoError(t, calls[0].Decode(&inv))
					assert.Equal(t, "after", inv.Payload)
				}
			})
			t.Run("ResponseTooLarge", func(t *testing.T) {
				_, err := call("big", "x", 10*time.Second)
				requireGoRPCError(t, err, lksdk.RpcResponsePayloadTooLarge, msgResponseTooLarge, "")
			})
		})

		t.Run("PeerToGo", func(t *testing.T) {
			t.Run("RoundTrip", func(t *testing.T) {
				payload := "hello from " + kind + " ✓"
				var res struct{ Payload string }
				require.NoError(t, peer.Call(ctxFor(t, 20*time.Second), "performRpc", map[string]any{
					"destination": "go-rpc", "method": "echo", "payload": payload, "responseTimeoutMs": 10000,
				}, &res))
				assert.Equal(t, payload, res.Payload)
				inv := goCalls.last()
				require.NotNil(t, inv)
				assert.Equal(t, me, inv.CallerIdentity)
				assert.Equal(t, payload, inv.Payload)
				assert.NotEmpty(t, inv.RequestID)
				assert.Positive(t, inv.ResponseTimeout)
				t.Logf("the Go handler was given %s to answer the %s peer's call of 10 s", inv.ResponseTimeout, kind)
			})
			t.Run("AtSizeLimit", func(t *testing.T) {
				var res struct{ Payload string }
				require.NoError(t, peer.Call(ctxFor(t, 20*time.Second), "performRpc", map[string]any{
					"destination": "go-rpc", "method": "echo", "payload": rpcAtLimit, "responseTimeoutMs": 10000,
				}, &res))
				assert.Equal(t, rpcAtLimit, res.Payload)
			})
			cases := []struct {
				name, method, payload string
				timeoutMs             int
				code                  int
				msg, data             string
			}{
				{"HandlerError", "fail", "x", 10000, 2001, "the handler failed", "details"},
				{"PlainError", "plain", "x", 10000, int(lksdk.RpcApplicationError), msgApplicationError, ""},
				{"UnknownMethod", "no-such-method", "x", 10000, int(lksdk.RpcUnsupportedMethod), msgUnsupportedMethod, ""},
				{"Timeout", "slow", "x", 1000, int(lksdk.RpcResponseTimeout), "", ""},
				{"RequestTooLarge", "echo", rpcOverSize, 10000, int(lksdk.RpcRequestPayloadTooLarge), "", ""},
				{"ResponseTooLarge", "big", "x", 10000, int(lksdk.RpcResponsePayloadTooLarge), msgResponseTooLarge, ""},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					before := goCalls.count()
					err := peer.Call(ctxFor(t, 20*time.Second), "performRpc", map[string]any{
						"destination": "go-rpc", "method": c.method, "payload": c.payload, "responseTimeoutMs": c.timeoutMs,
					}, nil)
					requirePeerRPCError(t, err, c.code, c.msg, c.data)
					if c.name == "RequestTooLarge" {
						assert.Equal(t, before, goCalls.count(), "the oversized request reached the Go handler")
					}
				})
			}
		})

		t.Run("RecipientLeaves", func(t *testing.T) {
			// The peer calls a second Go participant, which leaves before
			// it answers. livekit-client fails the call when it sees the
			// participant leave; the Rust core (rtc-node) does not look at
			// departures and fails it at the response timeout.
			other := joinGo(t, srv, room, participant{identity: "go-leaver"}, nil)
			invoked := make(chan struct{})
			var once sync.Once
			require.NoError(t, other.RegisterRpcMethodWithContext("hang", func(ctx context.Context, _ lksdk.RpcInvocationData) (string, error) {
				once.Do(func() { close(invoked) })
				<-ctx.Done()
				return "", ctx.Err()
			}))
			requirePeerSees(t, peer, "go-leaver")
			peerErr := make(chan error, 1)
			go func() {
				peerErr <- peer.Call(context.Background(), "performRpc", map[string]any{
					"destination": "go-leaver", "method": "hang", "payload": "x", "responseTimeoutMs": 5000,
				}, nil)
			}()
			recv(t, invoked, 20*time.Second, "the peer's call to go-leaver")
			// The acknowledgement went before the handler ran; a packet sent
			// after it on the same ordered channel shows it arrived, so the
			// call is waiting for its answer when go-leaver leaves.
			require.NoError(t, other.LocalParticipant.PublishDataPacket(ctxFor(t, 10*time.Second), []byte("leaving"),
				lksdk.WithDataTopic("rpc-leaver"), lksdk.WithDataDestinations(me)))
			_, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "data", func(e interop.Event) bool {
				var d peerData
				return e.Decode(&d) == nil && d.Topic == "rpc-leaver"
			})
			require.NoError(t, err, "the peer never got go-leaver's packet")
			other.Disconnect()
			_, err = peer.WaitEvent(ctxFor(t, 20*time.Second), "participantDisconnected", func(e interop.Event) bool {
				var p peerPerson
				return e.Decode(&p) == nil && p.Identity == "go-leaver"
			})
			require.NoError(t, err, "the peer never saw go-leaver leave")
			want := lksdk.RpcRecipientDisconnected
			if kind == interop.KindNode {
				want = lksdk.RpcResponseTimeout
			}
			requirePeerRPCError(t, recv(t, peerErr, 20*time.Second, "the peer's call to end"), int(want), "", "")

			// Go calls the peer, which leaves before it answers.
			goErr := make(chan error, 1)
			go func() {
				timeout := 20 * time.Second
				_, err := r.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
					DestinationIdentity: me, Method: "hang", Payload: "x", ResponseTimeout: &timeout,
				})
				goErr <- err
			}()
			_, err = peer.WaitEvent(ctxFor(t, 20*time.Second), "rpcInvoked", func(e interop.Event) bool {
				var inv rpcInvocation
				return e.Decode(&inv) == nil && inv.Method == "hang"
			})
			require.NoError(t, err, "the peer never got the call")
			require.NoError(t, peer.Call(ctxFor(t, 20*time.Second), "leave", nil, nil))
			requireGoRPCError(t, recv(t, goErr, 15*time.Second, "Go's call to end"), lksdk.RpcRecipientDisconnected, msgRecipientLeft, "")
		})
	})
}

// goRPCHandlers records the calls the Go participant's handlers got.
type goRPCHandlers struct {
	mu    sync.Mutex
	calls []lksdk.RpcInvocationData
}

func (h *goRPCHandlers) record(d lksdk.RpcInvocationData) {
	h.mu.Lock()
	h.calls = append(h.calls, d)
	h.mu.Unlock()
}

func (h *goRPCHandlers) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

func (h *goRPCHandlers) last() *lksdk.RpcInvocationData {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.calls) == 0 {
		return nil
	}
	d := h.calls[len(h.calls)-1]
	return &d
}

// registerGoRPC registers on r the methods the peers call, the same set
// as the peers register, and returns the record of their calls.
func registerGoRPC(t *testing.T, r *lksdk.Room) *goRPCHandlers {
	t.Helper()
	h := &goRPCHandlers{}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	handlers := map[string]lksdk.RpcHandlerFunc{
		"echo": func(d lksdk.RpcInvocationData) (string, error) { return d.Payload, nil },
		"fail": func(lksdk.RpcInvocationData) (string, error) {
			data := "details"
			return "", lksdk.NewRpcError(2001, "the handler failed", &data)
		},
		"plain": func(lksdk.RpcInvocationData) (string, error) { return "", errors.New("something internal") },
		// Slower than the caller waits, whatever time the caller's SDK
		// tells the handler it has.
		"slow": func(lksdk.RpcInvocationData) (string, error) {
			select {
			case <-time.After(3 * time.Second):
			case <-stop:
			}
			return "late", nil
		},
		"big": func(lksdk.RpcInvocationData) (string, error) { return rpcTooBig, nil },
	}
	for method, f := range handlers {
		require.NoError(t, r.RegisterRpcMethod(method, func(d lksdk.RpcInvocationData) (string, error) {
			h.record(d)
			return f(d)
		}))
	}
	return h
}

// requirePeerSees waits until peer lists identity among the participants.
func requirePeerSees(t *testing.T, peer *interop.Peer, identity string) {
	t.Helper()
	require.True(t, waitFor(20*time.Second, func() bool {
		var st struct {
			Participants []peerPerson `json:"participants"`
		}
		return peer.Call(ctxFor(t, 10*time.Second), "state", nil, &st) == nil && findPerson(st.Participants, identity) != nil
	}), "the %s peer never saw %s", peer.Kind, identity)
}

// peerInvocation returns the peer's report of the call with payload.
func peerInvocation(t *testing.T, peer *interop.Peer, payload string) rpcInvocation {
	t.Helper()
	ev, err := peer.WaitEvent(ctxFor(t, 10*time.Second), "rpcInvoked", func(e interop.Event) bool {
		var inv rpcInvocation
		return e.Decode(&inv) == nil && inv.Payload == payload
	})
	require.NoError(t, err, "the peer's handler never got the call")
	var inv rpcInvocation
	require.NoError(t, ev.Decode(&inv))
	return inv
}

// requireGoRPCError checks that the Go SDK's call failed with an *RpcError
// of code and message, and data (none when empty).
func requireGoRPCError(t *testing.T, err error, code lksdk.RpcErrorCode, msg, data string) {
	t.Helper()
	var re *lksdk.RpcError
	require.True(t, errors.As(err, &re), "want an *lksdk.RpcError, got %T: %v", err, err)
	assert.Equal(t, code, re.Code, "%v", re)
	assert.Equal(t, msg, re.Message, "%v", re)
	if data == "" {
		if re.Data != nil {
			t.Logf("error data: %q", *re.Data)
		}
	} else if assert.NotNil(t, re.Data, "%v", re) {
		assert.Equal(t, data, *re.Data)
	}
}

// requirePeerRPCError checks that a peer's performRpc failed with code, and
// with msg and data when they are given.
func requirePeerRPCError(t *testing.T, err error, code int, msg, data string) {
	t.Helper()
	var perr *interop.Error
	require.True(t, errors.As(err, &perr), "want the peer's RPC error, got %v", err)
	assert.Equal(t, code, perr.Code, "%v", perr)
	if msg != "" {
		assert.Equal(t, msg, perr.Message, "%v", perr)
	}
	if data != "" {
		assert.Equal(t, data, perr.Data, "%v", perr)
	}
}
