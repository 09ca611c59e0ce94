package lksdk

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the data other participants send a room. A data packet counts
// against them from the moment it is read off its data channel until the
// room's callbacks have returned from it (or, for RPC and data stream
// packets, until the room has handed it to its RPC or stream state, which
// have bounds of their own: MaxConcurrentRpcRequests, MaxIncomingStreams,
// MaxStreamBufferBytes).
//
// Lossy data that finds the bound reached is dropped (the newest packet: the
// one just read, before it is decoded), counted in RoomStats.DroppedLossy.
// Dropping the newest keeps the order of what is already queued, and costs
// nothing per dropped packet.
//
// Reliable data is never dropped: a reliable packet that finds the bound
// reached waits until the callbacks have taken enough of the others, and
// meanwhile nothing more is read from the reliable channel. The server then
// holds what follows, and its own flow control slows the senders. Counted
// in RoomStats.ReliablePauses. A callback that blocks until more reliable
// data arrives (for example an RPC answer) may so wait for its own timeout
// while the bound is reached; keep callbacks short and hand long work to a
// goroutine of the program.
const (
	// MaxPendingLossyPackets is how many lossy packets may wait for the
	// room's callbacks.
	MaxPendingLossyPackets = 256
	// MaxPendingLossyBytes is how many bytes of lossy packets may wait for
	// the room's callbacks.
	MaxPendingLossyBytes = 4 << 20
	// MaxPendingReliablePackets is how many reliable packets may wait for
	// the room's callbacks before reading the reliable channel pauses.
	MaxPendingReliablePackets = 1024
	// MaxPendingReliableBytes is how many bytes of reliable packets may wait
	// for the room's callbacks before reading the reliable channel pauses.
	MaxPendingReliableBytes = 16 << 20
	// MaxHeldDataPackets is how many data packets, of all senders together,
	// the room holds while their senders are not known yet (see
	// RoomStats.HeldOverflow for what happens past it). Held packets count
	// against the bounds above too, so those are reached first: a burst
	// from a participant not yet announced pauses the reliable channel
	// until the server announces it (or 5 s pass), rather than be delivered
	// without its sender.
	MaxHeldDataPackets = 4096
)

// logInterval is the least time between two log lines about the same
// bound being reached.
const logInterval = 10 * time.Second

// inboundData bounds the data packets read and not yet taken by the room,
// and counts what it did. Its zero value is not ready: use newInboundData.
type inboundData struct {
	mu       sync.Mutex
	lossy    pending
	reliable pending
	space    chan struct{} // closed, and replaced, when reliable data is released

	received, malformed, droppedLossy, reliablePauses, decryptFailed, noCryptor atomic.Uint64

	lossyLog, reliableLog, decryptLog rateLog
}

// pending is what waits of one kind of data.
type pending struct {
	packets, bytes         int
	highPackets, highBytes int
}

func (p *pending) fits(size, maxPackets, maxBytes int) bool {
	return p.packets == 0 || (p.packets < maxPackets && p.bytes+size <= maxBytes)
}

func (p *pending) add(size int) {
	p.packets++
	p.bytes += size
	p.highPackets = max(p.highPackets, p.packets)
	p.highBytes = max(p.highBytes, p.bytes)
}

func newInboundData() *inboundData {
	return &inboundData{space: make(chan struct{})}
}

// admitLossy reports whether a lossy packet of size bytes may be taken; it
// counts the drop when not.
func (d *inboundData) admitLossy(size int) bool {
	d.mu.Lock()
	ok := d.lossy.fits(size, MaxPendingLossyPackets, MaxPendingLossyBytes)
	if ok {
		d.lossy.add(size)
	}
	d.mu.Unlock()
	if !ok {
		d.droppedLossy.Add(1)
	}
	return ok
}

// admitReliable takes a reliable packet of size bytes, first waiting while
// the reliable bound is reached. It reports false, taking nothing, if stop
// closes meanwhile. paused is called, once, if it has to wait.
func (d *inboundData) admitReliable(size int, stop <-chan struct{}, paused func()) bool {
	waited := false
	for {
		d.mu.Lock()
		if d.reliable.fits(size, MaxPendingReliablePackets, MaxPendingReliableBytes) {
			d.reliable.add(size)
			d.mu.Unlock()
			return true
		}
		space := d.space
		d.mu.Unlock()
		if !waited {
			waited = true
			d.reliablePauses.Add(1)
			paused()
		}
		select {
		case <-space:
		case <-stop:
			return false
		}
	}
}

// release gives back what an admitted packet took.
func (d *inboundData) release(reliable bool, size int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !reliable {
		d.lossy.packets--
		d.lossy.bytes -= size
		return
	}
	d.reliable.packets--
	d.reliable.bytes -= size
	close(d.space)
	d.space = make(chan struct{})
}

// releaser returns a function that releases an admitted packet, once
// however often it is called.
func (d *inboundData) releaser(reliable bool, size int) func() {
	var once sync.Once
	return func() { once.Do(func() { d.release(reliable, size) }) }
}

// fill writes the counters into s.
func (d *inboundData) fill(s *RoomStats) {
	s.DataReceived = d.received.Load()
	s.DataMalformed = d.malformed.Load()
	s.DataDecryptFailed = d.decryptFailed.Load()
	s.DataEncryptedNoCryptor = d.noCryptor.Load()
	s.DroppedLossy = d.droppedLossy.Load()
	s.ReliablePauses = d.reliablePauses.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	s.PendingLossy, s.PendingReliable = d.lossy.packets, d.reliable.packets
	s.PendingLossyHighWater, s.PendingReliableHighWater = d.lossy.highPackets, d.reliable.highPackets
	s.PendingBytesHighWater = max(d.lossy.highBytes, d.reliable.highBytes)
}

// rateLog lets a log line through at most once per logInterval, and says
// how many were held back since the last one.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed uint64
}

// allow reports whether to log now, and how many lines were not logged
// since the last one that was.
func (l *rateLog) allow() (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < logInterval {
		l.suppressed++
		return false, 0
	}
	l.last = now
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
