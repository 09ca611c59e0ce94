package lksdk

import (
	"io"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
)

// sendTimes is a TrackLocalContext that records when each frame's first
// packet is written.
type sendTimes struct {
	mu    sync.Mutex
	times []time.Time
	last  uint32
	seen  bool
}

func (s *sendTimes) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}}
}
func (s *sendTimes) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (s *sendTimes) SSRC() webrtc.SSRC                                      { return 1 }
func (s *sendTimes) WriteStream() webrtc.TrackLocalWriter                   { return s }
func (s *sendTimes) ID() string                                             { return "pacing" }
func (s *sendTimes) RTCPReader() interceptor.RTCPReader                     { return nil }
func (s *sendTimes) Write(b []byte) (int, error)                            { return len(b), nil }
func (s *sendTimes) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen || h.Timestamp != s.last {
		s.times = append(s.times, now)
		s.last, s.seen = h.Timestamp, true
	}
	return len(p), nil
}

// countedProvider ends after n samples of d.
type countedProvider struct {
	BaseSampleProvider
	n    int
	d    time.Duration
	data []byte
	done chan struct{}
}

func (p *countedProvider) NextSample() (media.Sample, error) {
	if p.n == 0 {
		close(p.done)
		return media.Sample{}, io.EOF
	}
	p.n--
	return media.Sample{Data: p.data, Duration: p.d}, nil
}

// BenchmarkPacing sends b.N frames at 30 fps through StartWrite and reports
// how far each frame's send time lies from the ideal schedule
// (start + n × 33.3 ms): the mean and 99th percentile of the absolute
// deviation, and the deviation of the last frame (drift). Run it for a
// minute with -benchtime=1800x.
func BenchmarkPacing(b *testing.B) {
	track, err := NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	if err != nil {
		b.Fatal(err)
	}
	rec := &sendTimes{}
	if _, err := track.Bind(rec); err != nil {
		b.Fatal(err)
	}
	const d = time.Second / 30
	p := &countedProvider{n: b.N, d: d, data: make([]byte, 1000), done: make(chan struct{})}
	b.ResetTimer()
	if err := track.StartWrite(p, nil); err != nil {
		b.Fatal(err)
	}
	<-p.done
	track.stopWrite()
	b.StopTimer()

	rec.mu.Lock()
	times := rec.times
	rec.mu.Unlock()
	if len(times) < 2 {
		return
	}
	devs := make([]float64, len(times))
	var sum float64
	for i, at := range times {
		ideal := times[0].Add(time.Duration(i) * d)
		devs[i] = math.Abs(float64(at.Sub(ideal).Microseconds()))
		sum += devs[i]
	}
	last := devs[len(devs)-1]
	sort.Float64s(devs)
	b.ReportMetric(sum/float64(len(devs)), "mean-dev-µs")
	b.ReportMetric(devs[int(float64(len(devs)-1)*0.99)], "p99-dev-µs")
	b.ReportMetric(last, "last-dev-µs")
}
