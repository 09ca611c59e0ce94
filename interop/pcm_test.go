package interop_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/interop"
	"github.com/livekit/server-sdk-go/pkg/media"
)

// Levels are in dBFS: the RMS of the samples relative to full scale
// (32768), so that a sine of peak amplitude a (a fraction of full scale)
// is at 20·log10(a/√2): -15.1 dBFS for the tones of these tests.
const (
	toneAmplitude = 0.25
	// silenceDBFS is the level under which a 10 ms block counts as silent.
	silenceDBFS = -40.0
	// levelTolerance is how far a received tone's level may be from the
	// level it was sent at (dB).
	levelTolerance = 2.0
	// freqTolerance is how far a received tone's dominant frequency may be
	// from the frequency it was sent at (Hz).
	freqTolerance = 5.0
	// minReceived is the share of the media sent that must arrive.
	minReceived = 0.95
)

// sineDBFS is the level of a sine of peak amplitude a.
func sineDBFS(a float64) float64 { return 20 * math.Log10(a/math.Sqrt2) }

// --- measuring ---

// channelOf returns channel c of interleaved pcm, scaled to full scale 1.
func channelOf(pcm []int16, channels, c int) []float64 {
	out := make([]float64, len(pcm)/channels)
	for i := range out {
		out[i] = float64(pcm[i*channels+c]) / 32768
	}
	return out
}

// rmsDBFS is the level of x (full scale 1) in dBFS; -inf for silence.
func rmsDBFS(x []float64) float64 {
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	return 10 * math.Log10(sum/float64(len(x)))
}

// blockLevels returns the level of each whole block of x of size samples.
func blockLevels(x []float64, size int) []float64 {
	out := make([]float64, len(x)/size)
	for i := range out {
		out[i] = rmsDBFS(x[i*size : (i+1)*size])
	}
	return out
}

// fft transforms re+i·im in place (a radix-2 FFT; the length is a power of
// two).
func fft(re, im []float64) {
	n := len(re)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size / 2
		for k := 0; k < half; k++ {
			s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(size))
			for start := 0; start < n; start += size {
				a, b := start+k, start+k+half
				tr := re[b]*c - im[b]*s
				ti := re[b]*s + im[b]*c
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}

// hann is the Hann window of n points.
func hann(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
	}
	return w
}

// dominantFrequency is the frequency of the strongest component of x
// (sampled at rate) between 20 Hz and half the rate: the peak of a
// Hann-windowed FFT over the largest power of two of samples x holds,
// refined between bins by a parabola through the log magnitudes of the
// peak and its neighbours.
func dominantFrequency(x []float64, rate int) float64 {
	n := 1
	for n*2 <= len(x) {
		n *= 2
	}
	w := hann(n)
	re, im := make([]float64, n), make([]float64, n)
	for i := range re {
		re[i] = x[i] * w[i]
	}
	fft(re, im)
	mag := func(k int) float64 { return math.Log(math.Hypot(re[k], im[k]) + 1e-300) }
	bin := float64(rate) / float64(n)
	best := -1
	for k := max(1, int(20/bin)); k < n/2-1; k++ {
		if best < 0 || math.Hypot(re[k], im[k]) > math.Hypot(re[best], im[best]) {
			best = k
		}
	}
	a, b, c := mag(best-1), mag(best), mag(best+1)
	delta := 0.0
	if d := a - 2*b + c; d != 0 {
		delta = 0.5 * (a - c) / d
	}
	return (float64(best) + delta) * bin
}

// toneAmplitudeAt is the peak amplitude of the component of x at f Hz
// (Hann-windowed correlation with a complex sinusoid): how much of a tone
// at f a signal carries.
func toneAmplitudeAt(x []float64, rate int, f float64) float64 {
	w := hann(len(x))
	var re, im, sw float64
	for i, v := range x {
		s, c := math.Sincos(2 * math.Pi * f * float64(i) / float64(rate))
		re += v * w[i] * c
		im -= v * w[i] * s
		sw += w[i]
	}
	return 2 * math.Hypot(re, im) / sw
}

