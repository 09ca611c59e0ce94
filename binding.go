package lksdk

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
)

// trackBinding ties one published track to the session it is published on:
// the transceiver it was added with, the one RTCP reader of each of its RTP
// streams, and the sample tracks whose writers it stops. Every goroutine of
// a binding belongs to the room's goroutine group. A full reconnect makes a
// new binding on the new session; unpublishing and leaving close it.
type trackBinding struct {
	room        *Room
	pub         *LocalTrackPublication
	transceiver *webrtc.RTPTransceiver
	tracks      []*LocalSampleTrack // sample tracks (simulcast layers), if any
	readers     []*rtcpReader
}

// rtcpReader reads the RTCP of one RTP stream of a sender (of the simulcast
// layer rid, if set) and passes it to handle: pion's interceptors (NACK,
// reports) need it read, and sample tracks answer keyframe requests.
type rtcpReader struct {
	sender *webrtc.RTPSender
	rid    string
	handle func([]rtcp.Packet)
	done   chan struct{}
	id     atomic.Uint64 // the reading goroutine
}

// bindTrack makes the binding of pub's track, added to the publisher as
// transceiver, and starts its RTCP readers.
func (p *LocalParticipant) bindTrack(pub *LocalTrackPublication, transceiver *webrtc.RTPTransceiver) *trackBinding {
	b := &trackBinding{room: p.room, pub: pub, transceiver: transceiver, tracks: pub.sampleTracks()}
	sender := transceiver.Sender()
	if len(b.tracks) == 0 {
		b.startReader(sender, "", nil)
		return b
	}
	for _, st := range b.tracks {
		st.attach(b)
		if st.claimRTCP(sender) {
			b.startReader(sender, st.rid, st.handleRTCP)
		}
	}
	return b
}

// waitReady blocks until the session can carry st's media (what is
// written before is lost): the publisher connection is up and, for audio
// that starts on subscription, someone subscribed.
func (b *trackBinding) waitReady(ctx context.Context, st *LocalSampleTrack) error {
	if err := b.room.engine.waitPublisherConnected(ctx); err != nil {
		return err
	}
	if st.startOnSubscribe && st.kind == webrtc.RTPCodecTypeAudio {
		return b.pub.subscribed.wait(ctx)
	}
	return nil
}

func (b *trackBinding) startReader(sender *webrtc.RTPSender, rid string, handle func([]rtcp.Packet)) {
	rr := &rtcpReader{sender: sender, rid: rid, handle: handle, done: make(chan struct{})}
	if !b.room.goroutines.start(rr.run) {
		close(rr.done)
	}
	b.readers = append(b.readers, rr)
}

func (rr *rtcpReader) run() {
	defer close(rr.done)
	rr.id.Store(curGoroutineID())
	for {
		var pkts []rtcp.Packet
		var err error
		if rr.rid != "" {
			pkts, _, err = rr.sender.ReadSimulcastRTCP(rr.rid)
		} else {
			pkts, _, err = rr.sender.ReadRTCP()
		}
		if err != nil {
			return // the sender stopped
		}
		if rr.handle != nil {
			rr.handle(pkts)
		}
	}
}

// rtcpStopWait bounds the wait for a simulcast RTCP reader to notice its
// deadline.
const rtcpStopWait = 250 * time.Millisecond

// stop interrupts a simulcast reader before its sender is stopped: pion v3's
// simulcast read loop races with Stop. The deadline must not be set on a
// sender whose connection never came up (pion waits for it forever); plain
// readers end when the sender stops.
func (rr *rtcpReader) stop(connected bool) {
	if rr.rid == "" || !connected || rr.id.Load() == curGoroutineID() {
		return
	}
	_ = rr.sender.SetReadDeadlineSimulcast(time.Now(), rr.rid)
	t := time.NewTimer(rtcpStopWait)
	defer t.Stop()
	select {
	case <-rr.done:
	case <-t.C:
	}
}

// stopRTCP stops the binding's RTCP readers, before its sender or the
// publisher connection is closed.
func (b *trackBinding) stopRTCP() {
	connected := b.room.engine.publisherIsConnected()
	for _, rr := range b.readers {
		rr.stop(connected)
	}
}

// close ends the binding: each sample track's provider is unblocked and its
// writer stopped, then the RTCP readers. It may be called from the
// binding's own goroutines (a provider's OnWriteComplete, an RTCP handler):
// it does not wait for the goroutine it runs on.
func (b *trackBinding) close() {
	for _, st := range b.tracks {
		st.close()
	}
	b.stopRTCP()
}
