// Package samplebuilder reassembles media samples (video frames, audio
// packets) from RTP packets that may arrive out of order, duplicated or not
// at all.
//
// Push packets as they are received, then call Pop (or PopPackets) until it
// returns nil:
//
//	sb := samplebuilder.New(100, &codecs.VP8Packet{}, 90000)
//	for {
//		pkt, _, err := track.ReadRTP()
//		if err != nil {
//			break
//		}
//		sb.Push(pkt)
//		for s := sb.Pop(); s != nil; s = sb.Pop() {
//			// use s.Data, s.Duration
//		}
//	}
//	// At the end of the stream, take what is still held:
//	for s, _ := sb.ForcePopWithTimestamp(); s != nil; s, _ = sb.ForcePopWithTimestamp() {
//	}
//
// The builder holds at most maxLate packets. A sample is the run of packets
// from one the depacketizer calls a partition head to one it calls a
// partition tail (for video, the packet with the marker bit), all with the
// same RTP timestamp and consecutive sequence numbers. A missing packet
// blocks the samples after it until it arrives or until maxLate packets
// newer than it have been pushed; then it is given up as lost, and the
// incomplete sample it belonged to is dropped. Sequence numbers and
// timestamps may wrap around.
//
// A SampleBuilder is not safe for concurrent use. Its handlers are called
// synchronously from Push and the Pop methods.
package samplebuilder

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3/pkg/media"
)

const (
	// maxWindow bounds the number of packets a builder holds: the window
	// must stay inside half the 16-bit sequence number space for sequence
	// numbers to be compared without ambiguity.
	maxWindow = 1<<15 - 1
	// resyncAfterLate is how many consecutive packets far behind the
	// window make the builder assume the sender restarted its sequence
	// numbers, and start over.
	resyncAfterLate = 16
)

// slot is one place of the ring of held packets.
type slot struct {
	pkt        *rtp.Packet
	head, tail bool // partition head and tail, as the depacketizer says
	// returned is 1 + the extended sequence number of the last packet
	// this place gave up in a returned sample, to tell a duplicate of it
	// from a late packet.
	returned uint64
}

// SampleBuilder buffers RTP packets of one stream and reassembles them into
// samples. Create it with New.
type SampleBuilder struct {
	depacketizer rtp.Depacketizer
	sampleRate   uint32
	onRelease    func(*rtp.Packet)
	onDrop       func()

	slots    []slot
	started  bool
	consumed bool   // a packet has left the window (popped, dropped or lost)
	tail     uint64 // extended sequence number of the oldest place of the window
	head     uint64 // one past the highest extended sequence number pushed
	lateRun  int    // consecutive packets far behind the window

	dropped uint16 // packets dropped or lost since the last sample returned

	// Timestamp of the packet just before the tail, when it was received
	// (not lost): a packet with another timestamp starts a sample even if
	// the depacketizer cannot tell.
	prevTS      uint32
	prevTSValid bool

	lastTS      uint32 // RTP timestamp of the last sample returned
	lastTSValid bool
	lastDur     time.Duration

	out []*rtp.Packet // reused by Pop
	buf []byte
}

// Option configures a SampleBuilder.
type Option func(*SampleBuilder)

// WithPacketReleaseHandler sets a function called with every packet the
// builder lets go of: a packet of a sample being returned, a packet dropped
// (late, duplicate, part of an incomplete sample, or pushed out of the
// window). Every pushed packet is passed to h exactly once, after which the
// builder no longer refers to it, so h may recycle it.
func WithPacketReleaseHandler(h func(*rtp.Packet)) Option {
	return func(s *SampleBuilder) { s.onRelease = h }
}

