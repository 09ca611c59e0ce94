package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	pionmedia "github.com/pion/webrtc/v3/pkg/media"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
	"github.com/livekit/server-sdk-go/pkg/media/resample"
)

const (
	// DefaultOpusSampleRate is the rate Opus runs at in WebRTC, and the
	// rate a PCMLocalTrack resamples to.
	DefaultOpusSampleRate = opus.SampleRate
	// DefaultOpusFrameDuration is the duration of the Opus frames a
	// PCMLocalTrack sends, unless WithFrameDuration says otherwise.
	DefaultOpusFrameDuration = 20 * time.Millisecond
	// DefaultQueueDuration is how much audio a PCMLocalTrack queues before
	// a write waits, unless WithQueueDuration says otherwise.
	DefaultQueueDuration = time.Second
	// DefaultBitrate is the Opus bitrate of a mono PCMLocalTrack, unless
	// WithBitrate says otherwise.
	DefaultBitrate = 32000
	// DefaultStereoBitrate is the Opus bitrate of a stereo PCMLocalTrack,
	// unless WithBitrate says otherwise. Below about 120 kbps libopus
	// narrows a voice's stereo image once it has seen a while of signal:
	// two different tones on the two channels leak into each other (by
	// -9 dB at 96 kbps, by -16 dB at 112 kbps, under -55 dB at 120 kbps
	// and above).
	DefaultStereoBitrate = 128000
)

var (
	// ErrQueueCleared is returned by a write that was waiting for room in
	// the queue when ClearQueue dropped what was queued: the rest of what
	// it was given is not queued either.
	ErrQueueCleared = errors.New("media: the queue was cleared while the write waited")
	// ErrTrackClosed is returned by the calls of a closed track.
	ErrTrackClosed = errors.New("media: the track is closed")
)

// PCMLocalTrackOption configures NewPCMLocalTrack.
type PCMLocalTrackOption func(*localOptions)

type localOptions struct {
	bitrate    int
	fec        bool
	lossPct    int
	frame      time.Duration
	queue      time.Duration
	music      bool
	complexity int
	trackOpts  []lksdk.LocalSampleTrackOptions
	optionErrs []error
}

// WithBitrate sets the Opus bitrate in bits per second, 6,000 to 510,000
// (DefaultBitrate for mono, DefaultStereoBitrate for stereo, when unset).
func WithBitrate(bps int) PCMLocalTrackOption {
	return func(o *localOptions) {
		if bps < 6000 || bps > 510000 {
			o.optionErrs = append(o.optionErrs, fmt.Errorf("media: bitrate %d: 6000 to 510000 bits per second", bps))
		}
		o.bitrate = bps
	}
}

// WithFEC turns Opus in-band forward error correction on or off (on by
// default, for 10% loss), so that a receiver recovers a lost packet from
// the next one.
func WithFEC(on bool) PCMLocalTrackOption { return func(o *localOptions) { o.fec = on } }

// WithFrameDuration sets the duration of each Opus frame: 10, 20, 40 or
// 60 ms (DefaultOpusFrameDuration when unset). Shorter frames cost more
// packets; longer ones add delay.
func WithFrameDuration(d time.Duration) PCMLocalTrackOption {
	return func(o *localOptions) {
		switch d {
		case 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond:
		default:
			o.optionErrs = append(o.optionErrs, fmt.Errorf("media: frame duration %s: 10, 20, 40 or 60 ms", d))
		}
		o.frame = d
	}
}

// WithQueueDuration bounds the audio queued ahead of what is sent
// (DefaultQueueDuration when unset, at least one frame): past it a write
// waits.
func WithQueueDuration(d time.Duration) PCMLocalTrackOption {
	return func(o *localOptions) { o.queue = d }
}

// WithMusic tunes the encoder for music rather than speech.
func WithMusic() PCMLocalTrackOption { return func(o *localOptions) { o.music = true } }

// WithComplexity sets the Opus encoder's complexity, 1 to 10 (libopus's
// default, 10, when unset). Encoding is most of a published track's cost
// (see BENCHMARKS.md): a process publishing many tracks can halve it at
// 5 for a small loss of quality.
func WithComplexity(c int) PCMLocalTrackOption {
	return func(o *localOptions) {
		if c < 1 || c > 10 {
			o.optionErrs = append(o.optionErrs, fmt.Errorf("media: complexity %d: 1 to 10", c))
		}
		o.complexity = c
	}
}

// WithSampleTrackOptions passes options to the LocalSampleTrack the PCM
// track sends with (lksdk.WithRTCPHandler, say).
func WithSampleTrackOptions(opts ...lksdk.LocalSampleTrackOptions) PCMLocalTrackOption {
	return func(o *localOptions) { o.trackOpts = append(o.trackOpts, opts...) }
}

