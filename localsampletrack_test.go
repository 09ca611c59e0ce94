package lksdk

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"
)

// capture is a TrackLocalContext whose write stream records packets.
type capture struct {
	mu       sync.Mutex
	headers  []rtp.Header
	payloads [][]byte
	count    int
	keep     bool
	codecs   []webrtc.RTPCodecParameters
}

func (c *capture) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }
func (c *capture) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return []webrtc.RTPHeaderExtensionParameter{
		{URI: sdp.AudioLevelURI, ID: 1}, {URI: sdp.SDESMidURI, ID: 2}, {URI: sdp.SDESRTPStreamIDURI, ID: 3},
	}
}
func (c *capture) SSRC() webrtc.SSRC                    { return 1234 }
func (c *capture) WriteStream() webrtc.TrackLocalWriter { return c }
func (c *capture) ID() string                           { return "binding" }
func (c *capture) RTCPReader() interceptor.RTCPReader   { return nil }
func (c *capture) Write(b []byte) (int, error)          { return len(b), nil }
func (c *capture) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if c.keep {
		c.headers = append(c.headers, *h)
		c.payloads = append(c.payloads, append([]byte(nil), p...))
	}
	return len(p), nil
}

func (c *capture) timestamps() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint32
	for _, h := range c.headers {
		if len(out) == 0 || out[len(out)-1] != h.Timestamp {
			out = append(out, h.Timestamp)
		}
	}
	return out
}

func boundTrack(t testing.TB, mime string, keep bool) (*LocalSampleTrack, *capture) {
	t.Helper()
	track, err := NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: mime})
	require.NoError(t, err)
	c := &capture{keep: keep, codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
	}}
	_, err = track.Bind(c)
	require.NoError(t, err)
	return track, c
}

func TestTimestampsFollowDurations(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
	for i := 0; i < 50; i++ {
		require.NoError(t, track.WriteSample(media.Sample{Data: []byte{0xfc, 1, 2}, Duration: 20 * time.Millisecond}, nil))
	}
	ts := c.timestamps()
	require.Len(t, ts, 50)
	for i := 1; i < len(ts); i++ {
		require.Equal(t, uint32(960), ts[i]-ts[i-1])
	}
}

func TestPauseIsAGapNotAReuse(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
	sample := media.Sample{Data: []byte{0xfc, 1}, Duration: 20 * time.Millisecond}
	require.NoError(t, track.WriteSample(sample, nil))
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, track.WriteSample(sample, nil))
	time.Sleep(time.Second)
	require.NoError(t, track.WriteSample(sample, nil))
	ts := c.timestamps()
	require.Equal(t, uint32(960), ts[1]-ts[0])
	gap := ts[2] - ts[1]
	// About a second passed: the clock jumps by it (48 kHz).
	require.InDelta(t, 48000, float64(gap), 48000*0.15, "gap of %d ticks", gap)
}

func TestMutedTrackSendsNothingButKeepsTime(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
	sample := media.Sample{Data: []byte{0xfc, 1}, Duration: 20 * time.Millisecond}
	require.NoError(t, track.WriteSample(sample, nil))
	track.setMuted(true)
	for i := 0; i < 5; i++ {
		require.NoError(t, track.WriteSample(sample, nil))
	}
	track.setMuted(false)
	require.NoError(t, track.WriteSample(sample, nil))
	ts := c.timestamps()
	require.Len(t, ts, 2)
	require.Equal(t, uint32(6*960), ts[1]-ts[0])
}

func TestAudioLevelAndSimulcastExtensions(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
	level := uint8(30)
	require.NoError(t, track.WriteSample(media.Sample{Data: []byte{0xfc}, Duration: 20 * time.Millisecond}, &SampleWriteOptions{AudioLevel: &level}))
	require.Equal(t, []byte{0x80 | 30}, c.headers[0].GetExtension(1))
	require.Nil(t, c.headers[0].GetExtension(3), "no rid on a track that is not simulcast")
}

func TestReplayFitsBetweenFrames(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeVP8, true)
	frame := media.Sample{Data: []byte{0x10, 2, 0, 0x9d, 1, 0x2a}, Duration: time.Second / 30}
	require.NoError(t, track.WriteSample(frame, nil))
	for i := 0; i < 3; i++ {
		require.NoError(t, track.writeReplay(frame.Data))
	}
	require.NoError(t, track.WriteSample(frame, nil))
	ts := c.timestamps()
	require.Len(t, ts, 5)
	for i := 1; i <= 3; i++ {
		require.Equal(t, uint32(i), ts[i]-ts[0], "replays step by one tick")
	}
	require.Equal(t, uint32(3000), ts[4]-ts[0], "the next frame keeps its place")
}

func BenchmarkWriteSample(b *testing.B) {
	for _, bc := range []struct {
		name, mime string
		size       int
		d          time.Duration
	}{
		{"opus-60B", webrtc.MimeTypeOpus, 60, 20 * time.Millisecond},
		{"vp8-1KB", webrtc.MimeTypeVP8, 1000, time.Second / 30},
		{"vp8-10KB", webrtc.MimeTypeVP8, 10000, time.Second / 30},
	} {
		b.Run(bc.name, func(b *testing.B) {
			track, _ := boundTrack(b, bc.mime, false)
			sample := media.Sample{Data: make([]byte, bc.size), Duration: bc.d}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = track.WriteSample(sample, nil)
			}
		})
	}
}

// blockingProvider gives n samples, waiting block before the one at index
// gapAt.
type blockingProvider struct {
	BaseSampleProvider
	i, n, gapAt int
	block       time.Duration
	done        chan struct{}
}

func (p *blockingProvider) NextSample() (media.Sample, error) {
	if p.i == p.n {
		close(p.done)
		return media.Sample{}, io.EOF
	}
	if p.i == p.gapAt {
		time.Sleep(p.block)
	}
	p.i++
	return media.Sample{Data: []byte{0xfc}, Duration: 20 * time.Millisecond}, nil
}

func TestProviderThatStallsMakesAGap(t *testing.T) {
	track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
	p := &blockingProvider{n: 10, gapAt: 5, block: 700 * time.Millisecond, done: make(chan struct{})}
	require.NoError(t, track.StartWrite(p, nil))
	<-p.done
	track.stopWrite()
	ts := c.timestamps()
	require.Len(t, ts, 10)
	for i := 1; i < len(ts); i++ {
		step := ts[i] - ts[i-1]
		if i == 5 {
			require.InDelta(t, 0.7*48000, float64(step), 0.15*48000, "the stall shows as a gap")
			continue
		}
		require.Equal(t, uint32(960), step, "step %d", i)
	}
}
