package lksdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// rpcState is a room's RPC state: the calls waiting for an answer and the
// registered methods.
type rpcState struct {
	mu       sync.Mutex
	pending  map[string]*pendingRPC // by request id
	handlers map[string]RpcHandlerFuncWithContext
	closed   bool
	running  int // requests being answered
	dropped  uint64
	dropLog  rateLog
	// leftGrace is how long a call to a participant that left may still
	// get its answer (SenderLeftGrace).
	leftGrace time.Duration
}

// MaxConcurrentRpcRequests bounds how many incoming calls a room answers at
// once. A request past it is dropped unanswered (its caller gets
// RpcConnectionTimeout) and counted in Room.DroppedRpcRequests.
const MaxConcurrentRpcRequests = 256

// pendingRPC is a call waiting for its acknowledgement and answer.
type pendingRPC struct {
	identity string        // of the recipient
	acked    chan struct{} // closed on the acknowledgement
	ackOnce  sync.Once
	result   chan rpcResult // one result, buffered
	// left fails the call once its recipient left and SenderLeftGrace
	// passed without the answer; under rpcState.mu.
	left *time.Timer
}

type rpcResult struct {
	payload string
	err     *RpcError
}

func newRPCState() *rpcState {
	return &rpcState{pending: map[string]*pendingRPC{}, handlers: map[string]RpcHandlerFuncWithContext{}, leftGrace: SenderLeftGrace}
}

func (s *rpcState) add(id, identity string) (*pendingRPC, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	p := &pendingRPC{identity: identity, acked: make(chan struct{}), result: make(chan rpcResult, 1)}
	s.pending[id] = p
	return p, true
}

func (s *rpcState) remove(id string) {
	s.mu.Lock()
	if p := s.pending[id]; p != nil && p.left != nil {
		p.left.Stop()
	}
	delete(s.pending, id)
	s.mu.Unlock()
}

func (s *rpcState) get(id string) *pendingRPC {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[id]
}

func (p *pendingRPC) resolve(res rpcResult) {
	select {
	case p.result <- res:
	default: // already resolved
	}
}

func (s *rpcState) ack(id string) {
	if p := s.get(id); p != nil {
		p.ackOnce.Do(func() { close(p.acked) })
	}
}

func (s *rpcState) respond(res *livekit.RpcResponse) {
	p := s.get(res.GetRequestId())
	if p == nil {
		return // late: the call already ended
	}
	switch v := res.Value.(type) {
	case *livekit.RpcResponse_Error:
		p.resolve(rpcResult{err: rpcErrorFromProto(v.Error)})
	case *livekit.RpcResponse_Payload:
		p.resolve(rpcResult{payload: v.Payload})
	case *livekit.RpcResponse_CompressedPayload:
		p.resolve(rpcResult{err: builtinRpcError(RpcUnsupportedVersion, "compressed response payload", nil)})
	default:
		p.resolve(rpcResult{})
	}
}

// recipientLeft fails the calls to identity whose answers have not come
// within the grace (SenderLeftGrace): an answer sent before its sender left
// may arrive after the news of the departure.
func (s *rpcState) recipientLeft(identity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pending {
		if p.identity == identity && p.left == nil {
			p.left = time.AfterFunc(s.leftGrace, func() {
				p.resolve(rpcResult{err: builtinRpcError(RpcRecipientDisconnected, "", nil)})
			})
		}
	}
}

// closeAll fails every call and refuses new ones.
func (s *rpcState) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, p := range s.pending {
		if p.left != nil {
			p.left.Stop()
		}
		p.resolve(rpcResult{err: builtinRpcError(RpcSendFailed, "room disconnected", ErrNotConnected)})
	}
}

// PerformRpc calls method on the participant DestinationIdentity and
// returns its answer. It fails with an *RpcError: the handler's own, or a
// built-in one (RpcConnectionTimeout when the recipient does not
// acknowledge within RpcAckTimeout, RpcResponseTimeout when the answer does
// not come within the response timeout, RpcRecipientDisconnected when the
// recipient leaves first, RpcUnsupportedMethod, RpcRequestPayloadTooLarge,
// RpcSendFailed when the room is not connected or closes).
func (p *LocalParticipant) PerformRpc(params PerformRpcParams) (*string, error) {
	return p.PerformRpcWithContext(context.Background(), params)
}