// PCMLocalTrack is an audio track fed with PCM. Publish it with
// LocalParticipant.PublishTrack like any track: it is published without
// DTX (and as stereo for two channels) whatever the publication options
// say, and sends a frame every frame duration from the moment the
// publisher connection is up, silence when nothing is queued, so that its
// RTP timestamps stay continuous. Each frame carries its audio level.
//
// Writes queue the audio, resampled to 48 kHz; a write waits while the
// queue holds its bound (WithQueueDuration). The track's methods are safe
// for concurrent use; writes from several goroutines at once interleave in
// an order of their own.
type PCMLocalTrack struct {
	*lksdk.LocalSampleTrack

	channels     int
	sourceRate   int
	frameSamples int // per channel, at 48 kHz
	frame        time.Duration
	log          logr.Logger

	mu          sync.Mutex
	queue       ring
	limit       int                 // the queue's bound in samples (the ring has room past it)
	rs          *resample.Resampler // nil at 48 kHz
	scratch     []int16
	gen         uint64        // counts ClearQueue calls
	changed     chan struct{} // closed, and replaced, when room frees or the queue is cleared or closed
	playedOut   chan struct{} // closed when the utterance queued has been sent
	idle        bool          // nothing of an utterance is queued or in flight
	inFlight    bool          // a frame of queued audio was handed to the writer
	utterPlayed int           // samples per channel of the current utterance handed to the writer
	closed      bool

	encMu  sync.Mutex
	enc    *opus.Encoder
	pcm    []int16
	packet []byte

	muted atomic.Bool
	level atomic.Uint32
}

// NewPCMLocalTrack returns a track for PCM at sourceSampleRate (8,000 to
// 48,000 Hz) with sourceChannels (1 or 2). logger receives what the track
// logs (logr.Discard() for nothing).
func NewPCMLocalTrack(sourceSampleRate, sourceChannels int, logger logr.Logger, opts ...PCMLocalTrackOption) (*PCMLocalTrack, error) {
	o := localOptions{fec: true, lossPct: 10, frame: DefaultOpusFrameDuration, queue: DefaultQueueDuration}
	for _, opt := range opts {
		opt(&o)
	}
	if err := errors.Join(o.optionErrs...); err != nil {
		return nil, err
	}
	if sourceChannels != 1 && sourceChannels != 2 {
		return nil, fmt.Errorf("media: %d channels: 1 or 2", sourceChannels)
	}
	if sourceSampleRate < 8000 || sourceSampleRate > DefaultOpusSampleRate {
		return nil, fmt.Errorf("media: sample rate %d: 8000 to 48000 Hz", sourceSampleRate)
	}
	if o.bitrate == 0 {
		o.bitrate = DefaultBitrate
		if sourceChannels == 2 {
			o.bitrate = DefaultStereoBitrate
		}
	}
	frameSamples := int(int64(DefaultOpusSampleRate) * int64(o.frame) / int64(time.Second))
	queueSamples := max(frameSamples, int(int64(DefaultOpusSampleRate)*int64(o.queue)/int64(time.Second))) * sourceChannels

	t := &PCMLocalTrack{
		channels:     sourceChannels,
		sourceRate:   sourceSampleRate,
		frameSamples: frameSamples,
		frame:        o.frame,
		log:          logger,
		// Room past the bound for the resampler's tail, which WaitForPlayout
		// flushes into a full queue.
		queue:     newRing(queueSamples + 512*sourceChannels),
		changed:   make(chan struct{}),
		playedOut: make(chan struct{}),
		idle:      true,
		pcm:       make([]int16, frameSamples*sourceChannels),
		packet:    make([]byte, opus.MaxPacketSize),
	}
	close(t.playedOut) // nothing to play yet
	t.limit = queueSamples
	if sourceSampleRate != DefaultOpusSampleRate {
		rs, err := resample.New(sourceSampleRate, DefaultOpusSampleRate, sourceChannels)
		if err != nil {
			return nil, err
		}
		t.rs = rs
	}
	enc, err := opus.NewEncoder(sourceChannels, opus.EncoderOptions{Bitrate: o.bitrate, FEC: o.fec, PacketLossPercent: o.lossPct, Music: o.music, Complexity: o.complexity})
	if err != nil {
		return nil, err
	}
	t.enc = enc
	capability := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: DefaultOpusSampleRate, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	if sourceChannels == 2 {
		capability.SDPFmtpLine += ";stereo=1;sprop-stereo=1"
	}
	st, err := lksdk.NewLocalSampleTrack(capability, o.trackOpts...)
	if err != nil {
		enc.Close()
		return nil, err
	}
	t.LocalSampleTrack = st
	p := &pcmProvider{t: t}
	// The writer starts once the track is bound to a session, again after
	// a full reconnect.
	st.OnBind(func() {
		if err := st.StartWrite(p, nil); err != nil {
			t.log.V(1).Info("could not start sending PCM", "error", err.Error())
		}
	})
	return t, nil
}

