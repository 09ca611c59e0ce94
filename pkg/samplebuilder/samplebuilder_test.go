package samplebuilder

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

func TestInOrderVP8(t *testing.T) {
	frames := packetize(vp8Frames(60, 1), vp8Payloader(), stream{seq: 100, ts: 1000, step: 3000, video: true})
	r := newRecorder(t)
	sb := New(50, &codecs.VP8Packet{}, 90000, r.options()...)
	var got []frame
	var samples = popAll(sb)
	for _, f := range frames {
		if len(f.pkts) < 2 && len(f.data) > 300 {
			t.Fatal("test frames should span several packets")
		}
		for i, p := range f.pkts {
			sb.Push(p)
			s := popAll(sb)
			if i < len(f.pkts)-1 && len(s) > 0 {
				t.Fatalf("a sample was popped before its last packet arrived")
			}
			samples = append(samples, s...)
		}
		got = append(got, f)
	}
	matchFrames(t, samples, got)
	for i, s := range samples {
		if s.PrevDroppedPackets != 0 {
			t.Fatalf("sample %d reports %d dropped packets", i, s.PrevDroppedPackets)
		}
		if i > 0 && s.Duration != time.Second/30 {
			t.Fatalf("sample %d lasts %s, want %s", i, s.Duration, time.Second/30)
		}
	}
	if r.drops != 0 {
		t.Fatalf("drop handler called %d times without loss", r.drops)
	}
	r.checkReleasedOnce(allPackets(frames))
}

func TestDurationFromTheNextPacket(t *testing.T) {
	// Timestamps 0, 3000, 9000: variable frame spacing.
	data := vp8Frames(3, 2)
	frames := packetize(data, vp8Payloader(), stream{step: 3000, video: true})
	for _, p := range frames[2].pkts {
		p.Timestamp = 9000
	}
	frames[2].ts = 9000
	sb := New(100, &codecs.VP8Packet{}, 90000)
	for _, p := range allPackets(frames) {
		sb.Push(p)
	}
	samples := forcePopAll(sb)
	matchFrames(t, samples, frames)
	want := []time.Duration{time.Second / 30, time.Second / 15, time.Second / 15}
	for i, s := range samples {
		if s.Duration != want[i] {
			t.Fatalf("sample %d lasts %s, want %s", i, s.Duration, want[i])
		}
	}
}

func TestReorderedWithinMaxLate(t *testing.T) {
	frames := packetize(vp8Frames(80, 3), vp8Payloader(), stream{seq: 7, step: 3000, video: true})
	pkts := allPackets(frames)
	shuffled := reorder(pkts, 8, 3) // maxLate is 20
	r := newRecorder(t)
	sb := New(20, &codecs.VP8Packet{}, 90000, r.options()...)
	var samples = popAll(sb)
	for _, p := range shuffled {
		sb.Push(p)
		samples = append(samples, popAll(sb)...)
	}
	samples = append(samples, forcePopAll(sb)...)
	matchFrames(t, samples, frames)
	if r.drops != 0 {
		t.Fatalf("drop handler called %d times for reordering within maxLate", r.drops)
	}
	r.checkReleasedOnce(pkts)
}