// PerformRpcWithContext is PerformRpc bounded by ctx as well: when ctx ends
// first, the call returns ctx's error and a late answer is dropped.
func (p *LocalParticipant) PerformRpcWithContext(ctx context.Context, params PerformRpcParams) (*string, error) {
	timeout := DefaultRpcResponseTimeout
	if params.ResponseTimeout != nil {
		timeout = *params.ResponseTimeout
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("lksdk: RPC response timeout must be positive, got %s", timeout)
	}
	if params.DestinationIdentity == "" || params.Method == "" {
		return nil, errors.New("lksdk: RPC needs a destination identity and a method")
	}
	if len(params.Payload) > MaxPayloadBytes {
		return nil, builtinRpcError(RpcRequestPayloadTooLarge, fmt.Sprintf("%d bytes, at most %d", len(params.Payload), MaxPayloadBytes), nil)
	}
	r := p.room
	if p.engine == nil || r.ConnectionState() == ConnectionStateDisconnected {
		return nil, builtinRpcError(RpcSendFailed, "not connected", ErrNotConnected)
	}
	if info := r.ServerInfo(); info != nil && versionBefore(info.Version, 1, 8) {
		return nil, builtinRpcError(RpcUnsupportedServer, "server "+info.Version, nil)
	}
	x := r.ext()
	id := newUUID()
	call, ok := x.rpc.add(id, params.DestinationIdentity)
	if !ok {
		return nil, builtinRpcError(RpcSendFailed, "room disconnected", ErrNotConnected)
	}
	defer x.rpc.remove(id)

	// The room's closing ends the send and the wait, as does ctx.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(x.ctx, cancel)
	defer stop()

	// The handler is told less time than the caller waits, to leave room
	// for the round trip of the answer.
	handlerTimeout := max(timeout-RpcAckTimeout, minRpcHandlerTimeout)
	responseTimer := time.NewTimer(timeout)
	defer responseTimer.Stop()
	ackTimer := time.NewTimer(RpcAckTimeout)
	defer ackTimer.Stop()

	err := p.publishData(ctx, &livekit.DataPacket{
		Kind:                  livekit.DataPacket_RELIABLE,
		DestinationIdentities: []string{params.DestinationIdentity},
		Value: &livekit.DataPacket_RpcRequest{RpcRequest: &livekit.RpcRequest{
			Id:                id,
			Method:            params.Method,
			Payload:           params.Payload,
			ResponseTimeoutMs: uint32(handlerTimeout / time.Millisecond),
			Version:           rpcVersion,
		}},
	})
	if err != nil {
		select {
		case res := <-call.result: // the room closed meanwhile
			return nil, res.err
		default:
		}
		if ctx.Err() != nil && x.ctx.Err() == nil {
			return nil, context.Cause(ctx)
		}
		return nil, builtinRpcError(RpcSendFailed, err.Error(), err)
	}

	acked := call.acked
	for {
		select {
		case res := <-call.result:
			if res.err != nil {
				return nil, res.err
			}
			return &res.payload, nil
		case <-acked:
			acked = nil
			ackTimer.Stop()
		case <-ackTimer.C:
			return nil, builtinRpcError(RpcConnectionTimeout, "", nil)
		case <-responseTimer.C:
			return nil, builtinRpcError(RpcResponseTimeout, "", nil)
		case <-ctx.Done():
			select {
			case res := <-call.result: // the room closed
				return nil, res.err
			default:
			}
			if x.ctx.Err() != nil {
				// The room closed, and its closing has not yet resolved
				// the call: the same answer it would give.
				return nil, builtinRpcError(RpcSendFailed, "room disconnected", ErrNotConnected)
			}
			return nil, ctx.Err()
		}
	}
}

// RegisterRpcMethod makes handler answer the calls of method from other
// participants. Each call runs its handler on a goroutine of its own, so
// handlers may take their time and call into the SDK. It fails if method
// already has a handler.
func (r *Room) RegisterRpcMethod(method string, handler RpcHandlerFunc) error {
	if handler == nil {
		return errors.New("lksdk: RegisterRpcMethod needs a handler")
	}
	return r.RegisterRpcMethodWithContext(method, func(_ context.Context, d RpcInvocationData) (string, error) {
		return handler(d)
	})
}

// RegisterRpcMethodWithContext is RegisterRpcMethod with a handler that gets
// a context, ended when the caller stops waiting or the room closes. A
// handler still running when the room closes is not waited for; its answer
// is dropped.
func (r *Room) RegisterRpcMethodWithContext(method string, handler RpcHandlerFuncWithContext) error {
	if method == "" || handler == nil {
		return errors.New("lksdk: RegisterRpcMethod needs a method name and a handler")
	}
	s := r.ext().rpc
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.handlers[method]; ok {
		return fmt.Errorf("lksdk: RPC method %q already has a handler", method)
	}
	s.handlers[method] = handler
	return nil
}

// UnregisterRpcMethod removes the handler of method; calls of it are then
// answered with RpcUnsupportedMethod.
func (r *Room) UnregisterRpcMethod(method string) {
	s := r.ext().rpc
	s.mu.Lock()
	delete(s.handlers, method)
	s.mu.Unlock()
}