// SampleTrack returns the LocalSampleTrack the track sends with (it is
// published as that track; see lksdk.SampleTrackWrapper).
func (t *PCMLocalTrack) SampleTrack() *lksdk.LocalSampleTrack { return t.LocalSampleTrack }

// AudioFeatures are the features the track is published with: no DTX,
// and stereo for two channels (see lksdk.AudioFeaturesTrack).
func (t *PCMLocalTrack) AudioFeatures() []livekit.AudioTrackFeature {
	fs := []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_NO_DTX}
	if t.channels == 2 {
		fs = append(fs, livekit.AudioTrackFeature_TF_STEREO)
	}
	return fs
}

// SampleRate is the rate of the PCM the track is written.
func (t *PCMLocalTrack) SampleRate() int { return t.sourceRate }

// Channels is the number of channels of the PCM the track is written.
func (t *PCMLocalTrack) Channels() int { return t.channels }

// WriteSample queues interleaved PCM (a whole number of frames of every
// channel), waiting while the queue is full. It returns ErrQueueCleared if
// ClearQueue was called while it waited, ErrTrackClosed once the track is
// closed.
func (t *PCMLocalTrack) WriteSample(pcm []int16) error {
	return t.WriteSampleContext(context.Background(), pcm)
}

// WriteSampleContext is WriteSample bounded by ctx: when ctx ends while it
// waits, what was queued stays queued and the rest is not.
func (t *PCMLocalTrack) WriteSampleContext(ctx context.Context, pcm []int16) error {
	return t.write(ctx, pcm, &utterance{})
}

// utterance ties several writes to one ClearQueue: once the queue is
// cleared, none of them queues more.
type utterance struct {
	gen     uint64 // t.gen when the first write began
	started bool
}

// write queues pcm as part of u.
func (t *PCMLocalTrack) write(ctx context.Context, pcm []int16, u *utterance) error {
	if len(pcm)%t.channels != 0 {
		return fmt.Errorf("media: %d samples are no whole number of frames of %d channels", len(pcm), t.channels)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !u.started {
		u.gen, u.started = t.gen, true
	}
	for {
		if t.closed {
			return ErrTrackClosed
		}
		if t.gen != u.gen {
			return ErrQueueCleared
		}
		if len(pcm) == 0 {
			return nil
		}
		if n := t.fits(len(pcm), t.limit-t.queue.size); n > 0 {
			t.enqueue(pcm[:n])
			pcm = pcm[n:]
			continue
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			t.mu.Lock()
			return ctx.Err()
		case <-changed:
		}
		t.mu.Lock()
	}
}

// fits returns how many of n input samples (whole frames) fit in room
// queued samples once resampled.
func (t *PCMLocalTrack) fits(n, room int) int {
	if room <= 0 {
		return 0
	}
	if t.rs == nil {
		return min(n, room) / t.channels * t.channels
	}
	k := min(n, room*t.sourceRate/DefaultOpusSampleRate) / t.channels * t.channels
	for k > 0 && t.rs.OutputLen(k) > room {
		k -= t.channels
	}
	return k
}

// enqueue resamples pcm into the queue; t.mu is held and it fits.
func (t *PCMLocalTrack) enqueue(pcm []int16) {
	out := pcm
	if t.rs != nil {
		t.scratch = t.rs.Process(t.scratch[:0], pcm)
		out = t.scratch
	}
	t.push(out)
}

// push queues 48 kHz samples; t.mu is held.
func (t *PCMLocalTrack) push(s []int16) {
	if len(s) == 0 {
		return
	}
	if t.idle {
		t.idle = false
		t.utterPlayed = 0
		t.playedOut = make(chan struct{})
	}
	t.queue.push(s)
}

// broadcastLocked wakes those waiting for the queue to change.
func (t *PCMLocalTrack) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// ClearQueue drops every sample queued: the next frame sent, within one
// frame duration, is silence. It returns how much of the current utterance
// (the audio queued since the queue was last empty) had been sent, and ends
// it: WaitForPlayout returns, and a write waiting for room returns
// ErrQueueCleared.
func (t *PCMLocalTrack) ClearQueue() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	played := time.Duration(t.utterPlayed) * time.Second / DefaultOpusSampleRate
	t.queue.reset()
	if t.rs != nil {
		t.rs.Reset()
	}
	t.gen++
	t.endUtteranceLocked()
	t.broadcastLocked()
	return played
}

