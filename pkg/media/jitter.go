package media

// jitterPacket is an Opus packet waiting to be played.
type jitterPacket struct {
	seq     uint16
	ts      uint32 // RTP timestamp, 48 kHz
	samples int    // per channel at 48 kHz, from the packet's TOC
	payload []byte
}

// playAction says what to play next.
type playAction int

const (
	playDecode  playAction = iota // decode pkt
	playFEC                       // recover the frame before pkt from its FEC
	playConceal                   // conceal a lost frame
	playSilence                   // the sender sent nothing (DTX, a pause)
)

// concealLimit is how long a stream that stopped is concealed before it is
// taken for a pause and played as silence (in 48 kHz samples: 100 ms).
// Opus's concealment fades out within that.
const concealLimit = 4800

// jitterBuffer orders received packets and says, frame by frame, what to
// play: the packet due, the recovery of a lost one, concealment, or
// silence. It holds at most max packets; past that, the oldest are dropped
// and play goes on from the oldest kept. It is not safe for concurrent
// use.
type jitterBuffer struct {
	pkts []jitterPacket // by sequence number
	max  int

	started bool
	nextTS  uint32 // the timestamp of the next frame to play
	lastSeq uint16 // the last sequence number played or taken for lost
	frame   int    // the duration of the last packet, in samples
	missing int    // samples played since the buffer ran dry
	resync  bool   // play from the oldest packet kept
	late    uint64 // packets that came after their time
	dropped uint64 // packets dropped for the bound
	dupes   uint64
	free    [][]byte // payload buffers to reuse
}

func newJitterBuffer(max int) *jitterBuffer {
	return &jitterBuffer{max: max, frame: 960, resync: true}
}

// push adds a packet; its payload is copied.
func (j *jitterBuffer) push(seq uint16, ts uint32, samples int, payload []byte) {
	if j.started && int32(ts-j.nextTS) < 0 {
		j.late++
		return
	}
	i := len(j.pkts)
	for i > 0 && int16(seq-j.pkts[i-1].seq) < 0 {
		i--
	}
	if i > 0 && j.pkts[i-1].seq == seq {
		j.dupes++
		return
	}
	var buf []byte
	if n := len(j.free); n > 0 {
		buf, j.free = j.free[n-1][:0], j.free[:n-1]
	}
	p := jitterPacket{seq: seq, ts: ts, samples: samples, payload: append(buf, payload...)}
	j.pkts = append(j.pkts, jitterPacket{})
	copy(j.pkts[i+1:], j.pkts[i:])
	j.pkts[i] = p
	for len(j.pkts) > j.max {
		j.release(j.pkts[0])
		j.pkts = j.pkts[1:]
		j.dropped++
		j.resync = true
	}
}

// release keeps a played packet's buffer for reuse.
func (j *jitterBuffer) release(p jitterPacket) {
	if len(j.free) < j.max {
		j.free = append(j.free, p.payload)
	}
}

// len is the number of packets waiting.
func (j *jitterBuffer) len() int { return len(j.pkts) }

// next says what to play for the next frame: with playDecode and playFEC
// the packet to use (its payload valid until the next call of push or
// next), and the samples per channel at 48 kHz the frame lasts.
func (j *jitterBuffer) next() (act playAction, pkt jitterPacket, samples int) {
	if j.resync && len(j.pkts) > 0 {
		p := j.pkts[0]
		j.nextTS, j.lastSeq, j.resync, j.started = p.ts, p.seq-1, false, true
	}
	for len(j.pkts) > 0 && int32(j.pkts[0].ts-j.nextTS) < 0 {
		j.release(j.pkts[0]) // overtaken while waiting
		j.pkts = j.pkts[1:]
		j.late++
	}
	if len(j.pkts) == 0 {
		samples = j.frame
		act = playConceal
		if j.missing >= concealLimit {
			act = playSilence
		}
		j.missing += samples
		j.nextTS += uint32(samples)
		return act, jitterPacket{}, samples
	}
	j.missing = 0
	p := j.pkts[0]
	if p.ts == j.nextTS {
		j.pkts = j.pkts[1:]
		j.release(p)
		j.lastSeq, j.frame = p.seq, p.samples
		j.nextTS += uint32(p.samples)
		return playDecode, p, p.samples
	}
	// A later packet is there: the frame due was lost, or not sent.
	gap := int(p.ts - j.nextTS)
	samples = min(gap, j.frame)
	j.nextTS += uint32(samples)
	lostPackets := int(int16(p.seq-j.lastSeq)) - 1
	switch {
	case lostPackets <= 0:
		return playSilence, jitterPacket{}, samples // DTX: the timestamps jumped
	case lostPackets == 1 && gap == samples:
		j.lastSeq++
		return playFEC, p, samples // the lost frame is the one before p
	default:
		j.lastSeq++
		return playConceal, jitterPacket{}, samples
	}
}