// WithPacketDroppedHandler sets a function called when media is lost: once
// for every packet the builder drops without returning it in a sample
// (arrived too late, part of an incomplete sample, not the start of a
// sample, undecodable), and once for every run of consecutive sequence
// numbers given up as never received. Duplicates are not losses and do not
// call it. A typical use is asking the sender for a keyframe.
func WithPacketDroppedHandler(h func()) Option {
	return func(s *SampleBuilder) { s.onDrop = h }
}

// New returns a builder that holds at most maxLate packets (at least 1, at
// most 32767), waiting for a missing packet until maxLate newer packets
// have arrived. depacketizer turns payloads into sample data and says which
// packets start and end a sample (for example &codecs.VP8Packet{},
// &codecs.H264Packet{}, &codecs.OpusPacket{}); sampleRate is the RTP clock
// rate, used for the samples' durations. A sample of more packets than
// the builder holds can never be assembled, so maxLate should exceed the
// packets of the largest frame (a keyframe of 100 kB is about 90 packets).
func New(maxLate uint16, depacketizer rtp.Depacketizer, sampleRate uint32, opts ...Option) *SampleBuilder {
	n := min(max(int(maxLate), 1), maxWindow)
	s := &SampleBuilder{
		depacketizer: depacketizer,
		sampleRate:   sampleRate,
		slots:        make([]slot, n),
	}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

func (s *SampleBuilder) slot(ext uint64) *slot {
	return &s.slots[ext%uint64(len(s.slots))]
}

func (s *SampleBuilder) release(p *rtp.Packet) {
	if s.onRelease != nil {
		s.onRelease(p)
	}
}

// lose counts n packets lost or dropped and tells the drop handler once.
func (s *SampleBuilder) lose(n uint64) {
	s.dropped = uint16(min(uint64(s.dropped)+n, 0xffff))
	if s.onDrop != nil {
		s.onDrop()
	}
}

// dropTail drops the packet at the tail of the window (or counts the
// sequence number lost when it is missing) and advances the tail. It
// returns whether the place was missing, so that runs of missing sequence
// numbers can be reported once.
func (s *SampleBuilder) dropTail() (missing bool) {
	sl := s.slot(s.tail)
	s.tail++
	s.consumed = true
	if sl.pkt == nil {
		s.prevTSValid = false
		return true
	}
	p := sl.pkt
	sl.pkt = nil
	s.prevTS, s.prevTSValid = p.Timestamp, true
	s.release(p)
	s.lose(1)
	return false
}

// advanceTo drops everything before the extended sequence number to,
// reporting each run of missing sequence numbers as one loss.
func (s *SampleBuilder) advanceTo(to uint64) {
	var run uint64
	for s.tail < to {
		if s.tail >= s.head {
			// Nothing held beyond: the rest was never received.
			run += to - s.tail
			s.tail = to
			s.consumed = true
			s.prevTSValid = false
			break
		}
		if s.dropTail() {
			run++
			continue
		}
		if run > 0 {
			s.lose(run)
			run = 0
		}
	}
	if run > 0 {
		s.lose(run)
	}
	if s.head < s.tail {
		s.head = s.tail
	}
}

// Push adds a packet. A packet older than the window (already popped past,
// or given up as lost) is dropped, as is a duplicate of a held packet; a
// packet too new for the window pushes the oldest places out of it,
// dropping what they hold. The builder keeps p until it releases it (see
// WithPacketReleaseHandler); the caller must not modify it meanwhile.
func (s *SampleBuilder) Push(p *rtp.Packet) {
	if p == nil {
		return
	}
	n := uint64(len(s.slots))
	if !s.started {
		s.started = true
		s.consumed = false
		s.tail = 1<<32 + uint64(p.SequenceNumber)
		s.head = s.tail
		s.lateRun = 0
	}
	ext := uint64(int64(s.tail) + int64(int16(p.SequenceNumber-uint16(s.tail))))
	if ext < s.tail {
		if !s.consumed && s.head-ext <= n {
			// Nothing has left the window yet: the stream starts earlier
			// than the first packet pushed.
			s.tail = ext
		} else {
			if s.slot(ext).returned == ext+1 {
				// A copy of a packet already returned.
				s.release(p)
				return
			}
			s.late(p, s.tail-ext > n)
			return
		}
	}
	s.lateRun = 0
	if ext-s.tail >= n {
		s.advanceTo(ext - n + 1)
	}
	sl := s.slot(ext)
	if sl.pkt != nil {
		// Places in the window hold only their own sequence number.
		s.release(p)
		return
	}
	sl.pkt = p
	sl.head = s.depacketizer.IsPartitionHead(p.Payload)
	sl.tail = s.depacketizer.IsPartitionTail(p.Marker, p.Payload)
	if ext >= s.head {
		s.head = ext + 1
	}
}

// late drops a packet that arrived after its place left the window. After
// many in a row far behind, the sender is taken to have restarted its
// sequence numbers: everything held is dropped and the builder starts over
// from p.
func (s *SampleBuilder) late(p *rtp.Packet, far bool) {
	if far {
		s.lateRun++
	} else {
		s.lateRun = 0
	}
	if s.lateRun < resyncAfterLate {
		s.release(p)
		s.lose(1)
		return
	}
	s.advanceTo(s.head)
	s.started = false
	s.Push(p)
}

// find returns the extended sequence numbers of the first and last packets
// of the next complete sample, dropping what cannot be part of one. With
// force it gives up missing packets instead of waiting for them, and drops
// a trailing sample that has no end.
func (s *SampleBuilder) find(force bool) (first, last uint64, ok bool) {
	var missing uint64
	defer func() {
		if missing > 0 {
			s.lose(missing)
		}
	}()
outer:
	for s.tail < s.head {
		sl := s.slot(s.tail)
		if sl.pkt == nil {
			if !force {
				return 0, 0, false
			}
			s.dropTail()
			missing++
			continue
		}
		if missing > 0 {
			s.lose(missing)
			missing = 0
		}
		if !sl.head && !(s.prevTSValid && sl.pkt.Timestamp != s.prevTS) {
			if !s.consumed && !force {
				// The first packets pushed may have been reordered:
				// the sample's start may still come.
				return 0, 0, false
			}
			// The start of its sample was lost, or the stream began
			// in the middle of one.
			s.dropTail()
			continue
		}
		ts := sl.pkt.Timestamp
		for e := s.tail; ; e++ {
			if e == s.head {
				if !force {
					return 0, 0, false
				}
				// The stream ended before this sample's last packet.
				s.advanceTo(e)
				continue outer
			}
			x := s.slot(e)
			if x.pkt == nil {
				if !force {
					return 0, 0, false
				}
				// A packet of this sample, or its end, is missing.
				s.advanceTo(e)
				continue outer
			}
			if e > s.tail && x.pkt.Timestamp != ts {
				// A later sample starts: this one ended without a
				// packet marked as its tail.
				return s.tail, e - 1, true
			}
			if x.tail {
				return s.tail, e, true
			}
		}
	}
	return 0, 0, false
}

// take removes the packets first..last from the window, appending them
// to out.
func (s *SampleBuilder) take(out []*rtp.Packet, first, last uint64) []*rtp.Packet {
	for e := first; e <= last; e++ {
		sl := s.slot(e)
		out = append(out, sl.pkt)
		s.prevTS, s.prevTSValid = sl.pkt.Timestamp, true
		*sl = slot{returned: e + 1}
	}
	s.tail = last + 1
	s.consumed = true
	return out
}

// duration is the time from the sample at ts to the next one: from the
// next packet's timestamp if it is held, else the last sample's duration
// (exact for a constant frame rate), else 0.
func (s *SampleBuilder) duration(ts uint32, next uint64) time.Duration {
	if s.sampleRate == 0 {
		return 0
	}
	if next < s.head {
		if sl := s.slot(next); sl.pkt != nil && sl.pkt.Timestamp != ts {
			return ticks(sl.pkt.Timestamp-ts, s.sampleRate)
		}
	}
	if s.lastTSValid && ts != s.lastTS {
		return ticks(ts-s.lastTS, s.sampleRate)
	}
	return s.lastDur
}

func ticks(n, rate uint32) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(rate)
}