// endUtteranceLocked marks the utterance over: those waiting for its
// playout return.
func (t *PCMLocalTrack) endUtteranceLocked() {
	if !t.idle {
		t.idle = true
		close(t.playedOut)
	}
}

// QueuedDuration is the audio queued and not yet sent.
func (t *PCMLocalTrack) QueuedDuration() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Duration(t.queue.size/t.channels) * time.Second / DefaultOpusSampleRate
}

// WaitForPlayout returns once every sample written so far has been sent
// (the end of an utterance: what the resampler still holds is sent too),
// or the utterance was cleared, or with ctx's error, or ErrTrackClosed. It
// returns at once when nothing is queued. Audio plays out only while the
// track is published.
func (t *PCMLocalTrack) WaitForPlayout(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrTrackClosed
	}
	if t.rs != nil {
		t.scratch = t.rs.Flush(t.scratch[:0])
		t.push(t.scratch[:min(len(t.scratch), t.queue.free())/t.channels*t.channels])
	}
	done, changed := t.playedOut, t.changed
	t.mu.Unlock()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
			t.mu.Lock()
			closed := t.closed
			done, changed = t.playedOut, t.changed
			t.mu.Unlock()
			if closed {
				return ErrTrackClosed
			}
		}
	}
}

// Mute pauses the audio (true) or plays it on (false): while muted the
// track sends silence and what is queued waits. The publication stays
// unmuted for the others; LocalTrackPublication.SetMuted mutes it there
// (and stops sending).
func (t *PCMLocalTrack) Mute(muted bool) { t.muted.Store(muted) }

// IsMuted reports whether Mute paused the audio.
func (t *PCMLocalTrack) IsMuted() bool { return t.muted.Load() }

// Close discards what is queued and stops sending; a waiting write or
// WaitForPlayout returns ErrTrackClosed. The track stays published (without
// media) until it is unpublished. It may be called more than once.
func (t *PCMLocalTrack) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.queue.reset()
	t.broadcastLocked()
	t.mu.Unlock()
	t.encMu.Lock()
	t.enc.Close()
	t.encMu.Unlock()
	return nil
}

// CloseAfterPlayout waits for what is queued to be sent (WaitForPlayout),
// then closes the track. When ctx ends first, the track is closed anyway
// and ctx's error returned.
func (t *PCMLocalTrack) CloseAfterPlayout(ctx context.Context) error {
	err := t.WaitForPlayout(ctx)
	if errors.Is(err, ErrTrackClosed) {
		err = nil
	}
	return errors.Join(err, t.Close())
}

// nextFrame takes the next frame to send into t.pcm (silence where nothing
// is queued) and reports whether the track is closed.
func (t *PCMLocalTrack) nextFrame() (closed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return true
	}
	if t.inFlight {
		// The frame handed over last has been sent: the writer asks for
		// the next one only after sending it.
		t.inFlight = false
		if t.queue.size == 0 {
			t.endUtteranceLocked()
		}
	}
	n := 0
	if !t.muted.Load() {
		n = t.queue.pop(t.pcm)
	}
	clear(t.pcm[n:])
	if n > 0 {
		t.inFlight = true
		t.utterPlayed += n / t.channels
		t.broadcastLocked() // room for waiting writes
	}
	return false
}

// pcmProvider is the sample provider the track's writer pulls frames from.
// It is not the track itself: unpublishing stops the writer, not the track.
type pcmProvider struct {
	lksdk.BaseSampleProvider
	t *PCMLocalTrack
}

func (p *pcmProvider) NextSample() (pionmedia.Sample, error) {
	return p.NextSampleWithContext(context.Background())
}

// NextSampleWithContext encodes the next frame at once: the writer paces.
func (p *pcmProvider) NextSampleWithContext(context.Context) (pionmedia.Sample, error) {
	t := p.t
	t.encMu.Lock()
	defer t.encMu.Unlock()
	if t.nextFrame() {
		return pionmedia.Sample{}, io.EOF
	}
	t.level.Store(uint32(audioLevel(t.pcm)))
	n, err := t.enc.Encode(t.pcm, t.packet)
	if err != nil {
		if errors.Is(err, opus.ErrClosed) {
			return pionmedia.Sample{}, io.EOF
		}
		return pionmedia.Sample{}, err
	}
	return pionmedia.Sample{Data: t.packet[:n], Duration: t.frame}, nil
}

// CurrentAudioLevel is the level of the frame encoded last.
func (p *pcmProvider) CurrentAudioLevel() uint8 { return uint8(p.t.level.Load()) }