// sine returns frames of interleaved 16-bit PCM at rate with one sine per
// channel (freqs[c] Hz, peak amplitude a), from sample offset on.
func sine(rate int, freqs []float64, a float64, offset, frames int) []int16 {
	ch := len(freqs)
	out := make([]int16, frames*ch)
	peak := math.Round(a * 32767)
	for i := 0; i < frames; i++ {
		for c, f := range freqs {
			out[i*ch+c] = int16(math.Round(peak * math.Sin(2*math.Pi*f*float64(offset+i)/float64(rate))))
		}
	}
	return out
}

// toneSpan is where a tone is in a recording.
type toneSpan struct {
	onset   int // the tone's first sample
	end     int // the first sample of the first silent block after onset (len(x) if none)
	atLevel int // samples in blocks within 3 dB of the tone's level, from the onset on
	resumed int // blocks above silence after end
}

// findTone locates a tone sent at level dBFS in x: its onset and end at
// the granularity of block samples, the samples at the tone's level
// (within 3 dB), and whether it came back after it ended.
func findTone(x []float64, block int, level float64) (toneSpan, bool) {
	levels := blockLevels(x, block)
	sp := toneSpan{onset: -1, end: len(x)}
	for i, l := range levels {
		if l > silenceDBFS {
			sp.onset = i * block
			break
		}
	}
	if sp.onset < 0 {
		return sp, false
	}
	// The onset to the sample: the first above a quarter of the tone's
	// peak in the block before or the block itself.
	from := max(0, sp.onset-block)
	thr := 0.25 * math.Sqrt2 * math.Pow(10, level/20)
	for i := from; i < sp.onset+block; i++ {
		if math.Abs(x[i]) >= thr {
			sp.onset = i
			break
		}
	}
	ended := false
	for i := sp.onset; i+block <= len(x); i += block {
		l := rmsDBFS(x[i : i+block])
		if math.Abs(l-level) <= 3 {
			sp.atLevel += block
		}
		switch {
		case !ended && l < silenceDBFS:
			ended, sp.end = true, i
		case ended && l > silenceDBFS:
			sp.resumed++
		}
	}
	return sp, true
}

// --- the peers' commands ---

// toneReply is what a peer says of the tone it publishes.
type toneReply struct {
	SID         string    `json:"sid"`
	SampleRate  int       `json:"sampleRate"`
	Channels    int       `json:"channels"`
	Frequencies []float64 `json:"frequencies"`
	Amplitude   float64   `json:"amplitude"`
	Peak        int       `json:"peak"`
	// The browser's: its track's getSettings(), and applyConstraints'
	// error when it refused to turn the microphone processing off.
	Settings       *trackSettings `json:"settings"`
	ConstraintsErr *string        `json:"constraintsError"`
}

// trackSettings are the processing settings of a browser's audio track
// (absent where the track has no such processing).
type trackSettings struct {
	EchoCancellation *bool `json:"echoCancellation"`
	NoiseSuppression *bool `json:"noiseSuppression"`
	AutoGainControl  *bool `json:"autoGainControl"`
	ChannelCount     int   `json:"channelCount"`
	SampleRate       int   `json:"sampleRate"`
}

// processing lists the processing s says is on.
func (s *trackSettings) processing() []string {
	var on []string
	for name, v := range map[string]*bool{"echoCancellation": s.EchoCancellation, "noiseSuppression": s.NoiseSuppression, "autoGainControl": s.AutoGainControl} {
		if v != nil && *v {
			on = append(on, name)
		}
	}
	return on
}

// peerRecording is what a peer recorded of a subscribed audio track.
type peerRecording struct {
	SampleRate int       `json:"sampleRate"`
	Channels   int       `json:"channels"`
	Frames     int       `json:"frames"`
	PCM        []byte    `json:"pcm"` // little-endian 16-bit, interleaved
	RTPStart   *rtpStats `json:"rtpStart"`
	RTPEnd     *rtpStats `json:"rtpEnd"`
}

func (r peerRecording) samples(t *testing.T) []int16 {
	t.Helper()
	require.Equal(t, r.Frames*r.Channels*2, len(r.PCM), "the recording's size")
	out := make([]int16, len(r.PCM)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(r.PCM[2*i:]))
	}
	return out
}

