package lksdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v3"
)

// bufferWatch wakes those waiting for a data channel's send buffer to fall
// to a level. pion offers one buffered-amount-low threshold per channel: it
// is kept at the highest level anyone waits for, every crossing wakes every
// waiter, and each checks again and registers anew. Nothing polls.
type bufferWatch struct {
	dc   *webrtc.DataChannel
	sent atomic.Uint64 // bytes handed to the channel's Send

	mu      sync.Mutex
	levels  map[*uint64]struct{} // the levels waited for, one per waiter
	crossed chan struct{}        // closed, and replaced, at each crossing

	closeOnce sync.Once
	closed    chan struct{} // closed when the channel has closed
}

// newBufferWatch watches dc's send buffer; it takes dc's
// OnBufferedAmountLow.
func newBufferWatch(dc *webrtc.DataChannel) *bufferWatch {
	w := &bufferWatch{dc: dc, levels: map[*uint64]struct{}{}, crossed: make(chan struct{}), closed: make(chan struct{})}
	dc.OnBufferedAmountLow(w.onLow)
	return w
}

// onClose is called when the channel has closed: those waiting for its
// buffer see it closed, and so does a leave waiting for the server's side
// of the closing.
func (w *bufferWatch) onClose() {
	w.closeOnce.Do(func() { close(w.closed) })
	w.onLow()
}

func (w *bufferWatch) onLow() {
	w.mu.Lock()
	close(w.crossed)
	w.crossed = make(chan struct{})
	w.mu.Unlock()
}

// wait returns when cond, given the bytes in the send buffer, reports done,
// or with an error when ctx ends, stop closes or the channel closes.
// Otherwise cond says at which level of the buffer to look again.
func (w *bufferWatch) wait(ctx context.Context, stop <-chan struct{}, cond func(buffered uint64) (level uint64, done bool)) error {
	var level uint64
	defer func() {
		w.mu.Lock()
		delete(w.levels, &level)
		w.setThresholdLocked()
		w.mu.Unlock()
	}()
	for {
		if w.dc.ReadyState() != webrtc.DataChannelStateOpen {
			return fmt.Errorf("%w: the data channel closed before the data was sent", ErrNotConnected)
		}
		w.mu.Lock()
		crossed := w.crossed
		l, done := cond(w.dc.BufferedAmount())
		if done {
			w.mu.Unlock()
			return nil
		}
		level = l
		w.levels[&level] = struct{}{}
		w.setThresholdLocked()
		w.mu.Unlock()
		// A crossing before the threshold was set is not reported: look once
		// more now that it is.
		if _, done := cond(w.dc.BufferedAmount()); done {
			return nil
		}
		select {
		case <-crossed:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return fmt.Errorf("%w: the engine closed before the data was sent", ErrNotConnected)
		}
	}
}

func (w *bufferWatch) setThresholdLocked() {
	var th uint64
	for l := range w.levels {
		th = max(th, *l)
	}
	w.dc.SetBufferedAmountLowThreshold(th)
}

// waitBelowHigh waits while more than dataBufferHigh waits in the send
// buffer, until it has drained to half of it.
func (w *bufferWatch) waitBelowHigh(ctx context.Context, stop <-chan struct{}) error {
	return w.wait(ctx, stop, func(buffered uint64) (uint64, bool) {
		return dataBufferHigh / 2, buffered <= dataBufferHigh
	})
}

// waitSent waits until every byte handed to the channel before the call has
// left the send buffer, whatever is sent after it.
func (w *bufferWatch) waitSent(ctx context.Context, stop <-chan struct{}) error {
	return w.waitSentUpTo(ctx, stop, w.sent.Load())
}

// waitSentUpTo waits until the first target bytes ever handed to the
// channel have left the send buffer.
func (w *bufferWatch) waitSentUpTo(ctx context.Context, stop <-chan struct{}, target uint64) error {
	return w.wait(ctx, stop, func(buffered uint64) (uint64, bool) {
		// What has left the buffer is what was sent less what is still in
		// it; what this waits for has left when the buffer holds no more
		// than what was sent after it.
		later := w.sent.Load() - target
		return later, buffered <= later
	})
}

// reliableWatch returns the watch of the current reliable data channel, or
// nil.
func (e *RTCEngine) reliableWatch() *bufferWatch {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reliableBuf
}

// waitReliableSent waits, bounded by ctx, until everything written to the
// reliable data channel so far has been taken by the server. Data still in
// the send buffer is lost if the connection closes, so a stream is
// complete only when this returns. It holds no lock while it waits: what
// others send meanwhile does not delay it.
func (e *RTCEngine) waitReliableSent(ctx context.Context) error {
	w := e.reliableWatch()
	if w == nil {
		return fmt.Errorf("%w: no data channel", ErrNotConnected)
	}
	return w.waitSent(ctx, e.stop)
}

// drainReliable waits until the server has handled the reliable data
// published so far, so that leaving loses none of it. It waits while the
// server keeps taking the data, giving up after stall with none taken or
// after limit in all. It closes the reliable channel: it is called only on
// leaving.
//
// That the send buffer is empty says only that the server's SCTP stack has
// acknowledged every byte; messages it acknowledged but has not yet read are
// dropped when the leave closes its peer connection. So the channel is then
// closed, which resets its stream after the last message: the server's
// reader meets that reset only after it has handled every message sent
// before it, and answers it by resetting its own side, which closes the
// channel here.
func (e *RTCEngine) drainReliable(stall, limit time.Duration) {
	w := e.reliableWatch()
	if w == nil || w.dc.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	deadline := time.Now().Add(limit)
	target, left := w.sent.Load(), w.dc.BufferedAmount()
	for {
		ctx, cancel := context.WithDeadline(context.Background(), earliest(time.Now().Add(stall), deadline))
		err := w.waitSentUpTo(ctx, e.stop, target)
		cancel()
		if err == nil {
			break
		}
		now := w.dc.BufferedAmount()
		if !errors.Is(err, context.DeadlineExceeded) || now >= left || !time.Now().Before(deadline) {
			e.logger().Info("leaving before all reliable data was sent", "error", err.Error(), "unsent", now)
			return
		}
		left = now // the server took some: wait on
	}
	if err := w.dc.Close(); err != nil {
		e.logger().V(1).Info("could not close the reliable data channel", "error", err.Error())
		return
	}
	timer := time.NewTimer(min(stall, time.Until(deadline)))
	defer timer.Stop()
	select {
	case <-w.closed:
	case <-timer.C:
		e.logger().Info("leaving before the server confirmed it had read all reliable data")
	case <-e.stop:
	}
}

// earliest returns the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