func TestLateBeyondMaxLateIsDropped(t *testing.T) {
	frames := packetize(vp8Frames(40, 4), vp8Payloader(), stream{step: 3000, video: true})
	pkts := allPackets(frames)
	const maxLate = 10
	heldBack := frames[5].pkts[0] // the first packet of frame 5
	r := newRecorder(t)
	sb := New(maxLate, &codecs.VP8Packet{}, 90000, r.options()...)
	var samples = popAll(sb)
	pushed := 0
	lateAt := -1
	for _, p := range pkts {
		if p == heldBack {
			lateAt = pushed
			continue
		}
		sb.Push(p)
		pushed++
		samples = append(samples, popAll(sb)...)
		if lateAt >= 0 && pushed == lateAt+maxLate+5 {
			dropsBefore := r.drops
			sb.Push(heldBack) // long given up
			if r.drops != dropsBefore+1 {
				t.Fatalf("late packet: drop handler called %d times, want once", r.drops-dropsBefore)
			}
			if r.released[heldBack] != 1 {
				t.Fatalf("late packet released %d times, want once", r.released[heldBack])
			}
			samples = append(samples, popAll(sb)...)
		}
	}
	samples = append(samples, forcePopAll(sb)...)
	want := append(append([]frame(nil), frames[:5]...), frames[6:]...)
	matchFrames(t, samples, want)
	if samples[5].PrevDroppedPackets == 0 {
		t.Fatal("the sample after the loss does not report it")
	}
	r.checkReleasedOnce(pkts)
}

func TestLostPacketsDropTheirSampleOnly(t *testing.T) {
	frames := packetize(vp8Frames(50, 5), vp8Payloader(), stream{seq: 65000, step: 3000, video: true})
	lost := map[*rtp.Packet]bool{
		frames[3].pkts[1]:                       true, // inside a frame
		frames[10].pkts[len(frames[10].pkts)-1]: true, // a frame's last packet
		frames[20].pkts[0]:                      true, // a keyframe's first packet
	}
	r := newRecorder(t)
	sb := New(30, &codecs.VP8Packet{}, 90000, r.options()...)
	var samples = popAll(sb)
	var pushed []*rtp.Packet
	for _, p := range allPackets(frames) {
		if lost[p] {
			continue
		}
		sb.Push(p)
		pushed = append(pushed, p)
		samples = append(samples, popAll(sb)...)
	}
	samples = append(samples, forcePopAll(sb)...)
	var want []frame
	for i, f := range frames {
		if i != 3 && i != 10 && i != 20 {
			want = append(want, f)
		}
	}
	matchFrames(t, samples, want)
	if r.drops == 0 {
		t.Fatal("losses did not call the drop handler")
	}
	r.checkReleasedOnce(pushed)
}

func TestDuplicatesAreIgnored(t *testing.T) {
	frames := packetize(vp8Frames(30, 6), vp8Payloader(), stream{step: 3000, video: true})
	r := newRecorder(t)
	sb := New(40, &codecs.VP8Packet{}, 90000, r.options()...)
	var samples = popAll(sb)
	var pushed []*rtp.Packet
	push := func(p *rtp.Packet) {
		c := *p // a distinct copy, as a network would deliver
		sb.Push(&c)
		pushed = append(pushed, &c)
	}
	pkts := allPackets(frames)
	for i, p := range pkts {
		push(p)
		push(p) // while held
		samples = append(samples, popAll(sb)...)
		if i >= 3 {
			push(pkts[i-3]) // after it was returned
		}
		samples = append(samples, popAll(sb)...)
	}
	samples = append(samples, forcePopAll(sb)...)
	matchFrames(t, samples, frames)
	if r.drops != 0 {
		t.Fatalf("duplicates called the drop handler %d times", r.drops)
	}
	r.checkReleasedOnce(pushed)
}

func TestSequenceAndTimestampWraparound(t *testing.T) {
	for _, tc := range []struct {
		name string
		seq  uint16
		ts   uint32
	}{
		{"sequence", 65500, 12345},
		{"timestamp", 1000, 1<<32 - 20*3000},
		{"both", 65530, 1<<32 - 3*3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := packetize(vp8Frames(60, 7), vp8Payloader(), stream{seq: tc.seq, ts: tc.ts, step: 3000, video: true})
			r := newRecorder(t)
			sb := New(25, &codecs.VP8Packet{}, 90000, r.options()...)
			pkts := allPackets(frames)
			// Swap neighbours across the wrap too.
			for i := 0; i+1 < len(pkts); i += 7 {
				pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
			}
			var samples = popAll(sb)
			for _, p := range pkts {
				sb.Push(p)
				samples = append(samples, popAll(sb)...)
			}
			samples = append(samples, forcePopAll(sb)...)
			matchFrames(t, samples, frames)
			for i, s := range samples[1:] {
				if s.Duration != time.Second/30 {
					t.Fatalf("sample %d lasts %s across the wrap", i+1, s.Duration)
				}
			}
			if r.drops != 0 {
				t.Fatalf("wraparound called the drop handler %d times", r.drops)
			}
			r.checkReleasedOnce(allPackets(frames))
		})
	}
}

