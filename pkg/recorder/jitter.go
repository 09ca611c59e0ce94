package recorder

// Slot states of the jitter buffer's ring.
const (
	slotEmpty   uint8 = iota // never used
	slotHeld                 // holds a packet waiting to be emitted
	slotEmitted              // its packet was emitted (kept to recognise duplicates)
	slotLost                 // its sequence number was declared lost
)

const (
	// maxPacketPayload bounds the payload of one packet the jitter buffer
	// accepts; larger packets are dropped (and so end up declared lost).
	// RTP over UDP on a normal MTU is far below it.
	maxPacketPayload = 16 << 10
	// pooledBufferSize is the capacity of the buffers payloads are copied
	// into; a larger payload gets a buffer of its own size.
	pooledBufferSize = 1536
	// extSeqBase is the extended sequence number given to the first packet's
	// sequence number (plus the sequence number itself), so that packets
	// slightly older than the first one do not underflow.
	extSeqBase = 1 << 32
	// resyncAfterLate is how many consecutive packets far older than the
	// emission point make the buffer assume the sender restarted its
	// sequence numbers.
	resyncAfterLate = 16
)

// packetSink receives what a jitterBuffer emits, in sequence order.
type packetSink interface {
	// onPacket receives a packet with a non-empty payload. The payload is
	// only valid during the call.
	onPacket(ts uint32, marker bool, payload []byte)
	// onLoss reports that n consecutive sequence numbers before the next
	// emitted packet were declared lost.
	onLoss(n uint64)
}

// jbSlot is one place of the jitter buffer's ring.
type jbSlot struct {
	ext     uint64 // extended sequence number of the packet in the slot
	state   uint8
	marker  bool
	padding bool // empty payload: consumed as a sequence number, never emitted
	ts      uint32
	payload []byte // pooled copy of the payload
}

// jbStats counts what the jitter buffer saw.
type jbStats struct {
	duplicates int
	padding    int
	late       int
	gaps       int
	lost       uint64
	oversized  int
	resyncs    int
}

// jitterBuffer reorders RTP packets by extended sequence number (16-bit
// sequence numbers unwrapped to 64 bits) and emits them in order to a sink.
//
// Packets are emitted as soon as every earlier sequence number has been
// emitted or declared lost, so the buffer only holds packets that follow a
// gap. A gap is declared lost when the first packet after it is older, in
// RTP clock time, than the newest timestamp seen minus the latency bound, or
// when a packet arrives that does not fit in the ring of len(slots) places.
// So the buffer never holds more than len(slots) packets, and payload
// buffers are recycled through a free list: in steady state adding a packet
// does not allocate.
//
// At the start the buffer does not know which packet comes first, since the
// first packets may arrive out of order: until the latency bound has passed
// since the oldest packet seen (or the ring fills), it emits nothing and
// takes older packets as the new start.
type jitterBuffer struct {
	slots   []jbSlot
	free    [][]byte
	sink    packetSink
	latency uint32 // in RTP ticks

	started   bool
	starting  bool   // nothing emitted yet: older packets move the start back
	next      uint64 // extended sequence number of the next packet to emit
	highest   uint64 // highest extended sequence number seen
	held      int    // packets in slotHeld state
	maxTS     uint32 // newest timestamp seen (by RTP serial number arithmetic)
	firstHeld uint64 // lowest held sequence number, when firstValid
	firstOK   bool
	lateRun   int // consecutive packets far older than next

	stats jbStats
}

// newJitterBuffer returns a buffer of size places that declares gaps lost
// after latency RTP ticks and emits to sink.
func newJitterBuffer(size int, latency uint32, sink packetSink) *jitterBuffer {
	return &jitterBuffer{
		slots:   make([]jbSlot, size),
		sink:    sink,
		latency: latency,
	}
}

// slot returns the ring place of the extended sequence number ext.
func (j *jitterBuffer) slot(ext uint64) *jbSlot {
	return &j.slots[ext%uint64(len(j.slots))]
}

