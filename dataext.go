package lksdk

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// roomDataExt is the room's state for the data packets that are not user
// packets: RPC calls and handlers, incoming data streams. Its zero value is
// ready; the state is made on first use.
type roomDataExt struct {
	once    sync.Once
	ctx     context.Context // cancelled when the room closes
	cancel  context.CancelFunc
	rpc     *rpcState
	streams *streamState
}

// ext returns the room's data state, making it on first use.
func (r *Room) ext() *roomDataExt {
	x := &r.dataExt
	x.once.Do(func() {
		x.ctx, x.cancel = context.WithCancel(context.Background())
		x.rpc = newRPCState()
		x.streams = newStreamState()
	})
	return x
}

// handleNonUserData takes a data packet that is not a user packet: RPC,
// data streams, DTMF, chat, transcriptions. It runs on the engine loop and
// never blocks. done is called once the packet is handed on.
func (r *Room) handleNonUserData(dp *livekit.DataPacket, done func()) {
	x := r.ext()
	if !isRPCOrStream(dp) {
		r.handleTypedPacket(dp, done)
		return
	}
	defer done()
	switch v := dp.Value.(type) {
	case *livekit.DataPacket_RpcRequest:
		r.handleRPCRequest(dp.ParticipantIdentity, v.RpcRequest)
	case *livekit.DataPacket_RpcAck:
		x.rpc.ack(v.RpcAck.GetRequestId())
	case *livekit.DataPacket_RpcResponse:
		x.rpc.respond(v.RpcResponse)
	case *livekit.DataPacket_StreamHeader:
		r.handleStreamHeader(dp.ParticipantIdentity, v.StreamHeader)
	case *livekit.DataPacket_StreamChunk:
		x.streams.chunk(dp.ParticipantIdentity, v.StreamChunk)
	case *livekit.DataPacket_StreamTrailer:
		x.streams.trailer(dp.ParticipantIdentity, v.StreamTrailer)
	}
}

// isRPCOrStream reports whether dp is an RPC or data stream packet, which
// the room's RPC and stream state take (with bounds of their own).
func isRPCOrStream(dp *livekit.DataPacket) bool {
	switch dp.Value.(type) {
	case *livekit.DataPacket_RpcRequest, *livekit.DataPacket_RpcAck, *livekit.DataPacket_RpcResponse,
		*livekit.DataPacket_StreamHeader, *livekit.DataPacket_StreamChunk, *livekit.DataPacket_StreamTrailer:
		return true
	}
	return false
}

// SenderLeftGrace is how long what a participant sent before it left may
// still arrive. The server forwards data on the data channel but announces
// a departure on the signal connection, and the two are not ordered with
// each other: the answer to an RPC call, or the last chunks of a stream,
// can arrive after the news that their sender left. So a call to a
// participant that left fails with RpcRecipientDisconnected only if its
// answer has not come SenderLeftGrace after the departure, and a stream
// from it ends with ErrStreamSenderLeft only once SenderLeftGrace has
// passed without a chunk of it.
const SenderLeftGrace = 2 * time.Second

// dataParticipantLeft fails the RPC calls to a participant that left and
// ends the streams it was sending, once what it sent before leaving has had
// SenderLeftGrace to arrive.
func (r *Room) dataParticipantLeft(identity string) {
	x := r.ext()
	x.rpc.recipientLeft(identity)
	x.streams.senderLeft(identity)
}

// closeDataExt fails every pending RPC call, ends every incoming stream
// and cancels the context of running handlers. The room calls it once, when
// it closes.
func (r *Room) closeDataExt() {
	x := r.ext()
	x.cancel()
	x.rpc.closeAll()
	x.streams.closeAll()
}

// newUUID returns a random (version 4) UUID, as the other SDKs use for RPC
// request and stream ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
