package media

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// hangBound bounds waits that only end when something hung.
const hangBound = 30 * time.Second

func joinRoom(t testing.TB, srv *lkserver.Server, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity,
	}, cb, opts...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

// heard is one remote track a listener reads as PCM.
type heard struct {
	pub   *lksdk.RemoteTrackPublication
	track *PCMRemoteTrack
	out   *collect
}

// testJitterDelay is the listeners' jitter buffer depth. These tests check
// what arrives, not how soon: with the default depth (60 ms), packets that
// a loaded machine (make test runs packages side by side, under -race)
// holds up longer are dropped as late, and the tone has gaps that have
// nothing to do with what is tested.
const testJitterDelay = 250 * time.Millisecond

// listen joins a participant that reads every audio track it is given
// through a PCMRemoteTrack with a testJitterDelay deep jitter buffer and
// opts, and reports each on the channel.
func listen(t testing.TB, srv *lkserver.Server, room, identity string, opts ...PCMRemoteTrackOption) <-chan heard {
	t.Helper()
	opts = append([]PCMRemoteTrackOption{WithJitterDelay(testJitterDelay, MaxJitterDelay)}, opts...)
	ch := make(chan heard, 128)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		if track.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		out := newCollect()
		pt, err := NewPCMRemoteTrack(track, out, opts...)
		if err != nil {
			t.Errorf("NewPCMRemoteTrack: %v", err)
			return
		}
		ch <- heard{pub, pt, out}
	}
	r := joinRoom(t, srv, room, identity, cb)
	t.Cleanup(func() {
		r.Disconnect()
		for {
			select {
			case h := <-ch:
				h.track.Close()
			default:
				return
			}
		}
	})
	return ch
}

func next(t testing.TB, ch <-chan heard) heard {
	t.Helper()
	select {
	case h := <-ch:
		t.Cleanup(h.track.Close)
		return h
	case <-time.After(hangBound):
		t.Fatal("no audio track was subscribed")
		return heard{}
	}
}

// publishPCM joins identity and publishes a PCM track taking rate and
// channels.
func publishPCM(t testing.TB, srv *lkserver.Server, room, identity string, rate, channels int, opts ...PCMLocalTrackOption) (*lksdk.Room, *PCMLocalTrack) {
	t.Helper()
	r := joinRoom(t, srv, room, identity, lksdk.NewRoomCallback())
	track, err := NewPCMLocalTrack(rate, channels, logr.Discard(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = track.Close() })
	_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "voice", Source: livekit.TrackSource_MICROPHONE})
	require.NoError(t, err)
	return r, track
}

// blockLevels is the RMS level in dBFS of each block of the given duration
// of pcm (all channels).
func blockLevels(pcm []int16, channels, rate int, block time.Duration) []float64 {
	n := int(time.Duration(rate)*block/time.Second) * channels
	var out []float64
	for i := 0; i+n <= len(pcm); i += n {
		out = append(out, rmsDB(pcm[i:i+n]))
	}
	return out
}

func rmsDB(pcm []int16) float64 {
	var sum float64
	for _, s := range pcm {
		v := float64(s) / math.MaxInt16
		sum += v * v
	}
	return 10 * math.Log10(sum/float64(max(len(pcm), 1))+1e-12)
}

// channel is channel c of interleaved pcm.
func channel(pcm []int16, channels, c int) []int16 {
	out := make([]int16, 0, len(pcm)/channels)
	for i := c; i < len(pcm); i += channels {
		out = append(out, pcm[i])
	}
	return out
}

// dominantFreq is the frequency within 50 Hz of near where mono's spectrum
// peaks, to a quarter of a hertz, and the peak's amplitude in dBFS
// (Goertzel over at most 2 s of mono). A concealed or missing frame
// widens the peak a little but does not move it.
func dominantFreq(mono []int16, rate int, near float64) (freq, amplitude float64) {
	mono = mono[:min(len(mono), 2*rate)]
	amplitude = math.Inf(-1)
	for f := near - 50; f <= near+50; f += 0.25 {
		if a := goertzel(mono, 1, 0, rate, f); a > amplitude {
			freq, amplitude = f, a
		}
	}
	return freq, amplitude
}

// toneSpan is where the tone is in pcm: the first and last 10 ms blocks
// whose level is within 10 dB of want (dBFS), in samples per channel.
func toneSpan(pcm []int16, channels, rate int, want float64) (start, end int, ok bool) {
	const block = 10 * time.Millisecond
	per := rate / 100
	first, last := -1, -1
	for i, l := range blockLevels(pcm, channels, rate, block) {
		if l > want-10 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0, 0, false
	}
	return first * per, (last + 1) * per, true
}

// sourceLevel is the RMS level of toneAt's sines: amplitude 0.5.
var sourceLevel = 20 * math.Log10(0.5/math.Sqrt2)

