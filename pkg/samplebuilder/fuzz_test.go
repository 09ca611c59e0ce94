package samplebuilder

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

// flagDepacketizer reads what a test packet is from its first payload
// byte: bit 0 partition head, bit 1 partition tail (with the marker), bit 2
// undecodable. The data is the rest of the payload.
type flagDepacketizer struct{}

func (flagDepacketizer) Unmarshal(p []byte) ([]byte, error) {
	if len(p) == 0 || p[0]&4 != 0 {
		return nil, errors.New("undecodable")
	}
	return p[1:], nil
}

func (flagDepacketizer) IsPartitionHead(p []byte) bool { return len(p) > 0 && p[0]&1 != 0 }

func (flagDepacketizer) IsPartitionTail(marker bool, p []byte) bool {
	return marker && len(p) > 0 && p[0]&2 != 0
}

// FuzzSampleBuilder drives a builder with arbitrary pushes and pops. Each
// 3-byte operation is: a kind byte (low 2 bits: push, push, pop, force
// pop; bit 2 marker; bits 3-5 the payload flags of flagDepacketizer; bit 6
// pop packets instead of samples), a signed sequence step and a timestamp
// step. It checks that the builder never holds more than maxLate packets,
// that what it returns is consecutive packets of one timestamp whose data
// is the packets', and that every pushed packet is released exactly once
// once the builder has been force-emptied.
func FuzzSampleBuilder(f *testing.F) {
	f.Add(uint8(8), []byte{0x08 | 0x04 | 0x10, 1, 0, 2, 0, 0})
	f.Fuzz(func(t *testing.T, maxLate uint8, ops []byte) {
		released := map[*rtp.Packet]int{}
		var pushed []*rtp.Packet
		sb := New(uint16(maxLate), flagDepacketizer{}, 90000,
			WithPacketReleaseHandler(func(p *rtp.Packet) { released[p]++ }),
			WithPacketDroppedHandler(func() {}))
		window := max(int(maxLate), 1)
		var seq uint16
		var ts uint32
		check := func(pkts []*rtp.Packet) {
			for i, p := range pkts {
				if released[p] != 1 {
					t.Fatalf("returned packet %d released %d times", p.SequenceNumber, released[p])
				}
				if i > 0 && (p.SequenceNumber != pkts[i-1].SequenceNumber+1 || p.Timestamp != pkts[0].Timestamp) {
					t.Fatal("returned packets are not consecutive packets of one timestamp")
				}
			}
		}
		pop := func(kind byte) bool {
			force := kind&3 == 3
			if kind&0x40 != 0 {
				var pkts []*rtp.Packet
				if force {
					pkts = sb.ForcePopPackets()
				} else {
					pkts = sb.PopPackets()
				}
				check(pkts)
				return pkts != nil
			}
			var pkts []*rtp.Packet
			sb.onRelease = func(p *rtp.Packet) { released[p]++; pkts = append(pkts, p) }
			defer func() { sb.onRelease = func(p *rtp.Packet) { released[p]++ } }()
			var want []byte
			popper := sb.PopWithTimestamp
			if force {
				popper = sb.ForcePopWithTimestamp
			}
			sample, sts := popper()
			if sample == nil {
				return false
			}
			// The sample's packets are the last ones released.
			for i := len(pkts) - 1; i >= 0 && pkts[i].Timestamp == sts; i-- {
				want = append(pkts[i].Payload[1:len(pkts[i].Payload):len(pkts[i].Payload)], want...)
			}
			if !bytes.HasSuffix(want, sample.Data) || len(sample.Data) == 0 {
				t.Fatalf("sample data %x is not its packets' %x", sample.Data, want)
			}
			return true
		}
		for i := 0; i+2 < len(ops); i += 3 {
			kind, dseq, dts := ops[i], int8(ops[i+1]), ops[i+2]
			switch kind & 3 {
			case 0, 1:
				seq += uint16(int16(dseq))
				ts += uint32(dts) * 100
				p := &rtp.Packet{
					Header:  rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: kind&4 != 0},
					Payload: []byte{kind >> 3 & 7, byte(i)},
				}
				pushed = append(pushed, p)
				sb.Push(p)
				if held := len(pushed) - len(released); held > window {
					t.Fatalf("holds %d packets, maxLate %d", held, window)
				}
			default:
				pop(kind)
			}
		}
		for pop(0x03) {
		}
		if sb.Pop() != nil || sb.ForcePopPackets() != nil {
			t.Fatal("a sample after ForcePop returned nil")
		}
		for _, p := range pushed {
			if released[p] != 1 {
				t.Fatalf("packet %d released %d times after emptying", p.SequenceNumber, released[p])
			}
		}
	})
}
