package media

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
)

// chanSource is an rtpSource fed by a test: packets sent on ch are read,
// closing ch ends the track (io.EOF), a read deadline interrupts it.
type chanSource struct {
	ch       chan *rtp.Packet
	mu       sync.Mutex
	deadline chan struct{}
	once     sync.Once
}

func newChanSource() *chanSource {
	return &chanSource{ch: make(chan *rtp.Packet, 1024), deadline: make(chan struct{})}
}

func (s *chanSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	select {
	case p, ok := <-s.ch:
		if !ok {
			return nil, nil, io.EOF
		}
		return p, nil, nil
	case <-s.deadline:
		return nil, nil, errors.New("deadline")
	}
}

func (s *chanSource) SetReadDeadline(time.Time) error {
	s.once.Do(func() { close(s.deadline) })
	return nil
}

// opusStream is n 20 ms packets of a 440 Hz tone at 48 kHz, with FEC.
func opusStream(t *testing.T, n int) []*rtp.Packet {
	enc, err := opus.NewEncoder(1, opus.EncoderOptions{Bitrate: 32000, FEC: true, PacketLossPercent: 30})
	require.NoError(t, err)
	defer enc.Close()
	src := toneAt(48000, 960*n, 440)
	out := make([]*rtp.Packet, n)
	for i := range n {
		buf := make([]byte, opus.MaxPacketSize)
		m, err := enc.Encode(src[960*i:960*(i+1)], buf)
		require.NoError(t, err)
		out[i] = &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(65000 + i), Timestamp: uint32(4294000000 + 960*i)}, Payload: buf[:m]}
	}
	return out
}

// TestRemoteTrackConcealsLoss drops 10% and 30% of the packets: the PCM
// written keeps the stream's length and its tone, without and with the
// jitter buffer (fed in real time), and the track ends cleanly when its
// source does.
func TestRemoteTrackConcealsLoss(t *testing.T) {
	for _, tc := range []struct {
		loss   float64
		jitter bool
	}{{0.1, false}, {0.3, false}, {0.1, true}, {0.3, true}} {
		const n = 100 // 2 s
		packets := opusStream(t, n)
		src := newChanSource()
		out := newCollect()
		track, err := newPCMRemoteTrack(src, 1, out, WithTargetSampleRate(16000), WithHandleJitter(tc.jitter))
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(7, uint64(tc.loss*100)))
		dropped := 0
		for i, p := range packets {
			if i > 0 && i < n-1 && rng.Float64() < tc.loss {
				dropped++
				continue
			}
			src.ch <- p
			if tc.jitter {
				time.Sleep(20 * time.Millisecond)
			}
		}
		close(src.ch)
		select {
		case <-track.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the track did not end with its source")
		}
		<-out.closed
		st := track.Stats()
		got := out.samples()
		t.Logf("loss %.0f%%, jitter %v: %d dropped; %+v", tc.loss*100, tc.jitter, dropped, st)
		require.Equal(t, 2*16000, len(got), "the output keeps its length")
		require.EqualValues(t, n-dropped, st.Decoded)
		require.EqualValues(t, dropped, st.Recovered+st.Concealed)
		require.Positive(t, st.Recovered, "some lost packets came back from FEC")
		level := goertzel(got[1600:], 1, 0, 16000, 440)
		require.InDelta(t, 20*math.Log10(0.5), level, 3, "the tone's level")
		for _, f := range []float64{220, 880, 1320} {
			require.Less(t, goertzel(got[1600:], 1, 0, 16000, f), level-25, "no other tone at %v Hz", f)
		}
		track.Close() // after its end: returns at once
	}
}

// A sender's pause (the timestamps jump, the sequence numbers do not) is
// written as silence of the pause's length, and with the jitter buffer
// while it lasts, not when it ends.
func TestRemoteTrackWritesPausesAsSilence(t *testing.T) {
	packets := opusStream(t, 20)
	src := newChanSource()
	out := newCollect()
	track, err := newPCMRemoteTrack(src, 1, out, WithTargetSampleRate(16000))
	require.NoError(t, err)
	defer track.Close()
	for _, p := range packets[:10] {
		src.ch <- p
		time.Sleep(20 * time.Millisecond)
	}
	// 0.5 s without a packet: output goes on.
	require.Eventually(t, func() bool { return len(out.samples()) >= 16000*6/10 }, 5*time.Second, 5*time.Millisecond,
		"written while the sender is silent")
	for i, p := range packets[10:] {
		q := *p
		q.Timestamp += 48000 // resumed 1 s later on the sender's clock
		q.SequenceNumber = packets[10].SequenceNumber + uint16(i)
		src.ch <- &q
		time.Sleep(20 * time.Millisecond)
	}
	close(src.ch)
	<-track.Done()
	st := track.Stats()
	require.EqualValues(t, 20, st.Decoded)
	require.Positive(t, st.SilenceFrames)
	require.Equal(t, 22400, len(out.samples()), "0.2 s, 1 s of silence, 0.2 s: the stream's own length")
}

func TestRemoteTrackCloseStopsIt(t *testing.T) {
	src := newChanSource()
	out := newCollect()
	track, err := newPCMRemoteTrack(src, 2, out, WithTargetChannels(1))
	require.NoError(t, err)
	require.Equal(t, 1, track.Channels())
	src.ch <- opusStream(t, 1)[0]
	track.Close()
	track.Close()
	<-out.closed
	_, err = newPCMRemoteTrack(src, 1, out, WithTargetSampleRate(44100))
	require.Error(t, err)
	_, err = newPCMRemoteTrack(src, 1, out, WithJitterDelay(time.Second, time.Millisecond))
	require.Error(t, err)
}
