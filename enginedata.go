package lksdk

import (
	"context"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"google.golang.org/protobuf/proto"
)

// receiveData hands each DataPacket that arrives on dc to the engine loop.
func (e *RTCEngine) receiveData(dc *webrtc.DataChannel) {
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		dp := &livekit.DataPacket{}
		if err := proto.Unmarshal(msg.Data, dp); err != nil {
			e.logger().V(1).Info("could not decode data packet", "channel", dc.Label(), "error", err)
			return
		}
		e.post(func() { e.handleData(dp) })
	})
}

// publishData sends dp on the channel its kind asks for, connecting the
// publisher first if needed.
func (e *RTCEngine) publishData(ctx context.Context, dp *livekit.DataPacket) error {
	if err := e.ensurePublisherConnected(ctx); err != nil {
		return err
	}
	reliable := dp.Kind == livekit.DataPacket_RELIABLE
	open := e.lossyOpen
	if reliable {
		open = e.reliableOpen
	}
	if err := open.wait(ctx); err != nil {
		return fmt.Errorf("%w: data channel not open: %w", ErrConnectionTimeout, err)
	}
	e.mu.Lock()
	dc := e.lossyDC
	if reliable {
		dc = e.reliableDC
	}
	e.mu.Unlock()

	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	if reliable {
		// Wait for the send buffer to drain rather than let it grow.
		for dc.BufferedAmount() > dataBufferHigh {
			select {
			case <-e.reliableLow:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		e.reliableSeq++
		dp.Sequence = e.reliableSeq
	}
	payload, err := proto.Marshal(dp)
	if err != nil {
		return err
	}
	if len(payload) > maxDataPacketSize {
		return fmt.Errorf("%w: %d bytes encoded, at most %d", ErrDataTooLarge, len(payload), maxDataPacketSize)
	}
	return dc.Send(payload)
}