func (s *SampleBuilder) pop(force bool) (*media.Sample, uint32) {
	for {
		first, last, ok := s.find(force)
		if !ok {
			return nil, 0
		}
		ts := s.slot(first).pkt.Timestamp
		dur := s.duration(ts, last+1)
		pkts := s.take(s.out[:0], first, last)
		s.out = pkts
		data := s.buf[:0]
		var err error
		for _, p := range pkts {
			var b []byte
			if b, err = s.depacketizer.Unmarshal(p.Payload); err != nil {
				break
			}
			data = append(data, b...)
		}
		s.buf = data[:0]
		for i, p := range pkts {
			pkts[i] = nil
			s.release(p)
		}
		if err != nil || len(data) == 0 {
			s.lose(uint64(len(pkts)))
			continue
		}
		sample := &media.Sample{
			Data:               append([]byte(nil), data...),
			Duration:           dur,
			PacketTimestamp:    ts,
			PrevDroppedPackets: s.dropped,
		}
		s.dropped = 0
		s.lastTS, s.lastTSValid, s.lastDur = ts, true, dur
		return sample, ts
	}
}

// Pop returns the next complete sample, or nil if none is ready. A sample
// is ready once all its packets are held; a missing packet before it makes
// Pop return nil until the packet arrives or is given up. Packets that
// cannot start a sample (the sample's first packets were lost) are dropped.
//
// The sample's Duration is the time to the next sample when the next
// packet is already held, otherwise the time since the previous sample
// (exact when the frame rate is constant); 0 for a first sample with
// nothing after it. PrevDroppedPackets counts packets dropped or lost since
// the previous sample (saturating at 65535). The sample's Data is its own.
func (s *SampleBuilder) Pop() *media.Sample {
	sample, _ := s.pop(false)
	return sample
}

