package media

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
)

// toneAt is frames of a sine of freq Hz at rate on each channel (freqs[c]
// for channel c), amplitude 0.5.
func toneAt(rate, frames int, freqs ...float64) []int16 {
	out := make([]int16, 0, frames*len(freqs))
	for i := range frames {
		for _, f := range freqs {
			out = append(out, int16(math.Round(0.5*math.MaxInt16*math.Sin(2*math.Pi*f*float64(i)/float64(rate)))))
		}
	}
	return out
}

// goertzel is the level of freq in channel c of pcm in dB of full scale.
func goertzel(pcm []int16, channels, c, rate int, freq float64) float64 {
	n := len(pcm) / channels
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for i := range n {
		s := float64(pcm[i*channels+c])/math.MaxInt16 + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return 20 * math.Log10(math.Sqrt(s1*s1+s2*s2-coeff*s1*s2)*2/float64(n)+1e-12)
}

// puller plays the role of the track's writer: it takes frames from the
// provider and decodes them.
type puller struct {
	t   *testing.T
	p   *pcmProvider
	dec *opus.Decoder
	pcm []int16
	buf []int16
}

func newPuller(t *testing.T, track *PCMLocalTrack, rate int) *puller {
	dec, err := opus.NewDecoder(rate, track.channels)
	require.NoError(t, err)
	t.Cleanup(dec.Close)
	return &puller{t: t, p: &pcmProvider{t: track}, dec: dec, buf: make([]int16, opus.MaxFrameSamples*track.channels)}
}

// pull takes n frames; it returns false once the track is closed.
func (p *puller) pull(n int) bool {
	for range n {
		s, err := p.p.NextSample()
		if errors.Is(err, io.EOF) {
			return false
		}
		require.NoError(p.t, err)
		require.Equal(p.t, p.p.t.frame, s.Duration)
		got, err := p.dec.Decode(s.Data, p.buf)
		require.NoError(p.t, err)
		p.pcm = append(p.pcm, p.buf[:got*p.p.t.channels]...)
	}
	return true
}

func newTrack(t *testing.T, rate, channels int, opts ...PCMLocalTrackOption) *PCMLocalTrack {
	track, err := NewPCMLocalTrack(rate, channels, logr.Discard(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = track.Close() })
	return track
}

func TestLocalTrackEncodesResampledPCM(t *testing.T) {
	for _, tc := range []struct {
		rate, channels int
		freqs          []float64
		opts           []PCMLocalTrackOption
	}{
		{24000, 1, []float64{1000}, nil},
		{24000, 1, []float64{1000}, []PCMLocalTrackOption{WithComplexity(5)}},
		{16000, 1, []float64{440}, nil},
		{22050, 1, []float64{1000}, nil},
		{48000, 2, []float64{440, 1000}, nil},
		{8000, 2, []float64{300, 700}, nil},
	} {
		track := newTrack(t, tc.rate, tc.channels, tc.opts...)
		require.Equal(t, []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX}, track.AudioFeatures()[:1])
		require.Equal(t, tc.channels == 2, len(track.AudioFeatures()) == 2, "stereo is announced")
		p := newPuller(t, track, 48000)
		// A published track sends silence until someone speaks: the
		// encoder's view of the stereo image starts from it.
		require.True(t, p.pull(50))
		require.NoError(t, track.WriteSample(toneAt(tc.rate, tc.rate*9/10, tc.freqs...))) // 0.9 s
		require.True(t, p.pull(50))                                                       // 1 s: the tone, then silence
		settled := p.pcm[48000*13/10*tc.channels : 48000*18/10*tc.channels]
		for c, f := range tc.freqs {
			require.InDelta(t, 20*math.Log10(0.5), goertzel(settled, tc.channels, c, 48000, f), 1.5, "%d Hz on channel %d from %d Hz", f, c, tc.rate)
			for _, other := range tc.freqs {
				if other != f {
					require.Less(t, goertzel(settled, tc.channels, c, 48000, other), -30.0, "channel %d carries only its own tone", c)
				}
			}
		}
		tail := p.pcm[len(p.pcm)-48000/20*tc.channels:]
		for c := range tc.channels {
			require.Less(t, goertzel(tail, tc.channels, c, 48000, tc.freqs[c]), -40.0, "silence once the queue is empty")
		}
	}
}