// Through a real server: what a PCM track is given arrives at a remote PCM
// track at the frequency and level it was given, almost every sample of
// it, at the rates and channels asked for.
func TestPCMTrackThroughTheServer(t *testing.T) {
	for _, tc := range []struct {
		name                string
		rate, channels      int
		freqs               []float64
		outRate, outChannel int
		features            []livekit.AudioTrackFeature
	}{
		{"1 kHz given at 24 kHz read at 16 kHz", 24000, 1, []float64{1000}, 16000, 1, []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX}},
		{"440 Hz given at 48 kHz read at 16 kHz", 48000, 1, []float64{440}, 16000, 1, []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX}},
		{"a tone on each channel read as stereo", 48000, 2, []float64{440, 1000}, 48000, 2, []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX, livekit.AudioTrackFeature_TF_STEREO}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lktest.Start(t)
			room := lktest.RoomName(t)
			heardCh := listen(t, srv, room, "listener", WithTargetSampleRate(tc.outRate), WithTargetChannels(tc.outChannel))
			_, track := publishPCM(t, srv, room, "speaker", tc.rate, tc.channels)
			h := next(t, heardCh)
			for _, f := range tc.features {
				require.Contains(t, h.pub.TrackInfo().GetAudioFeatures(), f, "the track is announced with %s", f)
			}
			if tc.channels == 1 {
				require.NotContains(t, h.pub.TrackInfo().GetAudioFeatures(), livekit.AudioTrackFeature_TF_STEREO)
			}

			const seconds = 5
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			require.NoError(t, track.WriteSampleContext(ctx, toneAt(tc.rate, tc.rate*seconds, tc.freqs...)))
			require.NoError(t, track.WaitForPlayout(ctx))
			// Wait for the silence after the tone to arrive: the end of it.
			var pcm []int16
			require.Eventually(t, func() bool {
				pcm = h.out.samples()
				_, end, ok := toneSpan(pcm, tc.outChannel, tc.outRate, sourceLevel)
				return ok && len(pcm)/tc.outChannel > end+tc.outRate/5
			}, hangBound, 20*time.Millisecond, "the tone and the silence after it arrive")

			t.Logf("remote track: %+v", h.track.Stats())
			start, end, _ := toneSpan(pcm, tc.outChannel, tc.outRate, sourceLevel)
			got := float64(end-start) / float64(tc.outRate*seconds)
			t.Logf("%.2f%% of the tone's samples arrived (%d of %d)", 100*got, end-start, tc.outRate*seconds)
			require.GreaterOrEqual(t, got, 0.95, "samples of the tone that arrived")
			require.LessOrEqual(t, got, 1.01, "no more than was sent")

			// The settled middle of the tone.
			settled := pcm[(start+tc.outRate/5)*tc.outChannel : (end-tc.outRate/5)*tc.outChannel]
			for c, f := range tc.freqs {
				mono := channel(settled, tc.outChannel, c)
				freq, peak := dominantFreq(mono, tc.outRate, f)
				level := rmsDB(mono)
				t.Logf("channel %d: peak at %.2f Hz, %.2f dB; %.2f dBFS RMS (sent %.0f Hz at %.2f dBFS)", c, freq, peak, level, f, sourceLevel)
				require.InDelta(t, f, freq, 5, "frequency on channel %d", c)
				require.InDelta(t, sourceLevel, level, 2, "level on channel %d", c)
				// A sine's amplitude is its RMS level + 3 dB: the peak holds
				// (nearly) all the energy.
				require.Greater(t, peak, level+3.01-1, "the tone dominates channel %d", c)
				for _, other := range tc.freqs {
					if other != f {
						require.Less(t, goertzel(mono, 1, 0, tc.outRate, other), -30.0, "channel %d carries only its own tone", c)
					}
				}
			}
			require.Zero(t, h.track.Stats().Invalid)
		})
	}
}

// ClearQueue interrupts the speech: what the listener hears of the tone is
// what ClearQueue said had been played, and silence follows at once. Both
// are measured in the listener's samples, not by a clock.
func TestPCMClearQueueInterruptsTheListener(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	const outRate = 16000
	heardCh := listen(t, srv, room, "listener", WithTargetSampleRate(outRate), WithTargetChannels(1))
	_, track := publishPCM(t, srv, room, "speaker", 24000, 1)
	h := next(t, heardCh)

	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteSample(toneAt(24000, 24000*5, 1000)) }() // 5 s into the 1 s queue
	time.Sleep(time.Second)
	played := track.ClearQueue()
	require.ErrorIs(t, <-wrote, ErrQueueCleared)
	t.Logf("ClearQueue after 1 s of speech: %v played", played)
	require.Positive(t, played, "the speech had begun")

	var pcm []int16
	require.Eventually(t, func() bool {
		pcm = h.out.samples()
		_, end, ok := toneSpan(pcm, 1, outRate, sourceLevel)
		return ok && len(pcm) > end+outRate/2
	}, hangBound, 20*time.Millisecond, "the tone and half a second of what follows arrive")
	start, _, _ := toneSpan(pcm, 1, outRate, sourceLevel)
	// Where the listener's level falls below -40 dBFS for good.
	levels := blockLevels(pcm[start:], 1, outRate, 10*time.Millisecond)
	quiet := len(levels)
	for quiet > 0 && levels[quiet-1] < -40 {
		quiet--
	}
	heardFor := time.Duration(quiet) * 10 * time.Millisecond
	t.Logf("the listener heard %v of tone for %v played; %d ms of silence follow", heardFor, played, 10*(len(levels)-quiet))
	require.InDelta(t, played.Seconds(), heardFor.Seconds(), 0.1, "below -40 dBFS within 100 ms of the interruption")
	require.Greater(t, len(levels)-quiet, 40, "silence after it")
}

