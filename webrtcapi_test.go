package lksdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

func TestRetransmissionBufferOption(t *testing.T) {
	for _, n := range []uint16{0, 3, 100, 1<<15 + 1} {
		_, err := lksdk.NewWebRTCAPIWithOptions(webrtc.SettingEngine{}, lksdk.WithRetransmissionBuffer(n))
		require.Error(t, err, "buffer of %d packets", n)
	}
	for _, n := range []uint16{1, 128, 1 << 15} {
		_, err := lksdk.NewWebRTCAPIWithOptions(webrtc.SettingEngine{}, lksdk.WithRetransmissionBuffer(n))
		require.NoError(t, err, "buffer of %d packets", n)
	}
}

// TestRetransmissionBufferDepth sends 64 video packets between two peer
// connections of an API keeping 16, then NACKs one packet inside that
// window and one outside it: only the first is sent again.
func TestRetransmissionBufferDepth(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: it opens two peer connections on loopback")
	}
	se := testclient.LoopbackSettingEngine()
	// Without RTX a retransmission repeats a sequence number, which SRTP's
	// replay protection at the receiver would drop.
	se.DisableSRTPReplayProtection(true)
	api := loopbackAPI(t, se, lksdk.WithRetransmissionBuffer(16))

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	require.NoError(t, err)
	got := make(chan uint16, 256)
	receiver, senders := peerPair(t, api, []webrtc.TrackLocal{track}, func(remote *webrtc.TrackRemote) {
		for {
			p, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			got <- p.SequenceNumber
		}
	})
	rtpSender := senders[0]

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a} // a VP8 start-of-partition byte and a little more
	send := func(seq uint16) {
		require.NoError(t, track.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
			Payload: payload,
		}))
	}
	// Keep sending the first packet until the connection carries it.
	for first := false; !first; {
		send(1)
		select {
		case seq := <-got:
			first = seq == 1
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no packet arrived")
		}
	}
	for seq := uint16(2); seq <= 64; seq++ {
		send(seq)
	}
	for seen := uint16(1); seen < 64; {
		select {
		case seq := <-got:
			seen = max(seen, seq)
		case <-ctx.Done():
			t.Fatalf("only up to packet %d arrived", seen)
		}
	}

	ssrc := uint32(rtpSender.GetParameters().Encodings[0].SSRC)
	require.NoError(t, receiver.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: ssrc,
		Nacks:     rtcp.NackPairsFromSequenceNumbers([]uint16{10, 60}),
	}}))
	// pion hands a repaired packet to the reader with the next packet of
	// the stream, so the stream goes on meanwhile.
	var resent []uint16
	next := uint16(65)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// Both NACKed packets are answered at once, if at all: once 60 is back,
	// 20 more packets of the stream give 10 time to come after it.
	timeout := time.After(10 * time.Second)
	var doneAt uint16
	for next != doneAt || doneAt == 0 {
		select {
		case seq := <-got:
			if seq < 65 {
				resent = append(resent, seq)
				if seq == 60 {
					doneAt = next + 20
				}
			}
		case <-tick.C:
			send(next)
			next++
		case <-timeout:
			t.Fatalf("the NACKed packets did not come back within 10 s (%v came)", resent)
		}
	}
	require.Equal(t, []uint16{60}, resent, "packets sent again after the NACK")
}