// getBuffer returns a buffer of length n, from the free list if one there is
// large enough.
func (j *jitterBuffer) getBuffer(n int) []byte {
	if k := len(j.free); k > 0 {
		b := j.free[k-1]
		j.free[k-1] = nil
		j.free = j.free[:k-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, max(n, pooledBufferSize))
}

// putBuffer returns b to the free list. The list never grows beyond the
// ring size, since every buffer in use belongs to a held slot.
func (j *jitterBuffer) putBuffer(b []byte) {
	if b != nil && len(j.free) < len(j.slots) {
		j.free = append(j.free, b[:0])
	}
}

// push adds a packet. Packets that complete a run are emitted to the sink
// before push returns, and gaps whose time is up are declared lost.
func (j *jitterBuffer) push(seq uint16, ts uint32, marker bool, payload []byte) {
	if len(payload) > maxPacketPayload {
		j.stats.oversized++
		return
	}
	if !j.started {
		j.started = true
		j.starting = true
		j.next = extSeqBase + uint64(seq)
		j.highest = j.next
		j.maxTS = ts
		j.lateRun = 0
	}
	ext := uint64(int64(j.highest) + int64(int16(seq-uint16(j.highest))))

	if ext < j.next && j.starting && j.highest-ext < uint64(len(j.slots)) {
		// A packet from before the first one seen: start from it.
		j.next = ext
	}
	if ext < j.next {
		s := j.slot(ext)
		if s.ext == ext && s.state == slotEmitted {
			j.stats.duplicates++
			return
		}
		j.stats.late++
		if j.next-ext > uint64(len(j.slots)) {
			j.lateRun++
			if j.lateRun >= resyncAfterLate {
				// The sender seems to have restarted its sequence numbers
				// behind us: give up what is held and start over here.
				j.flush()
				j.started = false
				j.stats.resyncs++
				j.push(seq, ts, marker, payload)
			}
		}
		return
	}
	j.lateRun = 0

	if ext-j.next >= uint64(len(j.slots)) {
		j.makeRoom(ext)
	}
	s := j.slot(ext)
	if s.state == slotHeld && s.ext == ext {
		j.stats.duplicates++
		return
	}
	if s.state == slotEmitted && s.ext == ext {
		// Emitted packets are all below next; this cannot happen, but a
		// duplicate is the only sensible reading.
		j.stats.duplicates++
		return
	}
	s.ext = ext
	s.state = slotHeld
	s.ts = ts
	s.marker = marker
	s.padding = len(payload) == 0
	if s.padding {
		j.stats.padding++
	} else {
		s.payload = j.getBuffer(len(payload))
		copy(s.payload, payload)
	}
	j.held++
	if ext > j.highest {
		j.highest = ext
	}
	if j.firstOK && ext < j.firstHeld {
		j.firstHeld = ext
	}
	if int32(ts-j.maxTS) > 0 {
		j.maxTS = ts
	}
	j.drain(false)
}

// emit hands the held packet at j.next to the sink and advances.
func (j *jitterBuffer) emit(s *jbSlot) {
	s.state = slotEmitted
	j.held--
	j.next++
	if !s.padding {
		j.sink.onPacket(s.ts, s.marker, s.payload)
		j.putBuffer(s.payload)
	}
	s.payload = nil
}

// findFirstHeld returns the lowest held extended sequence number at or
// after j.next. It must only be called when j.held > 0.
func (j *jitterBuffer) findFirstHeld() uint64 {
	if j.firstOK && j.firstHeld >= j.next {
		if s := j.slot(j.firstHeld); s.state == slotHeld && s.ext == j.firstHeld {
			return j.firstHeld
		}
	}
	for e := j.next; e <= j.highest; e++ {
		if s := j.slot(e); s.state == slotHeld && s.ext == e {
			j.firstHeld, j.firstOK = e, true
			return e
		}
	}
	// Unreachable while held > 0; keep the buffer consistent regardless.
	j.held = 0
	return j.highest + 1
}

// declareLost gives up the sequence numbers from j.next up to (not
// including) upTo, reporting them to the sink as one gap.
func (j *jitterBuffer) declareLost(upTo uint64) {
	if upTo <= j.next {
		return
	}
	n := upTo - j.next
	// Mark the places (at most one ring's worth) so that a packet arriving
	// late for them is told from a duplicate.
	for e, k := j.next, 0; e < upTo && k < len(j.slots); e, k = e+1, k+1 {
		if s := j.slot(e); s.state != slotHeld {
			s.ext, s.state = e, slotLost
		}
	}
	j.next = upTo
	j.stats.gaps++
	j.stats.lost += n
	j.sink.onLoss(n)
}

// drain emits held packets in order. With force it declares every gap lost
// and empties the buffer; otherwise a gap stops it unless the latency bound
// says the missing packets are overdue.
func (j *jitterBuffer) drain(force bool) {
	if j.starting && j.held > 0 {
		first := j.findFirstHeld()
		if !force && int64(int32(j.maxTS-j.slot(first).ts)) <= int64(j.latency) {
			return
		}
		j.starting = false
		// The packets between the start and the first one held were never
		// seen; the start moved back to each packet older than it, so
		// there are none.
		j.next = first
	}
	for j.held > 0 {
		if s := j.slot(j.next); s.state == slotHeld && s.ext == j.next {
			j.emit(s)
			continue
		}
		first := j.findFirstHeld()
		if !force && int64(int32(j.maxTS-j.slot(first).ts)) <= int64(j.latency) {
			return
		}
		j.declareLost(first)
	}
}

// makeRoom advances the emission point so that ext fits in the ring,
// emitting held packets and declaring gaps lost on the way.
func (j *jitterBuffer) makeRoom(ext uint64) {
	j.starting = false
	target := ext - uint64(len(j.slots)) + 1
	for j.next < target {
		if j.held == 0 {
			// Everything from next up to ext is missing.
			j.declareLost(ext)
			return
		}
		if s := j.slot(j.next); s.state == slotHeld && s.ext == j.next {
			j.emit(s)
			continue
		}
		j.declareLost(j.findFirstHeld())
	}
}

// flush emits everything held, declaring the gaps between lost.
func (j *jitterBuffer) flush() {
	j.drain(true)
}

// heldPackets returns how many packets the buffer holds.
func (j *jitterBuffer) heldPackets() int {
	return j.held
}
