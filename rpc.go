package lksdk

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
)

// RpcErrorCode is the code of an RPC error. Codes 1001-1999 are reserved for
// the built-in errors below; an application picks its own outside them.
type RpcErrorCode uint32

// The built-in RPC error codes, as every LiveKit SDK uses them.
const (
	// RpcApplicationError: the method's handler failed with an error that
	// is not an *RpcError.
	RpcApplicationError RpcErrorCode = 1500
	// RpcConnectionTimeout: the recipient did not acknowledge the request
	// in time (RpcAckTimeout).
	RpcConnectionTimeout RpcErrorCode = 1501
	// RpcResponseTimeout: the recipient acknowledged the request but did not
	// answer within the response timeout.
	RpcResponseTimeout RpcErrorCode = 1502
	// RpcRecipientDisconnected: the recipient left the room before it
	// answered.
	RpcRecipientDisconnected RpcErrorCode = 1503
	// RpcResponsePayloadTooLarge: the handler's answer is larger than
	// MaxPayloadBytes.
	RpcResponsePayloadTooLarge RpcErrorCode = 1504
	// RpcSendFailed: the request could not be sent (not connected, or the
	// room closed while waiting).
	RpcSendFailed RpcErrorCode = 1505

	// RpcUnsupportedMethod: the recipient has no handler for the method.
	RpcUnsupportedMethod RpcErrorCode = 1400
	// RpcRecipientNotFound: no participant has the destination identity.
	RpcRecipientNotFound RpcErrorCode = 1401
	// RpcRequestPayloadTooLarge: the request's payload is larger than
	// MaxPayloadBytes; it is not sent.
	RpcRequestPayloadTooLarge RpcErrorCode = 1402
	// RpcUnsupportedServer: the server is older than 1.8.0 and does not
	// relay RPC.
	RpcUnsupportedServer RpcErrorCode = 1403
	// RpcUnsupportedVersion: the request uses an RPC version the recipient
	// does not speak.
	RpcUnsupportedVersion RpcErrorCode = 1404
)

const (
	// MaxMessageBytes is the longest RPC error message sent; longer ones are
	// cut (at a character boundary).
	MaxMessageBytes = 256
	// MaxDataBytes is the longest RPC error data sent; longer is cut.
	MaxDataBytes = 15360
	// MaxPayloadBytes is the largest RPC request or response payload, in
	// bytes (15 KiB), as the protocol defines it.
	MaxPayloadBytes = 15360

	// RpcAckTimeout is how long a caller waits for the recipient to
	// acknowledge a request: the longest round trip the protocol allows for.
	RpcAckTimeout = 7 * time.Second
	// DefaultRpcResponseTimeout is the response timeout of a call that sets
	// none.
	DefaultRpcResponseTimeout = 10 * time.Second
	// minRpcHandlerTimeout is the least time a handler is told it has.
	minRpcHandlerTimeout = time.Second
	// rpcVersion is the version of the RPC protocol spoken: requests and
	// responses as single data packets.
	rpcVersion = 1
)

var rpcErrorMessages = map[RpcErrorCode]string{
	RpcApplicationError:        "Application error in method handler",
	RpcConnectionTimeout:       "Connection timeout",
	RpcResponseTimeout:         "Response timeout",
	RpcRecipientDisconnected:   "Recipient disconnected",
	RpcResponsePayloadTooLarge: "Response payload too large",
	RpcSendFailed:              "Failed to send",
	RpcUnsupportedMethod:       "Method not supported at destination",
	RpcRecipientNotFound:       "Recipient not found",
	RpcRequestPayloadTooLarge:  "Request payload too large",
	RpcUnsupportedServer:       "RPC not supported by server",
	RpcUnsupportedVersion:      "Unsupported RPC version",
}

// PerformRpcParams describe an RPC call.
type PerformRpcParams struct {
	// DestinationIdentity is the identity of the participant to call.
	DestinationIdentity string
	// Method is the name of the method to call.
	Method string
	// Payload is the request, in a format the method defines (JSON, say);
	// at most MaxPayloadBytes.
	Payload string
	// ResponseTimeout bounds the whole call, from sending to the answer;
	// nil means DefaultRpcResponseTimeout.
	ResponseTimeout *time.Duration
}

// RpcInvocationData is what a method handler is called with.
type RpcInvocationData struct {
	// RequestID is the call's id, the same at both ends.
	RequestID string
	// CallerIdentity is the identity of the participant that called.
	CallerIdentity string
	// Payload is the request.
	Payload string
	// ResponseTimeout is how long the caller waits for the answer, from now.
	ResponseTimeout time.Duration
}

// RpcHandlerFunc answers an RPC call with a payload (at most
// MaxPayloadBytes) or an error. An *RpcError is passed to the caller as it
// is; any other error reaches the caller as RpcApplicationError.
type RpcHandlerFunc func(data RpcInvocationData) (string, error)

// RpcHandlerFuncWithContext is RpcHandlerFunc with a context that ends when
// the caller stops waiting (its response timeout) or the room closes.
type RpcHandlerFuncWithContext func(ctx context.Context, data RpcInvocationData) (string, error)

// RpcError is the error of an RPC call: one of the built-in codes, or an
// application's own code and message passed from the handler to the caller.
type RpcError struct {
	Code    RpcErrorCode
	Message string
	// Data is optional detail, at most MaxDataBytes.
	Data *string

	cause error // the local cause (a closed room, a send error), if any
}

// NewRpcError returns an error with the given code, message and optional
// data. Returned from a method handler, it reaches the caller as it is. A
// message longer than MaxMessageBytes, or data longer than MaxDataBytes, is
// cut.
func NewRpcError(code RpcErrorCode, message string, data *string) *RpcError {
	e := &RpcError{Code: code, Message: truncateUTF8(message, MaxMessageBytes)}
	if data != nil {
		d := truncateUTF8(*data, MaxDataBytes)
		e.Data = &d
	}
	return e
}

// builtinRpcError returns the built-in error of code, with the standard
// message, the optional detail and the local cause.
func builtinRpcError(code RpcErrorCode, detail string, cause error) *RpcError {
	e := NewRpcError(code, rpcErrorMessages[code], nil)
	if detail != "" {
		e.Data = &detail
	}
	e.cause = cause
	return e
}

// Error says the code and message.
func (e *RpcError) Error() string {
	msg := fmt.Sprintf("RpcError %d: %s", e.Code, e.Message)
	if e.Data != nil && *e.Data != "" {
		msg += " (" + *e.Data + ")"
	}
	return msg
}

// Unwrap returns the local cause of the error, such as ErrNotConnected or a
// context's error, or nil.
func (e *RpcError) Unwrap() error { return e.cause }

func (e *RpcError) toProto() *livekit.RpcError {
	pe := &livekit.RpcError{Code: uint32(e.Code), Message: e.Message}
	if e.Data != nil {
		pe.Data = *e.Data
	}
	return pe
}

func rpcErrorFromProto(pe *livekit.RpcError) *RpcError {
	e := &RpcError{Code: RpcErrorCode(pe.GetCode()), Message: pe.GetMessage()}
	if pe.GetData() != "" {
		d := pe.GetData()
		e.Data = &d
	}
	return e
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
