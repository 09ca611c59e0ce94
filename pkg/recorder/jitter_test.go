package recorder

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// jbEvent is what a jitter buffer emitted: a packet (its first payload byte
// and timestamp) or a loss of n packets.
type jbEvent struct {
	id   byte
	ts   uint32
	lost uint64
}

type recordingSink struct {
	events []jbEvent
}

func (s *recordingSink) onPacket(ts uint32, _ bool, payload []byte) {
	s.events = append(s.events, jbEvent{id: payload[0], ts: ts})
}

func (s *recordingSink) onLoss(n uint64) {
	s.events = append(s.events, jbEvent{lost: n})
}

func (s *recordingSink) take() []jbEvent {
	ev := s.events
	s.events = nil
	return ev
}

func pk(id byte, ts uint32) jbEvent { return jbEvent{id: id, ts: ts} }
func lost(n uint64) jbEvent         { return jbEvent{lost: n} }

// jbHarness pushes packets whose payload is one byte, the id.
type jbHarness struct {
	t    *testing.T
	jb   *jitterBuffer
	sink *recordingSink
}

func newJBHarness(t *testing.T, size int, latency uint32) *jbHarness {
	s := &recordingSink{}
	return &jbHarness{t: t, jb: newJitterBuffer(size, latency, s), sink: s}
}

func (h *jbHarness) push(seq uint16, ts uint32, id byte) {
	h.jb.push(seq, ts, false, []byte{id})
}

// start pushes the first packet and ends the start-up phase, so that
// packets are emitted as soon as they are in order.
func (h *jbHarness) start(seq uint16, ts uint32, id byte) {
	h.push(seq, ts, id)
	h.jb.flush()
}

func (h *jbHarness) pad(seq uint16, ts uint32) {
	h.jb.push(seq, ts, false, nil)
}

func (h *jbHarness) expect(want ...jbEvent) {
	h.t.Helper()
	got := h.sink.take()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("emitted %+v, want %+v", got, want)
	}
}

func TestJitterBufferInOrder(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(99, 0, 0)
	h.expect(pk(0, 0))
	for i := 0; i < 40; i++ {
		h.push(uint16(100+i), uint32(i*10), byte(i))
		h.expect(pk(byte(i), uint32(i*10)))
	}
	if h.jb.heldPackets() != 0 {
		t.Fatalf("holds %d packets", h.jb.heldPackets())
	}
}

