package lksdk_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func rpcErr(t *testing.T, err error) *lksdk.RpcError {
	t.Helper()
	require.Error(t, err)
	var re *lksdk.RpcError
	require.True(t, errors.As(err, &re), "want an *RpcError, got %T: %v", err, err)
	return re
}

func dur(d time.Duration) *time.Duration { return &d }

func TestRPCBetweenParticipants(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)

	var got atomic.Pointer[lksdk.RpcInvocationData]
	require.NoError(t, bob.RegisterRpcMethod("greet", func(d lksdk.RpcInvocationData) (string, error) {
		got.Store(&d)
		return "hello " + d.CallerIdentity + ", you said " + d.Payload, nil
	}))
	require.Error(t, bob.RegisterRpcMethod("greet", func(lksdk.RpcInvocationData) (string, error) { return "", nil }),
		"a method has one handler")
	require.NoError(t, bob.RegisterRpcMethod("fail", func(d lksdk.RpcInvocationData) (string, error) {
		if d.Payload == "app" {
			data := "details"
			return "", lksdk.NewRpcError(2001, "no such order", &data)
		}
		return "", errors.New("something internal")
	}))
	require.NoError(t, bob.RegisterRpcMethod("big-answer", func(lksdk.RpcInvocationData) (string, error) {
		return strings.Repeat("x", lksdk.MaxPayloadBytes+1), nil
	}))
	var calls atomic.Int32
	require.NoError(t, bob.RegisterRpcMethod("count", func(lksdk.RpcInvocationData) (string, error) {
		calls.Add(1)
		return "", nil
	}))
	call := func(method, payload string) (*string, error) {
		return alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
			DestinationIdentity: "bob", Method: method, Payload: payload, ResponseTimeout: dur(5 * time.Second),
		})
	}

	t.Run("round trip", func(t *testing.T) {
		res, err := call("greet", "hi")
		require.NoError(t, err)
		require.Equal(t, "hello alice, you said hi", *res)
		d := got.Load()
		require.NotNil(t, d)
		require.NotEmpty(t, d.RequestID)
		// The handler is told less than the caller waits (the ack's round
		// trip is kept back), but at least a second.
		require.Equal(t, time.Second, d.ResponseTimeout)
	})
	t.Run("many concurrent calls each get their own answer", func(t *testing.T) {
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			go func(i int) {
				p := strings.Repeat("y", i)
				res, err := call("greet", p)
				if err == nil && *res != "hello alice, you said "+p {
					err = errors.New("wrong answer " + *res)
				}
				errs <- err
			}(i)
		}
		for i := 0; i < 20; i++ {
			require.NoError(t, recv(t, errs, 20*time.Second, "answers"))
		}
	})
	t.Run("handler error with code, message and data", func(t *testing.T) {
		_, err := call("fail", "app")
		re := rpcErr(t, err)
		require.Equal(t, lksdk.RpcErrorCode(2001), re.Code)
		require.Equal(t, "no such order", re.Message)
		require.NotNil(t, re.Data)
		require.Equal(t, "details", *re.Data)
	})
	t.Run("other handler errors are application errors", func(t *testing.T) {
		_, err := call("fail", "other")
		re := rpcErr(t, err)
		require.Equal(t, lksdk.RpcApplicationError, re.Code)
		require.NotContains(t, re.Message, "internal", "the handler's error text stays local")
	})
	t.Run("unknown method", func(t *testing.T) {
		_, err := call("no-such-method", "")
		require.Equal(t, lksdk.RpcUnsupportedMethod, rpcErr(t, err).Code)
	})
	t.Run("unregistered method", func(t *testing.T) {
		_, err := call("count", "")
		require.NoError(t, err)
		bob.UnregisterRpcMethod("count")
		_, err = call("count", "")
		require.Equal(t, lksdk.RpcUnsupportedMethod, rpcErr(t, err).Code)
		require.Equal(t, int32(1), calls.Load())
	})
	t.Run("oversized request is not sent", func(t *testing.T) {
		_, err := call("count", strings.Repeat("z", lksdk.MaxPayloadBytes+1))
		require.Equal(t, lksdk.RpcRequestPayloadTooLarge, rpcErr(t, err).Code)
		res, err := call("greet", strings.Repeat("z", lksdk.MaxPayloadBytes-100))
		require.NoError(t, err, "a payload within the limit goes through")
		require.Len(t, *res, lksdk.MaxPayloadBytes-100+len("hello alice, you said "))
	})
	t.Run("oversized response", func(t *testing.T) {
		_, err := call("big-answer", "")
		require.Equal(t, lksdk.RpcResponsePayloadTooLarge, rpcErr(t, err).Code)
	})
	t.Run("incoming calls are bounded", func(t *testing.T) {
		release := make(chan struct{})
		var started atomic.Int32
		require.NoError(t, bob.RegisterRpcMethod("block", func(lksdk.RpcInvocationData) (string, error) {
			started.Add(1)
			<-release
			return "", nil
		}))
		ctx, cancel := context.WithCancel(context.Background())
		const extra = 10
		done := make(chan struct{}, lksdk.MaxConcurrentRpcRequests+extra)
		for i := 0; i < lksdk.MaxConcurrentRpcRequests+extra; i++ {
			go func() {
				_, _ = alice.LocalParticipant.PerformRpcWithContext(ctx, lksdk.PerformRpcParams{
					DestinationIdentity: "bob", Method: "block", ResponseTimeout: dur(30 * time.Second),
				})
				done <- struct{}{}
			}()
		}
		eventually(t, 20*time.Second, func() bool {
			return started.Load() == lksdk.MaxConcurrentRpcRequests && bob.DroppedRpcRequests() == extra
		}, "calls to be answered up to the bound, the rest dropped")
		close(release)
		cancel()
		for i := 0; i < lksdk.MaxConcurrentRpcRequests+extra; i++ {
			recv(t, done, 20*time.Second, "the calls to end")
		}
		require.Equal(t, int32(lksdk.MaxConcurrentRpcRequests), started.Load())
	})
	t.Run("caller's context", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		require.NoError(t, bob.RegisterRpcMethod("stall", func(lksdk.RpcInvocationData) (string, error) {
			<-release
			return "late", nil
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := alice.LocalParticipant.PerformRpcWithContext(ctx, lksdk.PerformRpcParams{DestinationIdentity: "bob", Method: "stall"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestRPCResponseTimeout(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	release := make(chan struct{})
	defer close(release)
	require.NoError(t, bob.RegisterRpcMethod("slow", func(lksdk.RpcInvocationData) (string, error) {
		<-release
		return "too late", nil
	}))
	_, err := alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
		DestinationIdentity: "bob", Method: "slow", ResponseTimeout: dur(1500 * time.Millisecond),
	})
	require.Equal(t, lksdk.RpcResponseTimeout, rpcErr(t, err).Code, "acknowledged, then no answer in time")
}

func TestRPCNobodyAcknowledges(t *testing.T) {
	srv := lktest.Start(t)
	alice := join(t, srv, lktest.RoomName(t), "alice", nil)
	start := time.Now()
	_, err := alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
		DestinationIdentity: "nobody", Method: "any", ResponseTimeout: dur(30 * time.Second),
	})
	require.Equal(t, lksdk.RpcConnectionTimeout, rpcErr(t, err).Code)
	require.GreaterOrEqual(t, time.Since(start), lksdk.RpcAckTimeout, "the acknowledgement is waited for")
}

func TestRPCRecipientDisconnects(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	started := make(chan struct{})
	handlerDone := make(chan error, 1)
	require.NoError(t, bob.RegisterRpcMethodWithContext("hang", func(ctx context.Context, _ lksdk.RpcInvocationData) (string, error) {
		close(started)
		<-ctx.Done()
		handlerDone <- ctx.Err()
		return "", ctx.Err()
	}))
	errs := make(chan error, 1)
	go func() {
		_, err := alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
			DestinationIdentity: "bob", Method: "hang", ResponseTimeout: dur(30 * time.Second),
		})
		errs <- err
	}()
	recv(t, started, 10*time.Second, "the handler to start")
	bob.Disconnect()
	require.ErrorIs(t, recv(t, handlerDone, 5*time.Second, "the handler's context to end"), context.Canceled)
	err := recv(t, errs, 10*time.Second, "the call to fail")
	require.Equal(t, lksdk.RpcRecipientDisconnected, rpcErr(t, err).Code)
}

func TestRPCFailsWhenRoomCloses(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	require.NoError(t, bob.RegisterRpcMethod("hang", func(lksdk.RpcInvocationData) (string, error) {
		close(started)
		<-release
		return "", nil
	}))
	errs := make(chan error, 1)
	go func() {
		_, err := alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{
			DestinationIdentity: "bob", Method: "hang", ResponseTimeout: dur(30 * time.Second),
		})
		errs <- err
	}()
	recv(t, started, 10*time.Second, "the handler to start")
	alice.Disconnect()
	err := recv(t, errs, 5*time.Second, "the call to fail")
	require.Equal(t, lksdk.RpcSendFailed, rpcErr(t, err).Code)
	require.ErrorIs(t, err, lksdk.ErrNotConnected)

	_, err = alice.LocalParticipant.PerformRpc(lksdk.PerformRpcParams{DestinationIdentity: "bob", Method: "hang"})
	require.Equal(t, lksdk.RpcSendFailed, rpcErr(t, err).Code, "a closed room sends nothing")
}
