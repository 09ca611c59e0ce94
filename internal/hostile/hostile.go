// Package hostile holds test clients that misbehave on purpose: they send
// what a stranger in a room could send, as fast as their connection takes
// it, so that tests can check that a participant receiving it stays
// bounded and keeps working.
package hostile

import (
	"context"
	"errors"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"google.golang.org/protobuf/proto"
)

// maxBuffered is the most the flooder keeps in its own send buffer, so that
// its memory stays bounded however fast it sends.
const maxBuffered = 1 << 20

// stallCheck bounds a wait for the send buffer to drain, in case the
// channel does not report it (a lossy channel may abandon data silently).
const stallCheck = 50 * time.Millisecond

// FloodLossy sends lossy user data packets, each with a payload of
// payloadSize bytes, on dc (a participant's lossy data channel to the
// server) for d, as fast as the channel takes them. It returns how many it
// sent, and stops early when ctx ends or a send fails.
//
// It takes dc's OnBufferedAmountLow.
func FloodLossy(ctx context.Context, dc *webrtc.DataChannel, payloadSize int, d time.Duration) (int, error) {
	if dc == nil {
		return 0, errors.New("hostile: FloodLossy needs a data channel")
	}
	msg, err := proto.Marshal(&livekit.DataPacket{
		Kind:  livekit.DataPacket_LOSSY,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: make([]byte, payloadSize), Topic: proto.String("flood")}},
	})
	if err != nil {
		return 0, err
	}
	low := make(chan struct{}, 1)
	dc.SetBufferedAmountLowThreshold(maxBuffered / 2)
	dc.OnBufferedAmountLow(func() {
		select {
		case low <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stall := time.NewTimer(stallCheck)
	defer stall.Stop()
	sent := 0
	for ctx.Err() == nil {
		if dc.BufferedAmount() < maxBuffered {
			if err := dc.Send(msg); err != nil {
				return sent, err
			}
			sent++
			continue
		}
		stall.Reset(stallCheck)
		select {
		case <-low:
		case <-stall.C:
		case <-ctx.Done():
		}
	}
	return sent, nil
}
