package media

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	pionmedia "github.com/pion/webrtc/v3/pkg/media"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
)

var (
	loadTracks     = flag.Int("pcm-tracks", 100, "BenchmarkPCMTracksThroughServer: published and received tracks")
	loadComplexity = flag.Int("pcm-complexity", 0, "BenchmarkPCMTracksThroughServer: libopus complexity (0: libopus's default)")
)

// cpuTime is the CPU this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countPCM counts the samples a remote track writes.
type countPCM struct{ n *atomic.Uint64 }

func (c countPCM) WriteSample(s []int16) error { c.n.Add(uint64(len(s))); return nil }
func (countPCM) Close() error                  { return nil }

// encodedTone is a provider cycling through one second of a 440 Hz tone
// encoded once: a sender that costs no encoding.
type encodedTone struct {
	packets [][]byte
	i       int
}

func newEncodedTone(b *testing.B) *encodedTone {
	enc, err := opus.NewEncoder(1, opus.EncoderOptions{Bitrate: DefaultBitrate})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	pcm := toneAt(48000, 48000, 440)
	e := &encodedTone{}
	for f := 0; f+960 <= len(pcm); f += 960 {
		out := make([]byte, opus.MaxPacketSize)
		n, err := enc.Encode(pcm[f:f+960], out)
		if err != nil {
			b.Fatal(err)
		}
		e.packets = append(e.packets, out[:n])
	}
	return e
}

func (e *encodedTone) NextSample() (pionmedia.Sample, error) {
	p := e.packets[e.i%len(e.packets)]
	e.i++
	return pionmedia.Sample{Data: p, Duration: 20 * time.Millisecond}, nil
}

func (*encodedTone) OnBind() error   { return nil }
func (*encodedTone) OnUnbind() error { return nil }
func (*encodedTone) Close() error    { return nil }

// BenchmarkPCMTracksThroughServer measures the CPU this process spends on
// PCM tracks going through a livekit-server on loopback (the server's own
// CPU is not counted), in two phases, each one second of audio per
// iteration (run it with -benchtime 10x, say):
//
//   - published: -pcm-tracks bots, each alone in a room, each publishing a
//     PCM track fed a tone at the sub-benchmark's rate;
//   - received: as many senders of pre-encoded Opus (no encoding), each
//     alone in a room, measured first; then a listener joins each room and
//     reads its track through a PCMRemoteTrack at the same rate. What the
//     listeners add is the received tracks' cost.
//
// Metrics: the share of one core per published and per received track,
// and the samples sent and received as shares of those expected in real
// time (below 100 when the process does not keep up).
func BenchmarkPCMTracksThroughServer(b *testing.B) {
	for _, rate := range []int{16000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) { benchPCMLoad(b, rate, *loadTracks) })
	}
}

func benchPCMLoad(b *testing.B, rate, n int) {
	srv := lktest.Start(b)
	measure := func() time.Duration {
		time.Sleep(2 * time.Second) // settle
		c0 := cpuTime(b)
		time.Sleep(time.Duration(b.N) * time.Second)
		return cpuTime(b) - c0
	}

	// Published.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var feeders sync.WaitGroup
	opts := []PCMLocalTrackOption{}
	if *loadComplexity > 0 {
		opts = append(opts, WithComplexity(*loadComplexity))
	}
	second := toneAt(rate, rate, 440)
	var written atomic.Uint64 // samples the feeders' writes took
	var speakers []*lksdk.Room
	for i := range n {
		r, track := publishPCM(b, srv, fmt.Sprintf("%s-pub-%d", lktest.RoomName(b), i), "speaker", rate, 1, opts...)
		speakers = append(speakers, r)
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			// 20 ms at a time: the queue full, each write returns as a frame
			// is sent, so what the writes take is what the track plays.
			step := rate / 50
			for i := 0; ctx.Err() == nil; i = (i + step) % len(second) {
				if err := track.WriteSampleContext(ctx, second[i:i+step]); err != nil {
					if ctx.Err() == nil {
						b.Errorf("write: %v", err)
					}
					return
				}
				written.Add(uint64(step))
			}
		}()
	}
	b.ResetTimer()
	time.Sleep(2 * time.Second) // settle, the queues fill
	w0 := written.Load()
	c0 := cpuTime(b)
	time.Sleep(time.Duration(b.N) * time.Second)
	pub := cpuTime(b) - c0
	sent := written.Load() - w0
	b.StopTimer()
	cancel()
	feeders.Wait()
	for _, r := range speakers {
		r.Disconnect()
	}

	// Received.
	rooms := make([]string, n)
	for i := range n {
		rooms[i] = fmt.Sprintf("%s-recv-%d", lktest.RoomName(b), i)
		r := joinRoom(b, srv, rooms[i], "sender", lksdk.NewRoomCallback())
		track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "tone"}); err != nil {
			b.Fatal(err)
		}
		if err := track.StartWrite(newEncodedTone(b), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
	senders := measure()
	b.StopTimer()
	var samples atomic.Uint64
	subscribed := make(chan struct{}, n)
	for _, room := range rooms {
		cb := lksdk.NewRoomCallback()
		cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			pt, err := NewPCMRemoteTrack(track, countPCM{&samples}, WithTargetSampleRate(rate), WithTargetChannels(1))
			if err != nil {
				b.Error(err)
				return
			}
			b.Cleanup(pt.Close)
			subscribed <- struct{}{}
		}
		joinRoom(b, srv, room, "listener", cb)
	}
	for range n {
		select {
		case <-subscribed:
		case <-time.After(hangBound):
			b.Fatal("a listener was not subscribed")
		}
	}
	b.StartTimer()
	time.Sleep(2 * time.Second)
	s0 := samples.Load()
	c0 = cpuTime(b)
	time.Sleep(time.Duration(b.N) * time.Second)
	both := cpuTime(b) - c0
	got := samples.Load() - s0
	b.StopTimer()

	window := float64(time.Duration(b.N) * time.Second)
	perTrack := func(d time.Duration) float64 { return 100 * float64(d) / window / float64(n) }
	b.ReportMetric(perTrack(pub), "%core/published")
	b.ReportMetric(perTrack(both-senders), "%core/received")
	b.ReportMetric(perTrack(senders), "%core/encoded-sender")
	expected := float64(uint64(b.N) * uint64(rate) * uint64(n))
	b.ReportMetric(100*float64(sent)/expected, "%samples-sent")
	b.ReportMetric(100*float64(got)/expected, "%samples-received")
	b.ReportMetric(0, "ns/op")
}