// h264AccessUnits returns Annex-B access units: the first with SPS, PPS
// and a large IDR slice, the others with one or two non-IDR slices.
func h264AccessUnits(n int) [][]byte {
	nal := func(header byte, size int, seed int) []byte {
		b := []byte{0, 0, 0, 1, header}
		for k := 0; k < size; k++ {
			b = append(b, byte(seed*7+k*13)|1) // never 00 00 0x
		}
		return b
	}
	out := make([][]byte, n)
	for i := range out {
		var au []byte
		if i == 0 {
			au = append(au, nal(0x67, 12, i)...) // SPS
			au = append(au, nal(0x68, 4, i)...)  // PPS
			au = append(au, nal(0x65, 4000, i)...)
		} else {
			au = append(au, nal(0x41, 200+i*37%900, i)...)
			if i%3 == 0 {
				au = append(au, nal(0x41, 700, i+1)...) // a second slice
			}
		}
		out[i] = au
	}
	return out
}

func TestMultiPacketH264(t *testing.T) {
	frames := packetize(h264AccessUnits(20), &codecs.H264Payloader{}, stream{seq: 65530, step: 3000, video: true, mtu: 500})
	if len(frames[0].pkts) < 5 {
		t.Fatalf("the IDR access unit should be fragmented, got %d packets", len(frames[0].pkts))
	}
	r := newRecorder(t)
	sb := New(50, &codecs.H264Packet{}, 90000, r.options()...)
	pkts := allPackets(frames)
	for i := 0; i+2 < len(pkts); i += 5 {
		pkts[i], pkts[i+2] = pkts[i+2], pkts[i]
	}
	var samples = popAll(sb)
	for _, p := range pkts {
		sb.Push(p)
		samples = append(samples, popAll(sb)...)
	}
	samples = append(samples, forcePopAll(sb)...)
	if len(samples) != len(frames) {
		t.Fatalf("got %d access units, want %d", len(samples), len(frames))
	}
	for i, s := range samples {
		if !bytes.Equal(s.Data, frames[i].data) {
			t.Fatalf("access unit %d: got %d bytes, want %d", i, len(s.Data), len(frames[i].data))
		}
	}
	r.checkReleasedOnce(allPackets(frames))
}

func TestOpusEveryPacketIsASample(t *testing.T) {
	data := make([][]byte, 50)
	for i := range data {
		data[i] = []byte{0x78, byte(i), byte(i * 3)}
	}
	frames := packetize(data, &codecs.OpusPayloader{}, stream{seq: 10, ts: 1<<32 - 960*10, step: 960})
	r := newRecorder(t)
	sb := New(10, &codecs.OpusPacket{}, 48000, r.options()...)
	var samples = popAll(sb)
	for _, p := range allPackets(frames) {
		sb.Push(p)
		got := popAll(sb)
		if len(got) != 1 {
			t.Fatalf("an Opus packet gave %d samples, want 1 at once", len(got))
		}
		samples = append(samples, got...)
	}
	matchFrames(t, samples, frames)
	for i, s := range samples[1:] {
		if s.Duration != 20*time.Millisecond {
			t.Fatalf("sample %d lasts %s", i+1, s.Duration)
		}
	}
	r.checkReleasedOnce(allPackets(frames))
}