func TestJitterBufferReorder(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(10, 0, 1)
	h.expect(pk(1, 0))
	h.push(13, 30, 4)
	h.push(12, 20, 3)
	h.expect()
	if h.jb.heldPackets() != 2 {
		t.Fatalf("holds %d packets, want 2", h.jb.heldPackets())
	}
	h.push(11, 10, 2)
	h.expect(pk(2, 10), pk(3, 20), pk(4, 30))
	if s := h.jb.stats; s.gaps != 0 || s.late != 0 || s.duplicates != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestJitterBufferDuplicates(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(10, 0, 1)
	h.push(10, 0, 1) // duplicate of an emitted packet
	h.expect(pk(1, 0))
	h.push(12, 20, 3)
	h.push(12, 20, 3) // duplicate of a held packet
	h.push(11, 10, 2)
	h.push(11, 10, 2)
	h.expect(pk(2, 10), pk(3, 20))
	if h.jb.stats.duplicates != 3 {
		t.Fatalf("%d duplicates, want 3", h.jb.stats.duplicates)
	}
}

func TestJitterBufferPadding(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(10, 0, 1)
	h.pad(12, 0) // arrives before the packet before it
	h.push(11, 0, 2)
	h.pad(13, 0)
	h.pad(13, 0) // a duplicate padding packet
	h.push(14, 10, 3)
	h.expect(pk(1, 0), pk(2, 0), pk(3, 10))
	if s := h.jb.stats; s.padding != 2 || s.duplicates != 1 || s.gaps != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestJitterBufferLossByLatency(t *testing.T) {
	h := newJBHarness(t, 64, 100)
	h.start(10, 1000, 1)
	h.push(12, 1020, 3) // 11 is missing
	h.push(13, 1100, 4) // 80 ticks later: still waiting
	h.expect(pk(1, 1000))
	h.push(14, 1120, 5) // 100 ticks: the bound, still waiting
	h.expect()
	h.push(15, 1121, 6) // past it: 11 is lost
	h.expect(lost(1), pk(3, 1020), pk(4, 1100), pk(5, 1120), pk(6, 1121))
	h.push(11, 1010, 2) // too late
	h.expect()
	if s := h.jb.stats; s.gaps != 1 || s.lost != 1 || s.late != 1 || s.duplicates != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestJitterBufferLossByCapacity(t *testing.T) {
	h := newJBHarness(t, 4, 1<<30)
	h.start(10, 0, 1)
	h.push(12, 0, 3)
	h.push(13, 0, 4)
	h.push(14, 0, 5)
	h.expect(pk(1, 0))
	if h.jb.heldPackets() != 3 {
		t.Fatalf("holds %d", h.jb.heldPackets())
	}
	h.push(15, 0, 6) // 15-11 = 4 places: 11 must go
	h.expect(lost(1), pk(3, 0), pk(4, 0), pk(5, 0), pk(6, 0))
	h.push(17, 0, 8)
	h.push(19, 0, 10)
	h.push(21, 0, 12) // 21-16 >= 4: 16 lost, 17 out; 18 to 21 fit
	h.expect(lost(1), pk(8, 0))
	if h.jb.heldPackets() != 2 {
		t.Fatalf("holds %d", h.jb.heldPackets())
	}
}

func TestJitterBufferWraparound(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(65533, 0xfffffff0, 1)
	h.push(65535, 0xfffffff8, 3)
	h.push(0, 0, 4)
	h.push(65534, 0xfffffff4, 2)
	h.push(2, 16, 6)
	h.push(1, 8, 5)
	h.expect(pk(1, 0xfffffff0), pk(2, 0xfffffff4), pk(3, 0xfffffff8), pk(4, 0), pk(5, 8), pk(6, 16))
	// Many wraps in order.
	for i := 0; i < 3*65536; i++ {
		h.push(uint16(3+i), uint32(24+8*i), byte(i))
	}
	if got := len(h.sink.take()); got != 3*65536 {
		t.Fatalf("emitted %d packets", got)
	}
	if s := h.jb.stats; s.gaps != 0 || s.late != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestJitterBufferForwardJump(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(10, 0, 1)
	h.push(30010, 0, 2) // far ahead: everything between is lost
	h.expect(pk(1, 0), lost(29999), pk(2, 0))
	h.push(30011, 0, 3)
	h.expect(pk(3, 0))
}

func TestJitterBufferResync(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(40000, 0, 0)
	for i := 1; i < 5; i++ {
		h.push(uint16(40000+i), 0, byte(i))
	}
	h.take()
	// The sender restarts at sequence number 100, 39900 behind.
	for i := 0; i < resyncAfterLate+3; i++ {
		h.push(uint16(10000+i), 0, byte(100+i))
	}
	got := h.sink.take()
	// The packet that triggers the resync and the ones after it are the
	// new start.
	if len(got) != 0 || h.jb.heldPackets() != 4 {
		t.Fatalf("after resync emitted %+v, holds %d", got, h.jb.heldPackets())
	}
	h.jb.flush()
	if got = h.sink.take(); len(got) != 4 || got[0].id != 100+resyncAfterLate-1 {
		t.Fatalf("after resync emitted %+v", got)
	}
}

func (h *jbHarness) take() { h.sink.take() }

// TestJitterBufferStartReordered delivers the first packets out of order:
// the earliest becomes the start, and nothing is emitted until the latency
// bound passes.
func TestJitterBufferStartReordered(t *testing.T) {
	h := newJBHarness(t, 16, 100)
	h.push(12, 20, 3)
	h.push(10, 0, 1)
	h.push(13, 30, 4)
	h.push(11, 10, 2)
	h.push(9, 0, 0) // an older one still
	h.expect()
	h.push(14, 100, 5) // 100 ticks after the first: at the bound
	h.expect()
	h.push(16, 101, 7) // past it
	h.expect(pk(0, 0), pk(1, 0), pk(2, 10), pk(3, 20), pk(4, 30), pk(5, 100))
	h.push(15, 100, 6)
	h.expect(pk(6, 100), pk(7, 101))
	if s := h.jb.stats; s.gaps != 0 || s.late != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestJitterBufferFlush(t *testing.T) {
	h := newJBHarness(t, 16, 1000)
	h.start(1, 0, 1)
	h.push(3, 0, 3)
	h.push(6, 0, 6)
	h.expect(pk(1, 0))
	h.jb.flush()
	h.expect(lost(1), pk(3, 0), lost(2), pk(6, 0))
	h.jb.flush()
	h.expect()
}

// TestJitterBufferRandom feeds a shuffled, lossy, duplicated stream and
// checks the invariants: packets come out in sequence order, each at most
// once, the buffer never holds more than its size, and every packet that
// is not emitted was counted as late or as part of a declared loss.
func TestJitterBufferRandom(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		size := 8 + rng.IntN(64)
		var seqs []int
		for i := 0; i < 5000; i++ {
			if rng.IntN(20) == 0 {
				continue // lost
			}
			seqs = append(seqs, i)
			if rng.IntN(30) == 0 {
				seqs = append(seqs, i)
			}
		}
		for i := range seqs {
			if rng.IntN(4) == 0 {
				j := min(i+rng.IntN(12), len(seqs)-1)
				seqs[i], seqs[j] = seqs[j], seqs[i]
			}
		}
		s := &seqSink{}
		jb := newJitterBuffer(size, 200, s)
		start := uint16(rng.Uint32())
		for _, q := range seqs {
			var b [2]byte
			b[0], b[1] = byte(q>>8), byte(q)
			jb.push(start+uint16(q), uint32(q*10), false, b[:])
			if jb.heldPackets() > size {
				t.Fatalf("seed %d: holds %d > %d", seed, jb.heldPackets(), size)
			}
			if len(jb.free) > size {
				t.Fatalf("seed %d: %d free buffers", seed, len(jb.free))
			}
		}
		jb.flush()
		for i := 1; i < len(s.got); i++ {
			if s.got[i] <= s.got[i-1] {
				t.Fatalf("seed %d: %d after %d", seed, s.got[i], s.got[i-1])
			}
		}
		distinct := map[int]bool{}
		for _, q := range seqs {
			distinct[q] = true
		}
		st := jb.stats
		if len(s.got)+st.late < len(distinct) {
			t.Fatalf("seed %d: %d emitted + %d late < %d sent", seed, len(s.got), st.late, len(distinct))
		}
	}
}

// seqSink collects the sequence numbers (payload) emitted.
type seqSink struct {
	got []int
}

func (s *seqSink) onPacket(_ uint32, _ bool, p []byte) {
	s.got = append(s.got, int(p[0])<<8|int(p[1]))
}

func (s *seqSink) onLoss(uint64) {}
