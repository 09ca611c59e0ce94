package lksdk

import (
	"context"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"google.golang.org/protobuf/proto"
)

// receiveData hands each DataPacket that arrives on dc to the engine loop,
// within the bounds of received data (see MaxPendingLossyPackets): lossy
// data past them is dropped before it is decoded; reliable data past them
// waits, and so holds back the channel's reader, until there is room.
func (e *RTCEngine) receiveData(dc *webrtc.DataChannel) {
	reliable := dc.Label() != lossyDataChannel
	in := e.inbound
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		size := len(msg.Data)
		if reliable {
			if !in.admitReliable(size, e.stop, e.logReliablePause) {
				return // the engine closed
			}
		} else if !in.admitLossy(size) {
			if ok, more := in.lossyLog.allow(); ok {
				e.logger().Info("dropping lossy data: the room's callbacks fall behind",
					"bound", MaxPendingLossyPackets, "dropped", in.droppedLossy.Load(), "alsoSince", more)
			}
			return
		}
		done := in.releaser(reliable, size)
		dp := &livekit.DataPacket{}
		if err := proto.Unmarshal(msg.Data, dp); err != nil {
			done()
			in.malformed.Add(1)
			e.logger().V(1).Info("could not decode data packet", "channel", dc.Label(), "error", err)
			return
		}
		in.received.Add(1)
		if !e.decryptData(dp) {
			done()
			return
		}
		if !e.post(func() { e.handleData(dp, done) }) {
			done()
		}
	})
}

// logReliablePause says, at most once per logInterval, that reading
// reliable data waits for the room's callbacks.
func (e *RTCEngine) logReliablePause() {
	if ok, more := e.inbound.reliableLog.allow(); ok {
		e.logger().Info("reliable data waits: the room's callbacks fall behind",
			"bound", MaxPendingReliablePackets, "pauses", e.inbound.reliablePauses.Load(), "alsoSince", more)
	}
}

// publishData sends dp on the channel its kind asks for, connecting the
// publisher first if needed. A packet too large for the server is refused
// before anything waits, and uses up no sequence number.
func (e *RTCEngine) publishData(ctx context.Context, dp *livekit.DataPacket) error {
	reliable := dp.Kind == livekit.DataPacket_RELIABLE
	dp.Sequence = 0
	size := proto.Size(dp)
	if reliable {
		size += sequenceRoom
	}
	if size > maxDataPacketSize {
		return fmt.Errorf("%w: %d bytes encoded, at most %d", ErrDataTooLarge, size, maxDataPacketSize)
	}
	if err := e.ensurePublisherConnected(ctx); err != nil {
		return err
	}
	open := e.lossyOpen
	if reliable {
		open = e.reliableOpen
	}
	if err := open.wait(ctx); err != nil {
		return fmt.Errorf("%w: data channel not open: %w", ErrConnectionTimeout, err)
	}
	e.mu.Lock()
	dc, watch := e.lossyDC, e.reliableBuf
	if reliable {
		dc = e.reliableDC
	}
	e.mu.Unlock()

	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	if reliable {
		// Wait for the send buffer to drain rather than let it grow.
		if err := watch.waitBelowHigh(ctx, e.stop); err != nil {
			return err
		}
		dp.Sequence = e.reliableSeq + 1
	}
	payload, err := proto.Marshal(dp)
	if err != nil {
		return err
	}
	if err := dc.Send(payload); err != nil {
		return err
	}
	if reliable {
		e.reliableSeq++
		watch.sent.Add(uint64(len(payload)))
	}
	return nil
}

// sequenceRoom is the most a sequence number adds to an encoded packet:
// its tag and a varint of up to 5 bytes.
const sequenceRoom = 6
