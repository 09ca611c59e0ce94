package lksdk

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v3"
)

// reliableFlushCheck is how often waitReliableSent looks at the send
// buffer. pion offers one buffered-amount-low threshold per channel, and the
// engine's own flow control holds it.
const reliableFlushCheck = 10 * time.Millisecond

// waitReliableSent waits, bounded by ctx, until everything written to the
// reliable data channel so far has been taken by the server. Data still in
// the send buffer is lost if the connection closes, so a stream is
// complete only when this returns.
//
// It holds the engine's send lock meanwhile, so that the buffer only
// drains: with other participants of the process sending all the time it
// would otherwise never be seen empty. Those sends wait at most for what
// was queued before them, which they would have waited for anyway.
func (e *RTCEngine) waitReliableSent(ctx context.Context) error {
	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	var tick *time.Ticker
	for {
		e.mu.Lock()
		dc := e.reliableDC
		e.mu.Unlock()
		if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
			return fmt.Errorf("%w: the data channel closed before the data was sent", ErrNotConnected)
		}
		if dc.BufferedAmount() == 0 {
			return nil
		}
		if tick == nil {
			tick = time.NewTicker(reliableFlushCheck)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