// rtpDelta says what the peer's decoder did during a recording (from the
// stream's start when it had no statistics yet when the recording began).
func (r peerRecording) rtpDelta() string {
	e := r.RTPEnd
	if e == nil {
		return "no inbound-rtp statistics attributable to the track"
	}
	s := r.RTPStart
	since := "the recording's start"
	if s == nil || s.SSRC != e.SSRC {
		s, since = &rtpStats{}, "the stream's start"
	}
	return fmt.Sprintf("inbound-rtp since %s: %d packets (%d lost), %d samples decoded of which %d concealed",
		since, e.PacketsReceived-s.PacketsReceived, e.PacketsLost-s.PacketsLost,
		e.TotalSamplesReceived-s.TotalSamplesReceived, e.ConcealedSamples-s.ConcealedSamples)
}

// recordOnPeer asks peer to record the track named name, at channels.
func recordOnPeer(t *testing.T, peer *interop.Peer, name string, channels int) {
	t.Helper()
	require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "recordAudio", map[string]any{"name": name, "channels": channels}, nil))
}

// waitRecording waits until peer records name.
func waitRecording(t *testing.T, peer *interop.Peer, name string) {
	t.Helper()
	_, err := peer.WaitEvent(ctxFor(t, 30*time.Second), "recordingStarted", func(e interop.Event) bool {
		var d struct{ Name string }
		return e.Decode(&d) == nil && d.Name == name
	})
	require.NoError(t, err, "the %s peer never recorded %s", peer.Kind, name)
}

func fetchRecording(t *testing.T, peer *interop.Peer, name string) peerRecording {
	t.Helper()
	var rec peerRecording
	require.NoError(t, peer.Call(ctxFor(t, 60*time.Second), "audioRecording", map[string]any{"name": name}, &rec))
	require.Positive(t, rec.SampleRate)
	return rec
}

// ptrOr is *p, or or when p is nil.
func ptrOr[T any](p *T, or T) T {
	if p == nil {
		return or
	}
	return *p
}

// --- the Go side's remote track ---

// pcmSink is the PCMRemoteTrackWriter of the tests: it keeps all a remote
// track wrote and, chunk by chunk, whether the chunk was decoded from a
// packet, as opposed to concealed or written as silence (from the track's
// counters, which its playout goroutine updates before each write).
type pcmSink struct {
	track chan *media.PCMRemoteTrack // the track, once
	rt    *media.PCMRemoteTrack      // the writing goroutine's
	last  media.PCMRemoteTrackStats

	mu      sync.Mutex
	pcm     []int16
	decoded []bool // per sample: from a decoded packet
	closed  bool
}

func newPCMSink() *pcmSink { return &pcmSink{track: make(chan *media.PCMRemoteTrack, 1)} }

// WriteSample keeps a copy of pcm and whether it was decoded.
func (s *pcmSink) WriteSample(pcm []int16) error {
	if s.rt == nil {
		s.rt = <-s.track
	}
	st := s.rt.Stats()
	dec := st.Decoded > s.last.Decoded
	s.last = st
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pcm = append(s.pcm, pcm...)
	for range pcm {
		s.decoded = append(s.decoded, dec)
	}
	return nil
}

// Close marks the end of the track.
func (s *pcmSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// waitSamples waits (at most d) until the sink holds n samples and returns
// the first n with their decoded flags.
func (s *pcmSink) waitSamples(t *testing.T, n int, d time.Duration) ([]int16, []bool) {
	t.Helper()
	var have int
	var closed bool
	ok := waitFor(d, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		have, closed = len(s.pcm), s.closed
		return have >= n || closed
	})
	require.True(t, ok && have >= n, "the remote track wrote %d of %d samples in %s (ended: %v)", have, n, d, closed)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pcm[:n]), slices.Clone(s.decoded[:n])
}

