package samplebuilder

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3/pkg/media"
)

// frame is a source sample and the packets it was sent in.
type frame struct {
	data []byte
	ts   uint32
	pkts []*rtp.Packet
}

// stream describes a synthetic RTP stream.
type stream struct {
	seq   uint16 // first sequence number
	ts    uint32 // first timestamp
	step  uint32 // timestamp increment per frame
	mtu   uint16
	video bool
}

// vp8Frames returns n VP8 frames (the first a keyframe) of sizes that need
// several packets at a small MTU. The decoder never sees them, so only the
// frame tag's keyframe bit matters.
func vp8Frames(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]byte, n)
	for i := range out {
		size := 20 + rng.IntN(900)
		if i%10 == 0 {
			size = 1500 + rng.IntN(1500)
		}
		f := make([]byte, size)
		for k := range f {
			f[k] = byte(rng.Uint32())
		}
		f[0] |= 1 // inter frame
		if i%10 == 0 {
			f[0] &^= 1 // keyframe
		}
		out[i] = f
	}
	return out
}

// packetize cuts frames into packets with pay, numbering them from s.seq
// and stamping frame i with s.ts + i*s.step (both wrapping).
func packetize(data [][]byte, pay rtp.Payloader, s stream) []frame {
	if s.mtu == 0 {
		s.mtu = 300
	}
	seq := s.seq
	frames := make([]frame, len(data))
	for i, d := range data {
		ts := s.ts + uint32(i)*s.step
		payloads := pay.Payload(s.mtu, d)
		f := frame{data: d, ts: ts}
		for k, p := range payloads {
			f.pkts = append(f.pkts, &rtp.Packet{
				Header: rtp.Header{
					Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
					Marker: s.video && k == len(payloads)-1, SSRC: 0x5eed,
				},
				Payload: p,
			})
			seq++
		}
		frames[i] = f
	}
	return frames
}

// allPackets returns the packets of frames in sequence order.
func allPackets(frames []frame) []*rtp.Packet {
	var out []*rtp.Packet
	for _, f := range frames {
		out = append(out, f.pkts...)
	}
	return out
}

// recorder counts what a builder's handlers see.
type recorder struct {
	t        testing.TB
	released map[*rtp.Packet]int
	drops    int
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, released: map[*rtp.Packet]int{}}
}

func (r *recorder) options() []Option {
	return []Option{
		WithPacketReleaseHandler(func(p *rtp.Packet) { r.released[p]++ }),
		WithPacketDroppedHandler(func() { r.drops++ }),
	}
}

// checkReleasedOnce fails unless every packet of pkts was released exactly
// once and nothing else was.
func (r *recorder) checkReleasedOnce(pkts []*rtp.Packet) {
	r.t.Helper()
	seen := map[*rtp.Packet]bool{}
	for _, p := range pkts {
		seen[p] = true
		if n := r.released[p]; n != 1 {
			r.t.Fatalf("packet %d released %d times, want once", p.SequenceNumber, n)
		}
	}
	for p := range r.released {
		if !seen[p] {
			r.t.Fatalf("packet %d released but never pushed", p.SequenceNumber)
		}
	}
}

// popAll pops every ready sample.
func popAll(sb *SampleBuilder) []*media.Sample {
	var out []*media.Sample
	for s := sb.Pop(); s != nil; s = sb.Pop() {
		out = append(out, s)
	}
	return out
}

// forcePopAll force-pops until the builder is empty.
func forcePopAll(sb *SampleBuilder) []*media.Sample {
	var out []*media.Sample
	for s, _ := sb.ForcePopWithTimestamp(); s != nil; s, _ = sb.ForcePopWithTimestamp() {
		out = append(out, s)
	}
	return out
}

// matchFrames fails unless got are the frames of want, in order, with
// their timestamps and data.
func matchFrames(t *testing.T, got []*media.Sample, want []frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].PacketTimestamp != want[i].ts {
			t.Fatalf("sample %d: timestamp %d, want %d", i, got[i].PacketTimestamp, want[i].ts)
		}
		if !bytes.Equal(got[i].Data, want[i].data) {
			t.Fatalf("sample %d (ts %d): %d bytes differ from the %d sent", i, want[i].ts, len(got[i].Data), len(want[i].data))
		}
	}
}

func vp8Payloader() rtp.Payloader { return &codecs.VP8Payloader{EnablePictureID: true} }

// reorder returns pkts in an order where no packet arrives more than d
// places from where it was sent, deterministically for the seed.
func reorder(pkts []*rtp.Packet, d int, seed uint64) []*rtp.Packet {
	rng := rand.New(rand.NewPCG(seed, 2))
	type keyed struct {
		key float64
		p   *rtp.Packet
	}
	ks := make([]keyed, len(pkts))
	for i, p := range pkts {
		ks[i] = keyed{float64(i) + rng.Float64()*float64(d), p}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	out := make([]*rtp.Packet, len(ks))
	for i, k := range ks {
		out[i] = k.p
	}
	return out
}
