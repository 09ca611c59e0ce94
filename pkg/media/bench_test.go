package media

import (
	"testing"

	"github.com/go-logr/logr"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
)

// The cost of one published PCM track per 20 ms frame, without the
// network: taking the frame from the queue, resampling it to 48 kHz and
// encoding it (what the track's writer asks for fifty times a second).
func BenchmarkPCMLocalTrackFrame(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
		opts []PCMLocalTrackOption
	}{{"16kHz", 16000, nil}, {"48kHz", 48000, nil}, {"16kHz-complexity5", 16000, []PCMLocalTrackOption{WithComplexity(5)}}} {
		rate := tc.rate
		b.Run(tc.name, func(b *testing.B) {
			track, err := NewPCMLocalTrack(rate, 1, logr.Discard(), tc.opts...)
			require.NoError(b, err)
			defer track.Close()
			p := &pcmProvider{t: track}
			frame := toneAt(rate, rate/50, 440)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				track.mu.Lock()
				track.enqueue(frame)
				track.mu.Unlock()
				if _, err := p.NextSample(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The cost of one received PCM track per 20 ms packet, without the
// network: a PCMRemoteTrack (without its jitter buffer, which paces on a
// clock) reading, decoding at the target rate and writing.
func BenchmarkPCMRemoteTrackFrame(b *testing.B) {
	enc, err := opus.NewEncoder(1, opus.EncoderOptions{Bitrate: DefaultBitrate, FEC: true, PacketLossPercent: 10})
	require.NoError(b, err)
	defer enc.Close()
	buf := make([]byte, opus.MaxPacketSize)
	n, err := enc.Encode(toneAt(48000, 960, 440), buf)
	require.NoError(b, err)
	for _, rate := range []int{16000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			src := newChanSource()
			track, err := newPCMRemoteTrack(src, 1, discardPCM{}, WithTargetSampleRate(rate), WithHandleJitter(false))
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				src.ch <- &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(960 * i)}, Payload: buf[:n]}
			}
			close(src.ch)
			<-track.Done()
			b.StopTimer()
			require.EqualValues(b, b.N, track.Stats().Decoded)
		})
	}
}

type discardPCM struct{}

func (discardPCM) WriteSample([]int16) error { return nil }
func (discardPCM) Close() error              { return nil }

func rateName(rate int) string {
	if rate == 16000 {
		return "16kHz"
	}
	return "48kHz"
}