// TestPCMPeerToGo has each peer publish a 440 Hz tone at 48 kHz (rtc-node:
// an AudioSource fed with PCM; the browser: a WebAudio oscillator, without
// the microphone processing) and reads it in Go through a PCMRemoteTrack
// at 16 kHz mono: of its first 5 s, at least 95% is decoded from packets
// (not concealed, not silence), its dominant frequency is 440 ± 5 Hz and
// its level within 2 dB of the level sent.
func TestPCMPeerToGo(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		const (
			rate     = 16000
			freq     = 440.0
			name     = "tone"
			duration = 5 * rate // samples: 5 s of media
		)
		room := lktest.RoomName(t)
		sink := newPCMSink()
		tracks := make(chan *media.PCMRemoteTrack, 1)
		errs := make(chan error, 1)
		var mime string
		cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
				if pub.Name() != name {
					return
				}
				mime = track.Codec().MimeType
				rt, err := media.NewPCMRemoteTrack(track, sink, media.WithTargetSampleRate(rate), media.WithTargetChannels(1))
				if err != nil {
					errs <- err
					return
				}
				sink.track <- rt
				tracks <- rt
			},
		}}
		joinGo(t, srv, room, participant{identity: "go-listener"}, cb)
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: "peer-" + kind})

		var tone toneReply
		require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "publishTone",
			map[string]any{"name": name, "frequencies": []float64{freq}, "amplitude": toneAmplitude}, &tone))
		t.Logf("%s peer publishes %v Hz at %d Hz, amplitude %.2f", kind, tone.Frequencies, tone.SampleRate, tone.Amplitude)
		require.Equal(t, toneAmplitude, tone.Amplitude, "the amplitude the %s peer sends at", kind)
		if s := tone.Settings; s != nil {
			// A WebAudio track has none of a microphone's processing (its
			// settings have no such entries, and applyConstraints refuses
			// to set them): its level reaches the encoder as it is.
			t.Logf("%s peer: the tone's track settings: %+v; applyConstraints without the processing: %v", kind, *s, ptrOr(tone.ConstraintsErr, "accepted"))
			assert.Empty(t, s.processing(), "the %s peer's tone is processed", kind)
		}
		var rt *media.PCMRemoteTrack
		select {
		case rt = <-tracks:
		case err := <-errs:
			t.Fatalf("reading the %s peer's track (%s) as PCM: %v", kind, mime, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("the Go participant never subscribed to the %s peer's tone", kind)
		}
		t.Cleanup(rt.Close)

		start := time.Now()
		pcm, decoded := sink.waitSamples(t, duration, 30*time.Second)
		took := time.Since(start)
		rt.Close()
		st := rt.Stats()

		nDecoded := 0
		for _, d := range decoded {
			if d {
				nDecoded++
			}
		}
		x := channelOf(pcm, 1, 0)
		// Settled: from 0.5 s on, 2^16 samples (4.1 s).
		settled := x[rate/2 : rate/2+1<<16]
		f := dominantFrequency(settled, rate)
		level := rmsDBFS(settled)
		want := sineDBFS(toneAmplitude)
		t.Logf("%s → Go (%s, %d Hz mono): %.2f Hz at %.2f dBFS (sent at %.2f), %d of %d samples decoded (%.1f%%), 5 s of media written in %s; track stats %+v",
			kind, mime, rate, f, level, want, nDecoded, duration, 100*float64(nDecoded)/duration, took.Round(time.Millisecond), st)

		assert.InDelta(t, freq, f, freqTolerance, "the dominant frequency of the %s peer's tone", kind)
		assert.InDelta(t, want, level, levelTolerance, "the level of the %s peer's tone (dBFS)", kind)
		assert.GreaterOrEqual(t, nDecoded, int(math.Ceil(minReceived*duration)),
			"samples decoded from the %s peer's packets in the first 5 s of media (stats %+v)", kind, st)
	})
}