func TestLocalTrackQueueIsBounded(t *testing.T) {
	track := newTrack(t, 16000, 1, WithQueueDuration(200*time.Millisecond))
	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteSample(toneAt(16000, 16000, 440)) }() // 1 s into 200 ms
	require.Eventually(t, func() bool { return track.QueuedDuration() >= 190*time.Millisecond }, 5*time.Second, time.Millisecond)
	select {
	case err := <-wrote:
		t.Fatalf("the write returned (%v) with 0.8 s not queued", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.LessOrEqual(t, track.QueuedDuration(), 200*time.Millisecond, "the bound holds")
	p := newPuller(t, track, 16000)
	for done := false; !done; {
		require.True(t, p.pull(1))
		require.LessOrEqual(t, track.QueuedDuration(), 200*time.Millisecond)
		select {
		case err := <-wrote:
			require.NoError(t, err)
			done = true
		default:
		}
		require.Less(t, len(p.pcm), 2*16000, "the write finished as the queue drained")
	}
}

func TestLocalTrackWriteHonoursItsContext(t *testing.T) {
	track := newTrack(t, 48000, 1, WithQueueDuration(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteSampleContext(ctx, make([]int16, 48000)) }()
	require.Eventually(t, func() bool { return track.QueuedDuration() == 100*time.Millisecond }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-wrote:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("the write did not return when its context ended")
	}
	require.Equal(t, 100*time.Millisecond, track.QueuedDuration(), "what was queued stays")
}

func TestLocalTrackClearQueue(t *testing.T) {
	track := newTrack(t, 24000, 1)
	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteSample(toneAt(24000, 24000*3, 1000)) }() // 3 s into 1 s
	require.Eventually(t, func() bool { return track.QueuedDuration() >= 990*time.Millisecond }, 5*time.Second, time.Millisecond)
	p := newPuller(t, track, 48000)
	require.True(t, p.pull(25)) // 0.5 s played
	played := track.ClearQueue()
	require.Equal(t, 500*time.Millisecond, played, "the utterance played so far")
	require.ErrorIs(t, <-wrote, ErrQueueCleared, "the waiting write gives up")
	require.Zero(t, track.QueuedDuration())
	require.NoError(t, track.WaitForPlayout(context.Background()), "the cleared utterance is over")
	before := len(p.pcm)
	require.True(t, p.pull(5))
	require.Less(t, goertzel(p.pcm[before+960:], 1, 0, 48000, 1000), -40.0, "silence from the next frame on")

	// A new utterance counts from its start.
	require.NoError(t, track.WriteSample(toneAt(24000, 2400, 1000)))
	require.True(t, p.pull(2))
	require.Equal(t, 40*time.Millisecond, track.ClearQueue())
}

func TestLocalTrackWaitForPlayout(t *testing.T) {
	track := newTrack(t, 16000, 1)
	require.NoError(t, track.WaitForPlayout(context.Background()), "nothing queued")
	require.NoError(t, track.WriteSample(toneAt(16000, 1600, 440))) // 100 ms
	played := make(chan error, 1)
	queued := track.QueuedDuration() // the resampler still holds its delay
	go func() { played <- track.WaitForPlayout(context.Background()) }()
	// WaitForPlayout hands the resampler's tail to the queue first.
	require.Eventually(t, func() bool { return track.QueuedDuration() > queued }, 5*time.Second, time.Millisecond)
	p := newPuller(t, track, 16000)
	for track.QueuedDuration() > 0 {
		require.True(t, p.pull(1)) // the 100 ms and the resampler's tail handed over
		require.Less(t, len(p.pcm), 16000, "the queue does not empty")
	}
	select {
	case err := <-played:
		t.Fatalf("WaitForPlayout returned (%v) before the last frame was sent", err)
	case <-time.After(50 * time.Millisecond):
	}
	require.True(t, p.pull(1)) // the writer asks again: the last one was sent
	select {
	case err := <-played:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("WaitForPlayout did not return once everything was sent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.NoError(t, track.WriteSample(toneAt(16000, 1600, 440)))
	require.ErrorIs(t, track.WaitForPlayout(ctx), context.DeadlineExceeded, "nobody plays it")
}

func TestLocalTrackMuteAndClose(t *testing.T) {
	track := newTrack(t, 48000, 1, WithQueueDuration(100*time.Millisecond))
	require.NoError(t, track.WriteSample(toneAt(48000, 4800, 1000)))
	p := newPuller(t, track, 48000)
	track.Mute(true)
	require.True(t, track.IsMuted())
	require.True(t, p.pull(5))
	require.Equal(t, 100*time.Millisecond, track.QueuedDuration(), "muted: the queue waits")
	require.Less(t, goertzel(p.pcm, 1, 0, 48000, 1000), -40.0, "muted: silence")
	track.Mute(false)
	require.True(t, p.pull(2))
	require.Equal(t, 60*time.Millisecond, track.QueuedDuration())

	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteSample(make([]int16, 48000)) }()
	waited := make(chan error, 1)
	go func() { waited <- track.WaitForPlayout(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, track.Close())
	require.NoError(t, track.Close(), "a second Close")
	require.ErrorIs(t, <-wrote, ErrTrackClosed)
	require.ErrorIs(t, <-waited, ErrTrackClosed)
	require.False(t, p.pull(1), "the writer ends")
	require.ErrorIs(t, track.WriteSample(make([]int16, 10)), ErrTrackClosed)
}

func TestLocalTrackRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		rate, channels int
		opts           []PCMLocalTrackOption
	}{
		{7999, 1, nil}, {48001, 1, nil}, {16000, 3, nil}, {16000, 0, nil},
		{16000, 1, []PCMLocalTrackOption{WithFrameDuration(25 * time.Millisecond)}},
		{16000, 1, []PCMLocalTrackOption{WithBitrate(100)}},
		{16000, 1, []PCMLocalTrackOption{WithComplexity(11)}},
	} {
		_, err := NewPCMLocalTrack(tc.rate, tc.channels, logr.Discard(), tc.opts...)
		require.Error(t, err, "%d Hz, %d channels", tc.rate, tc.channels)
	}
	track := newTrack(t, 16000, 2)
	require.Error(t, track.WriteSample(make([]int16, 3)), "half a frame")
}