// The delay from a sample written on one side to its arrival at a remote
// PCM track through the server on loopback: a tone burst is written into an
// empty queue and its first sample looked for at the listener.
func BenchmarkPCMEndToEndDelay(b *testing.B) {
	srv := lktest.Start(b)
	room := lktest.RoomName(b)
	const outRate = 48000
	arrived := make(chan time.Time, 1)
	heardCh := make(chan struct{}, 1)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		pt, err := NewPCMRemoteTrack(track, onsetWriter{arrived}, WithTargetSampleRate(outRate), WithTargetChannels(1))
		if err != nil {
			b.Error(err)
			return
		}
		b.Cleanup(pt.Close)
		heardCh <- struct{}{}
	}
	joinRoom(b, srv, room, "listener", cb)
	_, track := publishPCM(b, srv, room, "speaker", 48000, 1)
	select {
	case <-heardCh:
	case <-time.After(hangBound):
		b.Fatal("not subscribed")
	}
	burst := toneAt(48000, 4800, 1000)
	var delays []time.Duration
	b.ResetTimer()
	for range b.N {
		time.Sleep(200 * time.Millisecond) // silence in between
		for len(arrived) > 0 {
			<-arrived
		}
		start := time.Now()
		require.NoError(b, track.WriteSample(burst))
		select {
		case at := <-arrived:
			delays = append(delays, at.Sub(start))
		case <-time.After(hangBound):
			b.Fatal("the burst did not arrive")
		}
		require.NoError(b, track.WaitForPlayout(context.Background()))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

// onsetWriter reports when a chunk holds a loud sample after a quiet
// chunk.
type onsetWriter struct{ at chan<- time.Time }

func (w onsetWriter) WriteSample(s []int16) error {
	for _, v := range s {
		if v > 4000 || v < -4000 {
			select {
			case w.at <- time.Now():
			default:
			}
			break
		}
	}
	return nil
}

func (onsetWriter) Close() error { return nil }

// A WAV file published through a PCM track and recorded by a remote PCM
// track into a WAV file through a real server: the recording holds the
// file's tone, at its level, and the header its real length.
func TestPCMWAVFileThroughTheServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	path := filepath.Join(t.TempDir(), "heard.wav")
	subscribed := make(chan *PCMRemoteTrack, 1)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		w, err := CreateWAVFile(path, 16000, 1)
		if err != nil {
			t.Error(err)
			return
		}
		pt, err := NewPCMRemoteTrack(track, w, WithTargetSampleRate(16000), WithTargetChannels(1))
		if err != nil {
			t.Error(err)
			return
		}
		subscribed <- pt
	}
	listener := joinRoom(t, srv, room, "listener", cb)
	_, track := publishPCM(t, srv, room, "speaker", 24000, 1)
	var pt *PCMRemoteTrack
	select {
	case pt = <-subscribed:
	case <-time.After(hangBound):
		t.Fatal("not subscribed")
	}
	t.Cleanup(pt.Close)

	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	require.NoError(t, track.WriteWAV(ctx, wavFile(t, 22050, 2, toneAt(22050, 22050*2, 1000, 1000)))) // 2 s of stereo at 22.05 kHz
	require.NoError(t, track.WaitForPlayout(ctx))
	time.Sleep(300 * time.Millisecond) // the jitter buffer's delay, and some silence after
	listener.Disconnect()              // the room closes for the listener: the track ends and the file is finished
	select {
	case <-pt.Done():
	case <-time.After(hangBound):
		t.Fatal("the remote track did not end with the room")
	}

	rate, channels, dur, pcm := readWAV(t, path)
	require.Equal(t, 16000, rate)
	require.Equal(t, 1, channels)
	require.Equal(t, time.Duration(len(pcm))*time.Second/16000, dur, "the header has the recording's length")
	start, end, ok := toneSpan(pcm, 1, 16000, sourceLevel)
	require.True(t, ok, "the tone is in the recording")
	t.Logf("recorded %v; the tone spans %v", dur, time.Duration(end-start)*time.Second/16000)
	require.InDelta(t, 2, float64(end-start)/16000, 0.1, "the file's 2 s")
	settled := pcm[start+3200 : end-3200]
	freq, _ := dominantFreq(settled, 16000, 1000)
	require.InDelta(t, 1000, freq, 5)
	require.InDelta(t, sourceLevel, rmsDB(settled), 2)
}