// TestPCMGoToPeer publishes tones from Go through PCMLocalTrack and has
// each peer record what its SDK delivers (rtc-node: an AudioStream at
// 48 kHz; the browser: the received MediaStreamTrack through an AudioWorklet
// at 48 kHz): a 1 kHz tone given at 24 kHz mono, and a stereo one given at
// 48 kHz with 440 Hz on the left and 1 kHz on the right. The peers must
// receive at least 95% of the 5 s at the tone's level, at the sent
// frequency (± 5 Hz) and level (± 2 dB), each stereo tone on its own
// channel; the server must announce the stereo track as stereo without
// DTX, the mono one without DTX.
func TestPCMGoToPeer(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: "peer-" + kind})
		published := make(chan *lksdk.RemoteTrackPublication, 4)
		joinGo(t, srv, room, participant{identity: "go-observer"}, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackPublished: func(pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) { published <- pub },
		}})
		r := joinGo(t, srv, room, participant{identity: "go-speaker"}, nil)

		for _, tc := range []struct {
			name  string
			rate  int
			freqs []float64
			opts  []media.PCMLocalTrackOption
		}{
			{"go-mono", 24000, []float64{1000}, nil},
			// With in-band FEC (on by default, for 10% loss) libopus codes
			// 96 kbps stereo in its SILK-based modes, whose joint stereo
			// puts each channel's tone into the other about 15 dB under
			// its own; without FEC it codes it in CELT, channel by
			// channel, which is what this checks across the SDKs.
			{"go-stereo", 48000, []float64{440, 1000}, []media.PCMLocalTrackOption{media.WithFEC(false)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				channels := len(tc.freqs)
				recordOnPeer(t, peer, tc.name, channels)
				track, err := media.NewPCMLocalTrack(tc.rate, channels, logr.Discard(), tc.opts...)
				require.NoError(t, err)
				t.Cleanup(func() { _ = track.Close() })
				lpub, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: tc.name, Source: livekit.TrackSource_MICROPHONE})
				require.NoError(t, err)
				t.Cleanup(func() { _ = r.LocalParticipant.UnpublishTrack(lpub.SID()) })

				// What the server announces, to the publisher and to another
				// participant.
				wantFeatures := []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX}
				if channels == 2 {
					wantFeatures = append(wantFeatures, livekit.AudioTrackFeature_TF_STEREO)
				}
				checkFeatures := func(who string, info *livekit.TrackInfo) {
					require.NotNil(t, info, who)
					t.Logf("%s: track %s: audio features %v, stereo %v, DTX disabled %v", who, tc.name, info.AudioFeatures, info.Stereo, info.DisableDtx)
					assert.ElementsMatch(t, wantFeatures, info.AudioFeatures, "%s: the audio features of %s", who, tc.name)
					assert.Equal(t, channels == 2, info.Stereo, "%s: %s is stereo", who, tc.name)
					assert.True(t, info.DisableDtx, "%s: %s is without DTX", who, tc.name)
				}
				checkFeatures("the publisher", lpub.TrackInfo())
				for pub := recv(t, published, 30*time.Second, "the observer seeing "+tc.name); ; pub = recv(t, published, 30*time.Second, "the observer seeing "+tc.name) {
					if pub.Name() == tc.name {
						checkFeatures("another participant", pub.TrackInfo())
						break
					}
				}

				waitRecording(t, peer, tc.name)
				const seconds = 5
				frames := seconds * tc.rate
				require.NoError(t, track.WriteSample(sine(tc.rate, tc.freqs, toneAmplitude, 0, frames)))
				require.NoError(t, track.WaitForPlayout(ctxFor(t, 30*time.Second)))
				// The last packets' way to the peer, and some silence after.
				time.Sleep(time.Second)
				rec := fetchRecording(t, peer, tc.name)
				require.Equal(t, channels, rec.Channels)
				pcm := rec.samples(t)
				rate := rec.SampleRate
				t.Logf("%s peer recorded %.2f s at %d Hz, %d channels; %s", kind, float64(rec.Frames)/float64(rate), rate, rec.Channels, rec.rtpDelta())

				want := sineDBFS(toneAmplitude)
				block := rate / 100
				expected := seconds * rate
				for c := range channels {
					x := channelOf(pcm, channels, c)
					sp, ok := findTone(x, block, want)
					require.True(t, ok, "channel %d: the %s peer received no tone (level of the recording %.1f dBFS)", c, kind, rmsDBFS(x))
					from := sp.onset + rate/2
					require.LessOrEqual(t, from+4*rate, len(x), "channel %d: the recording ends %.2f s after the tone's onset",
						c, float64(len(x)-sp.onset)/float64(rate))
					settled := x[from : from+4*rate]
					f := dominantFrequency(settled, rate)
					level := rmsDBFS(settled)
					t.Logf("Go → %s, channel %d of %d: %.2f Hz at %.2f dBFS (sent %.0f Hz at %.2f), %d of %d samples at the tone's level (%.1f%%), tone %.3f s long",
						kind, c, channels, f, level, tc.freqs[c], want, sp.atLevel, expected, 100*float64(sp.atLevel)/float64(expected),
						float64(sp.end-sp.onset)/float64(rate))
					assert.InDelta(t, tc.freqs[c], f, freqTolerance, "channel %d: the dominant frequency", c)
					assert.InDelta(t, want, level, levelTolerance, "channel %d: the level (dBFS)", c)
					assert.GreaterOrEqual(t, sp.atLevel, int(math.Ceil(minReceived*float64(expected))), "channel %d: samples at the tone's level", c)
					assert.LessOrEqual(t, sp.atLevel, expected+rate/10, "channel %d: more tone than was sent", c)
					if channels == 2 {
						other := tc.freqs[1-c]
						own, leak := toneAmplitudeAt(settled, rate, tc.freqs[c]), toneAmplitudeAt(settled, rate, other)
						sep := 20 * math.Log10(own/leak)
						t.Logf("channel %d: the other channel's %.0f Hz is %.1f dB under its own tone", c, other, sep)
						assert.Greater(t, sep, 40.0, "channel %d: the %.0f Hz tone of the other channel leaks into it", c, other)
					}
				}
			})
		}
	})
}

