package lksdk

import (
	"sync"
	"sync/atomic"

	"github.com/livekit/protocol/livekit"
)

// Bounds of the signal responses read and not yet applied by the room's
// event loop. The server's responses are applied in order on that loop;
// a server that sends them faster than the loop applies them would
// otherwise grow the room's memory without bound.
//
// The policy is backpressure: nothing is dropped. The signal connection's
// reader waits while the bound is reached, reading nothing more until the
// loop has applied enough, so the socket's TCP window pushes back on the
// server. Counted in RoomStats.SignalPauses. A wait longer than the
// server's ping timeout ends as a lost connection (no pong is read
// meanwhile), which the room recovers from as from any other.
const (
	// MaxPendingSignalResponses is how many signal responses may wait for
	// the room's event loop before reading the signal connection pauses.
	MaxPendingSignalResponses = 1024
	// MaxPendingSignalBytes is how many bytes of signal responses (as they
	// came over the wire) may wait for the room's event loop before reading
	// the signal connection pauses.
	MaxPendingSignalBytes = 16 << 20
)

// flowGate bounds what a reader hands to a consumer that runs elsewhere:
// the reader waits in admit while maxItems items (or maxBytes bytes) are
// admitted and not yet released. One item is always admitted, whatever
// its size, so nothing waits forever for an empty consumer.
type flowGate struct {
	maxItems, maxBytes int

	mu    sync.Mutex
	p     pending
	space chan struct{} // closed, and replaced, when something is released

	pauses atomic.Uint64
	log    rateLog
}

func newFlowGate(maxItems, maxBytes int) *flowGate {
	return &flowGate{maxItems: maxItems, maxBytes: maxBytes, space: make(chan struct{})}
}

// admit takes an item of size bytes, first waiting while the bound is
// reached. It reports false, taking nothing, if either stop channel closes
// meanwhile. paused is called, once and without the gate's lock, if it has
// to wait.
func (g *flowGate) admit(size int, stop1, stop2 <-chan struct{}, paused func()) bool {
	waited := false
	for {
		g.mu.Lock()
		if g.p.fits(size, g.maxItems, g.maxBytes) {
			g.p.add(size)
			g.mu.Unlock()
			return true
		}
		space := g.space
		g.mu.Unlock()
		if !waited {
			waited = true
			g.pauses.Add(1)
			if paused != nil {
				paused()
			}
		}
		select {
		case <-space:
		case <-stop1:
			return false
		case <-stop2:
			return false
		}
	}
}

// release gives back what an admitted item of size bytes took.
func (g *flowGate) release(size int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.p.packets--
	g.p.bytes -= size
	close(g.space)
	g.space = make(chan struct{})
}

// counts returns the items admitted now, the most admitted at once, the
// most bytes admitted at once, and the waits so far.
func (g *flowGate) counts() (now, high, highBytes int, pauses uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.p.packets, g.p.highPackets, g.p.highBytes, g.pauses.Load()
}

// deliverResponse posts a response read off the signal connection onto the
// engine's loop, first waiting while MaxPendingSignalResponses (or
// MaxPendingSignalBytes) wait there already. It runs on the connection's
// reader, the one caller that may wait: stop (the connection's) or the
// engine's closing ends the wait, dropping the response with its
// connection.
func (e *RTCEngine) deliverResponse(res *livekit.SignalResponse, size int, stop <-chan struct{}) {
	g := e.signalGate
	if !g.admit(size, stop, e.stop, e.signalPaused) {
		return
	}
	if !e.post(func() {
		defer g.release(size)
		e.handleResponse(res)
	}) {
		g.release(size)
	}
}

// signalPaused logs, at most once per logInterval, that reading the signal
// connection waits for the loop.
func (e *RTCEngine) signalPaused() {
	if ok, suppressed := e.signalGate.log.allow(); ok {
		e.logger().Info("signal responses arrive faster than the room applies them; reading the signal connection pauses",
			"maxPending", MaxPendingSignalResponses, "maxPendingBytes", MaxPendingSignalBytes, "pausesNotLogged", suppressed)
	}
}
