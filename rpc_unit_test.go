package lksdk

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func TestRpcErrorLimitsAndWire(t *testing.T) {
	long := strings.Repeat("é", MaxMessageBytes) // 2 bytes each
	data := strings.Repeat("d", MaxDataBytes+10)
	e := NewRpcError(2001, long, &data)
	require.LessOrEqual(t, len(e.Message), MaxMessageBytes)
	require.True(t, strings.HasPrefix(long, e.Message), "cut, not changed")
	require.Equal(t, 0, len(e.Message)%2, "no character split")
	require.Len(t, *e.Data, MaxDataBytes)

	back := rpcErrorFromProto(e.toProto())
	require.Equal(t, e.Code, back.Code)
	require.Equal(t, e.Message, back.Message)
	require.Equal(t, *e.Data, *back.Data)
	require.Nil(t, rpcErrorFromProto(&livekit.RpcError{Code: 1}).Data, "no data stays none")

	b := builtinRpcError(RpcSendFailed, "room disconnected", ErrNotConnected)
	require.Equal(t, "Failed to send", b.Message)
	require.ErrorIs(t, b, ErrNotConnected)
	require.Contains(t, b.Error(), "1505")
	require.False(t, errors.Is(NewRpcError(1, "x", nil), ErrNotConnected))
}

func TestVersionBefore(t *testing.T) {
	for v, want := range map[string]bool{
		"1.7.2": true, "0.15.0": true, "1.8.0": false, "1.9.11": false, "v2.0.0": false, "": false, "dev": false,
	} {
		require.Equal(t, want, versionBefore(v, 1, 8), v)
	}
}

func TestNewUUID(t *testing.T) {
	a, b := newUUID(), newUUID()
	require.NotEqual(t, a, b)
	require.Len(t, a, 36)
	require.Equal(t, byte('4'), a[14], "version 4")
	require.Contains(t, "89ab", string(a[19]), "RFC 4122 variant")
}

func TestRPCStateEndsCalls(t *testing.T) {
	s := newRPCState()
	s.leftGrace = 50 * time.Millisecond
	a, _ := s.add("1", "alice")
	b, _ := s.add("2", "bob")
	s.ack("1")
	<-a.acked
	s.respond(&livekit.RpcResponse{RequestId: "1", Value: &livekit.RpcResponse_Payload{Payload: "ok"}})
	s.respond(&livekit.RpcResponse{RequestId: "1", Value: &livekit.RpcResponse_Payload{Payload: "again"}})
	require.Equal(t, "ok", (<-a.result).payload, "the first answer wins")
	s.recipientLeft("bob")
	require.Equal(t, RpcRecipientDisconnected, (<-b.result).err.Code)
	// An answer sent before its sender left can come after the news.
	e, _ := s.add("5", "erin")
	s.recipientLeft("erin")
	s.respond(&livekit.RpcResponse{RequestId: "5", Value: &livekit.RpcResponse_Payload{Payload: "sent before leaving"}})
	require.Equal(t, "sent before leaving", (<-e.result).payload)
	c, _ := s.add("3", "carol")
	s.closeAll()
	require.Equal(t, RpcSendFailed, (<-c.result).err.Code)
	_, ok := s.add("4", "dave")
	require.False(t, ok, "a closed room takes no calls")
	s.respond(&livekit.RpcResponse{RequestId: "unknown"}) // ignored
}