// handleRPCRequest answers a request from caller: it acknowledges it, runs
// the method's handler and sends the answer, on a goroutine of its own so
// that the engine loop never waits. The goroutine ends when the handler
// returns; the room's closing cancels its context.
func (r *Room) handleRPCRequest(caller string, req *livekit.RpcRequest) {
	if req == nil || req.Id == "" || caller == "" {
		return
	}
	x := r.ext()
	x.rpc.mu.Lock()
	handler := x.rpc.handlers[req.Method]
	if x.rpc.closed {
		x.rpc.mu.Unlock()
		return
	}
	if x.rpc.running >= MaxConcurrentRpcRequests {
		x.rpc.dropped++
		dropped := x.rpc.dropped
		x.rpc.mu.Unlock()
		if ok, more := x.rpc.dropLog.allow(); ok {
			r.logger().Info("too many RPC requests at once, dropping one", "caller", caller, "method", req.Method,
				"bound", MaxConcurrentRpcRequests, "dropped", dropped, "alsoSince", more)
		}
		return
	}
	x.rpc.running++
	x.rpc.mu.Unlock()
	go r.answerRPC(x.ctx, caller, req, handler)
}

// DroppedRpcRequests returns how many incoming calls were dropped because
// MaxConcurrentRpcRequests were being answered.
func (r *Room) DroppedRpcRequests() uint64 {
	s := r.ext().rpc
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

func (r *Room) answerRPC(roomCtx context.Context, caller string, req *livekit.RpcRequest, handler RpcHandlerFuncWithContext) {
	defer func() {
		s := r.ext().rpc
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	timeout := time.Duration(req.ResponseTimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = DefaultRpcResponseTimeout // a caller that set none
	}
	ctx, cancel := context.WithTimeout(roomCtx, timeout+RpcAckTimeout)
	defer cancel()
	send := func(value isDataPacketRPC) {
		dp := &livekit.DataPacket{Kind: livekit.DataPacket_RELIABLE, DestinationIdentities: []string{caller}}
		value.set(dp)
		if err := r.LocalParticipant.publishData(ctx, dp); err != nil {
			r.log.V(1).Info("could not send RPC packet", "requestID", req.Id, "error", err)
		}
	}
	send(rpcAck{req.Id})

	var payload string
	var rerr *RpcError
	switch {
	case req.Version != rpcVersion:
		rerr = builtinRpcError(RpcUnsupportedVersion, "", nil)
	case handler == nil:
		rerr = builtinRpcError(RpcUnsupportedMethod, "", nil)
	default:
		hctx, hcancel := context.WithTimeout(roomCtx, timeout)
		payload, rerr = callRPCHandler(hctx, handler, RpcInvocationData{
			RequestID: req.Id, CallerIdentity: caller, Payload: req.Payload, ResponseTimeout: timeout,
		})
		hcancel()
		if rerr == nil && len(payload) > MaxPayloadBytes {
			rerr = builtinRpcError(RpcResponsePayloadTooLarge, "", nil)
		}
	}
	if roomCtx.Err() != nil {
		return
	}
	send(rpcAnswer{id: req.Id, payload: payload, err: rerr})
}

// callRPCHandler runs handler; a panic in it answers RpcApplicationError.
func callRPCHandler(ctx context.Context, handler RpcHandlerFuncWithContext, data RpcInvocationData) (payload string, rerr *RpcError) {
	defer func() {
		if v := recover(); v != nil {
			getLogger().Error(fmt.Errorf("%v", v), "RPC handler panicked", "requestID", data.RequestID)
			payload, rerr = "", builtinRpcError(RpcApplicationError, "", nil)
		}
	}()
	payload, err := handler(ctx, data)
	if err == nil {
		return payload, nil
	}
	var re *RpcError
	if errors.As(err, &re) {
		return "", re
	}
	return "", builtinRpcError(RpcApplicationError, "", nil)
}

// isDataPacketRPC is an RPC message to send.
type isDataPacketRPC interface{ set(dp *livekit.DataPacket) }

type rpcAck struct{ id string }

func (a rpcAck) set(dp *livekit.DataPacket) {
	dp.Value = &livekit.DataPacket_RpcAck{RpcAck: &livekit.RpcAck{RequestId: a.id}}
}

type rpcAnswer struct {
	id      string
	payload string
	err     *RpcError
}

func (a rpcAnswer) set(dp *livekit.DataPacket) {
	res := &livekit.RpcResponse{RequestId: a.id}
	if a.err != nil {
		res.Value = &livekit.RpcResponse_Error{Error: a.err.toProto()}
	} else {
		res.Value = &livekit.RpcResponse_Payload{Payload: a.payload}
	}
	dp.Value = &livekit.DataPacket_RpcResponse{RpcResponse: res}
}

// versionBefore reports whether the version v ("1.9.11") is older than
// major.minor. An unreadable version is taken as recent.
func versionBefore(v string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}