// TestPCMInterruption has Go speak a 5 s 1 kHz tone through PCMLocalTrack
// (24 kHz mono, a 1 s queue) and interrupt it with ClearQueue once 1 s has
// been sent: ClearQueue must say 1 s ± 40 ms was played, and the tone the
// peer receives must last that long within 100 ms, counted in the
// received stream's samples (media time, not the wall clock), then stay
// silent: the 4 s the speaker had left, 1 s of it queued, are never
// heard.
func TestPCMInterruption(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		const (
			name  = "go-interrupted"
			rate  = 24000
			freq  = 1000.0
			chunk = rate / 100 // 10 ms
		)
		room := lktest.RoomName(t)
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: "peer-" + kind})
		r := joinGo(t, srv, room, participant{identity: "go-speaker"}, nil)

		recordOnPeer(t, peer, name, 1)
		track, err := media.NewPCMLocalTrack(rate, 1, logr.Discard(), media.WithQueueDuration(time.Second))
		require.NoError(t, err)
		t.Cleanup(func() { _ = track.Close() })
		_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: name, Source: livekit.TrackSource_MICROPHONE})
		require.NoError(t, err)
		waitRecording(t, peer, name)

		// The writes wait while the 1 s queue is full, so once 2 s have been
		// written, 1 s has been sent (to within a frame): that is when the
		// speech is interrupted. The writing and the interruption are in
		// one goroutine, so that nothing but the next write separates them;
		// the writer stops there, as a speaker told to stop would.
		tone := sine(rate, []float64{freq}, toneAmplitude, 0, 5*rate)
		written := 0
		for written < 2*rate {
			require.NoError(t, track.WriteSample(tone[written:written+chunk]))
			written += chunk
		}
		queued := track.QueuedDuration()
		played := track.ClearQueue()
		t.Logf("interrupted after %d samples written at %d Hz (%s queued): ClearQueue says %s played", written, rate, queued, played)
		assert.InDelta(t, time.Second.Seconds(), played.Seconds(), 0.040, "the duration played before the interruption")
		assert.Zero(t, track.QueuedDuration(), "audio queued after ClearQueue")

		// Some silence sent after the interruption, for the recording.
		time.Sleep(1500 * time.Millisecond)
		rec := fetchRecording(t, peer, name)
		prate := rec.SampleRate
		x := channelOf(rec.samples(t), rec.Channels, 0)
		want := sineDBFS(toneAmplitude)
		sp, ok := findTone(x, prate/100, want)
		require.True(t, ok, "the %s peer received no tone (level of the recording %.1f dBFS)", kind, rmsDBFS(x))
		heard := time.Duration(float64(sp.end-sp.onset) / float64(prate) * float64(time.Second))
		after := time.Duration(float64(len(x)-sp.end) / float64(prate) * float64(time.Second))
		t.Logf("%s peer (%d Hz): tone from sample %d to %d: %s heard, ClearQueue said %s played (%+d ms); %s of silence recorded after it, %d blocks above %.0f dBFS there; %s",
			kind, prate, sp.onset, sp.end, heard.Round(time.Millisecond), played, (heard - played).Milliseconds(),
			after.Round(time.Millisecond), sp.resumed, silenceDBFS, rec.rtpDelta())
		require.Less(t, sp.end, len(x), "the tone never fell under %.0f dBFS in the %s peer's recording", silenceDBFS, kind)
		assert.InDelta(t, played.Seconds(), heard.Seconds(), 0.100,
			"the tone the %s peer received against the duration ClearQueue says was played", kind)
		assert.GreaterOrEqual(t, after, 500*time.Millisecond, "silence recorded after the tone")
		assert.Zero(t, sp.resumed, "10 ms blocks of tone after the interruption")
	})
}