func TestPopVersusForcePopAtTheEnd(t *testing.T) {
	frames := packetize(vp8Frames(12, 8), vp8Payloader(), stream{step: 3000, video: true})
	// Lost: the last packet of frame 8 (a gap before frames 9..11), and
	// the last packet of frame 11 (the stream ends inside it).
	lost := map[*rtp.Packet]bool{
		frames[8].pkts[len(frames[8].pkts)-1]:   true,
		frames[11].pkts[len(frames[11].pkts)-1]: true,
	}
	for _, popper := range []string{"samples", "packets"} {
		t.Run(popper, func(t *testing.T) {
			r := newRecorder(t)
			sb := New(200, &codecs.VP8Packet{}, 90000, r.options()...)
			var pushed []*rtp.Packet
			var got []uint32
			pop := func(force bool) bool {
				if popper == "samples" {
					popTS := sb.PopWithTimestamp
					if force {
						popTS = sb.ForcePopWithTimestamp
					}
					smp, ts := popTS()
					if smp == nil {
						return false
					}
					if smp.PacketTimestamp != ts {
						t.Fatalf("PopWithTimestamp returned %d for a sample at %d", ts, smp.PacketTimestamp)
					}
					got = append(got, ts)
					return true
				}
				var pkts []*rtp.Packet
				if force {
					pkts = sb.ForcePopPackets()
				} else {
					pkts = sb.PopPackets()
				}
				if pkts == nil {
					return false
				}
				for i, p := range pkts {
					if p.Timestamp != pkts[0].Timestamp || (i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1) {
						t.Fatal("popped packets are not one sample's")
					}
				}
				got = append(got, pkts[0].Timestamp)
				return true
			}
			for _, p := range allPackets(frames) {
				if lost[p] {
					continue
				}
				sb.Push(p)
				pushed = append(pushed, p)
				for pop(false) {
				}
			}
			if len(got) != 8 {
				t.Fatalf("Pop returned %d samples before the gap, want 8", len(got))
			}
			drops := r.drops
			for pop(false) {
			}
			if len(got) != 8 {
				t.Fatal("Pop went past a missing packet within maxLate")
			}
			for pop(true) {
			}
			want := []uint32{0, 3000, 6000, 9000, 12000, 15000, 18000, 21000, 27000, 30000}
			if len(got) != len(want) {
				t.Fatalf("got samples at %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("got samples at %v, want %v", got, want)
				}
			}
			if r.drops <= drops {
				t.Fatal("force-popping past losses did not call the drop handler")
			}
			// Empty now.
			if pop(true) || pop(false) {
				t.Fatal("a sample after ForcePop returned nil")
			}
			r.checkReleasedOnce(pushed)
		})
	}
}

func TestWindowIsBoundedAndSenderRestart(t *testing.T) {
	r := newRecorder(t)
	const maxLate = 16
	sb := New(maxLate, &codecs.OpusPacket{}, 48000, r.options()...)
	var pushed []*rtp.Packet
	held := func() int { return len(pushed) - len(r.released) }
	push := func(seq uint16, ts uint32) {
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts}, Payload: []byte{0x78, 1}}
		pushed = append(pushed, p)
		sb.Push(p)
		if h := held(); h > maxLate {
			t.Fatalf("the builder holds %d packets, more than maxLate %d", h, maxLate)
		}
	}
	// Never popped, with a hole at the start: the window stays bounded.
	for i := 1; i < 200; i++ {
		push(uint16(i), uint32(i*960))
	}
	if n := len(popAll(sb)); n != maxLate {
		t.Fatalf("%d samples popped from a full window, want %d", n, maxLate)
	}
	// The sender restarts its numbering far behind: after a few packets
	// the builder follows it.
	var samples int
	for i := 0; i < 40; i++ {
		push(uint16(30000+i), uint32(5_000_000+i*960))
		samples += len(popAll(sb))
	}
	if samples < 40-resyncAfterLate-1 {
		t.Fatalf("after a sequence restart got %d samples of 40", samples)
	}
	forcePopAll(sb)
	r.checkReleasedOnce(pushed)
}