// PopWithTimestamp is Pop, also returning the sample's RTP timestamp (0
// with a nil sample).
func (s *SampleBuilder) PopWithTimestamp() (*media.Sample, uint32) {
	return s.pop(false)
}

// ForcePopWithTimestamp is PopWithTimestamp without waiting: missing
// packets are given up at once, incomplete samples dropped, and the next
// complete sample returned if there is one. Use it at the end of a stream
// (or after an outage) to get what is held; after it returns nil, the
// builder holds nothing.
func (s *SampleBuilder) ForcePopWithTimestamp() (*media.Sample, uint32) {
	return s.pop(true)
}

// PopPackets is Pop returning the sample's RTP packets, in sequence order,
// instead of its depacketized data; nil when no sample is ready. The packets
// are released (see WithPacketReleaseHandler) as they are returned, and
// the slice is the caller's.
func (s *SampleBuilder) PopPackets() []*rtp.Packet {
	return s.popPackets(false)
}

// ForcePopPackets is PopPackets without waiting, as ForcePopWithTimestamp
// is PopWithTimestamp: after it returns nil, the builder holds nothing.
func (s *SampleBuilder) ForcePopPackets() []*rtp.Packet {
	return s.popPackets(true)
}

func (s *SampleBuilder) popPackets(force bool) []*rtp.Packet {
	first, last, ok := s.find(force)
	if !ok {
		return nil
	}
	ts := s.slot(first).pkt.Timestamp
	s.lastDur = s.duration(ts, last+1)
	s.lastTS, s.lastTSValid = ts, true
	pkts := s.take(make([]*rtp.Packet, 0, last-first+1), first, last)
	for _, p := range pkts {
		s.release(p)
	}
	s.dropped = 0
	return pkts
}
