package media

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/media/internal/opus"
)

// PCMRemoteTrackWriter receives a remote track's PCM: interleaved signed
// 16-bit samples at the track's target rate and channels, in chunks of one
// Opus frame (10 to 60 ms). WriteSample is called from one goroutine, in
// order; a slow writer delays playout, and what arrives meanwhile waits in
// the jitter buffer (within its bound). Close is called once, when the
// track ends.
type PCMRemoteTrackWriter interface {
	WriteSample(sample []int16) error
	Close() error
}

// PCMRemoteTrackOption configures NewPCMRemoteTrack.
type PCMRemoteTrackOption func(*remoteOptions)

type remoteOptions struct {
	rate, channels int
	jitter         bool
	delay, max     time.Duration
	log            logr.Logger
	transformer    lksdk.FrameTransformer
	errs           []error
}

// WithTargetSampleRate sets the rate of the PCM written: 8,000, 16,000,
// 24,000 or 48,000 Hz (48,000 when unset). Opus decodes to these rates
// directly.
func WithTargetSampleRate(rate int) PCMRemoteTrackOption {
	return func(o *remoteOptions) {
		switch rate {
		case 8000, 16000, 24000, 48000:
		default:
			o.errs = append(o.errs, fmt.Errorf("media: target sample rate %d: 8000, 16000, 24000 or 48000 Hz", rate))
		}
		o.rate = rate
	}
}

// WithTargetChannels sets the channels of the PCM written, 1 or 2 (the
// track's when unset): stereo is mixed down to mono, mono doubled.
func WithTargetChannels(channels int) PCMRemoteTrackOption {
	return func(o *remoteOptions) {
		if channels != 1 && channels != 2 {
			o.errs = append(o.errs, fmt.Errorf("media: %d target channels: 1 or 2", channels))
		}
		o.channels = channels
	}
}

// WithHandleJitter turns the jitter buffer on (the default) or off. With
// it, PCM is written at the pace of a clock of its own, DefaultJitterDelay
// behind the first packet: late and reordered packets find their place,
// lost ones are concealed, and a sender's pause (DTX) is written as
// silence. Without it, each packet is decoded as it arrives; lost packets
// (a gap in sequence numbers) are still concealed, and a pause is written
// as silence when the sender resumes.
func WithHandleJitter(on bool) PCMRemoteTrackOption {
	return func(o *remoteOptions) { o.jitter = on }
}

// WithJitterDelay sets how far behind the first packet playout starts
// (DefaultJitterDelay when unset), and the most audio the jitter buffer
// holds (MaxJitterDelay when unset): past it, the oldest packets are
// dropped.
func WithJitterDelay(delay, max time.Duration) PCMRemoteTrackOption {
	return func(o *remoteOptions) {
		if delay < 0 || max < delay || max < 20*time.Millisecond || max > 10*time.Second {
			o.errs = append(o.errs, fmt.Errorf("media: jitter delay %s up to %s: 0 ≤ delay ≤ max, max from 20 ms to 10 s", delay, max))
		}
		o.delay, o.max = delay, max
	}
}

// WithFrameTransformer makes the remote track pass every Opus packet
// through t before it is decoded: end-to-end decryption (pkg/e2ee's
// FrameDecryptor, made for the publisher's identity) is one. A packet t
// fails on (or returns empty) is counted in Stats.TransformFailed and
// treated as lost: concealed, or recovered from the next packet's FEC.
// t is called from the track's reading goroutine, one packet at a time,
// with the packet's timestamp and SSRC. To encrypt what a PCMLocalTrack
// sends, give it lksdk.WithFrameTransformer with WithSampleTrackOptions.
func WithFrameTransformer(t lksdk.FrameTransformer) PCMRemoteTrackOption {
	return func(o *remoteOptions) { o.transformer = t }
}

// WithRemoteLogger sets where the track logs (nowhere when unset).
func WithRemoteLogger(l logr.Logger) PCMRemoteTrackOption {
	return func(o *remoteOptions) { o.log = l }
}

const (
	// DefaultJitterDelay is how far behind the first packet a remote
	// track's playout starts.
	DefaultJitterDelay = 60 * time.Millisecond
	// MaxJitterDelay is the most audio a remote track's jitter buffer
	// holds by default.
	MaxJitterDelay = 500 * time.Millisecond
)

// rtpSource is what a PCMRemoteTrack reads: a *webrtc.TrackRemote.
type rtpSource interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
	SetReadDeadline(time.Time) error
}

// PCMRemoteTrack decodes a subscribed Opus track to PCM and hands it to a
// PCMRemoteTrackWriter, from goroutines of its own, until the track ends
// (unsubscribed, its publisher gone, the room closed) or Close is called;
// the writer is then closed and Done is closed.
type PCMRemoteTrack struct {
	src      rtpSource
	writer   PCMRemoteTrackWriter
	rate     int
	channels int
	jitter   bool
	delay    time.Duration
	log      logr.Logger
	tf       lksdk.FrameTransformer

	mu       sync.Mutex
	jb       *jitterBuffer
	arrived  chan struct{} // a packet was pushed (capacity 1)
	consumed chan struct{} // a packet was played (capacity 1)
	ended    bool          // the source ended: play what is left, then stop
	stats    PCMRemoteTrackStats

	dec  *opus.Decoder // the playout goroutine's
	pcm  []int16
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	done chan struct{}
}

// PCMRemoteTrackStats counts what a remote track received and played.
type PCMRemoteTrackStats struct {
	Packets       uint64 // RTP packets received
	Decoded       uint64 // packets decoded
	Recovered     uint64 // lost packets recovered from the next one's FEC
	Concealed     uint64 // frames concealed
	SilenceFrames uint64 // frames written as silence (the sender paused)
	Late          uint64 // packets that came after their time
	Dropped       uint64 // packets dropped for the jitter buffer's bound
	Invalid       uint64 // packets that could not be decoded
	// TransformFailed counts packets the WithFrameTransformer transformer
	// failed on (that did not decrypt): taken as lost.
	TransformFailed uint64
	SamplesWritten  uint64 // samples (of all channels) written
}

// NewPCMRemoteTrack starts decoding track, which must be Opus, into
// writer.
func NewPCMRemoteTrack(track *webrtc.TrackRemote, writer PCMRemoteTrackWriter, opts ...PCMRemoteTrackOption) (*PCMRemoteTrack, error) {
	if track == nil || writer == nil {
		return nil, errors.New("media: NewPCMRemoteTrack needs a track and a writer")
	}
	codec := track.Codec()
	if !strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus) {
		return nil, fmt.Errorf("media: track %s is %s, not Opus", track.ID(), codec.MimeType)
	}
	channels := 1
	if strings.Contains(codec.SDPFmtpLine, "stereo=1") {
		channels = 2
	}
	return newPCMRemoteTrack(track, channels, writer, opts...)
}

func newPCMRemoteTrack(src rtpSource, trackChannels int, writer PCMRemoteTrackWriter, opts ...PCMRemoteTrackOption) (*PCMRemoteTrack, error) {
	o := remoteOptions{rate: 48000, channels: trackChannels, jitter: true, delay: DefaultJitterDelay, max: MaxJitterDelay, log: logr.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, err
	}
	dec, err := opus.NewDecoder(o.rate, o.channels)
	if err != nil {
		return nil, err
	}
	t := &PCMRemoteTrack{
		src: src, writer: writer, rate: o.rate, channels: o.channels, jitter: o.jitter, delay: o.delay, log: o.log, tf: o.transformer,
		jb:       newJitterBuffer(max(2, int(o.max/(10*time.Millisecond)))),
		arrived:  make(chan struct{}, 1),
		consumed: make(chan struct{}, 1),
		dec:      dec,
		pcm:      make([]int16, opus.MaxFrameSamples*o.channels),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	t.wg.Add(2)
	go t.read()
	go t.play()
	go func() {
		t.wg.Wait()
		dec.Close()
		if err := writer.Close(); err != nil {
			t.log.V(1).Info("closing the PCM writer", "error", err.Error())
		}
		close(t.done)
	}()
	return t, nil
}

// SampleRate is the rate of the PCM written.
func (t *PCMRemoteTrack) SampleRate() int { return t.rate }

// Channels is the channels of the PCM written.
func (t *PCMRemoteTrack) Channels() int { return t.channels }

// Stats returns the track's counters.
func (t *PCMRemoteTrack) Stats() PCMRemoteTrackStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Late, s.Dropped = t.jb.late, t.jb.dropped
	return s
}

// Done is closed once the track has ended and its writer was closed.
func (t *PCMRemoteTrack) Done() <-chan struct{} { return t.done }

// Close stops decoding (what waits in the jitter buffer is not written),
// closes the writer and returns once the track's goroutines have ended.
// The track itself stays subscribed. It may be called more than once.
func (t *PCMRemoteTrack) Close() {
	t.once.Do(func() {
		close(t.stop)
		_ = t.src.SetReadDeadline(time.Now())
	})
	<-t.done
}

// read takes RTP from the track into the jitter buffer until the track
// ends.
func (t *PCMRemoteTrack) read() {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		t.ended = true
		t.mu.Unlock()
		t.signal()
	}()
	for {
		pkt, _, err := t.src.ReadRTP()
		if err != nil {
			return // unsubscribed, or closed
		}
		if len(pkt.Payload) == 0 {
			continue // padding
		}
		if t.tf != nil && !t.transform(pkt) {
			continue // as if lost
		}
		samples, err := opus.PacketSamples(pkt.Payload, opus.SampleRate)
		if !t.jitter && !t.waitRoom() {
			return
		}
		t.mu.Lock()
		t.stats.Packets++
		if err != nil {
			t.stats.Invalid++
		} else {
			t.jb.push(pkt.SequenceNumber, pkt.Timestamp, samples, pkt.Payload)
		}
		t.mu.Unlock()
		t.signal()
	}
}

// transform replaces pkt's payload with what the transformer makes of it.
// It reports false, having counted the packet, when the transformer fails.
func (t *PCMRemoteTrack) transform(pkt *rtp.Packet) bool {
	out, err := t.tf.TransformFrame(pkt.Payload, lksdk.FrameInfo{
		MimeType: webrtc.MimeTypeOpus, Timestamp: pkt.Timestamp, SSRC: pkt.SSRC,
	})
	if err == nil && len(out) > 0 {
		pkt.Payload = out
		return true
	}
	t.mu.Lock()
	t.stats.Packets++
	t.stats.TransformFailed++
	n := t.stats.TransformFailed
	t.mu.Unlock()
	if n == 1 || n%1000 == 0 {
		t.log.V(1).Info("an Opus packet did not transform; taken as lost", "error", fmt.Sprint(err), "count", n)
	}
	return false
}

// waitRoom waits, without a jitter buffer, until the buffer has room:
// packets are decoded as they come, so a slow writer slows the reading
// rather than lose them. It returns false when the track is being closed.
func (t *PCMRemoteTrack) waitRoom() bool {
	for {
		t.mu.Lock()
		full := t.jb.len() >= t.jb.max
		t.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-t.stop:
			return false
		case <-t.consumed:
		}
	}
}

func (t *PCMRemoteTrack) signal() {
	select {
	case t.arrived <- struct{}{}:
	default:
	}
}

// play writes PCM: paced by a clock of its own with the jitter buffer, as
// packets arrive without.
func (t *PCMRemoteTrack) play() {
	defer t.wg.Done()
	// The first packet starts the clock.
	if !t.waitArrival() {
		return
	}
	if t.jitter {
		select {
		case <-t.stop:
			return
		case <-time.After(t.delay):
		}
	}
	start := time.Now()
	var played time.Duration
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.mu.Lock()
		if !t.jitter || t.ended {
			// Without a clock, play only what is there; once the source
			// ended, play out what is left and stop.
			for t.jb.len() == 0 {
				ended := t.ended
				t.mu.Unlock()
				if ended || !t.waitArrival() {
					return
				}
				t.mu.Lock()
			}
		}
		samples, n, err := t.nextFrameLocked()
		t.mu.Unlock()
		select {
		case t.consumed <- struct{}{}:
		default:
		}
		if err != nil {
			t.log.V(1).Info("could not decode an Opus packet", "error", err.Error())
		}
		if n > 0 {
			if err := t.writer.WriteSample(t.pcm[:n*t.channels]); err != nil {
				t.log.V(1).Info("the PCM writer failed; stopping", "error", err.Error())
				return
			}
			t.mu.Lock()
			t.stats.SamplesWritten += uint64(n * t.channels)
			t.mu.Unlock()
		}
		if !t.jitter {
			continue
		}
		played += time.Duration(samples) * time.Second / opus.SampleRate
		if wait := time.Until(start.Add(played)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-t.stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-t.stop:
				return
			default:
			}
		}
	}
}

// waitArrival waits for a packet (or the source's end); false when the
// track is being closed.
func (t *PCMRemoteTrack) waitArrival() bool {
	select {
	case <-t.stop:
		return false
	case <-t.arrived:
		return true
	}
}

// nextFrameLocked decodes what the jitter buffer says into t.pcm: the
// frame's duration in 48 kHz samples, and the samples per channel written
// at the target rate. t.mu is held (the packet's payload is the buffer's).
func (t *PCMRemoteTrack) nextFrameLocked() (samples, n int, err error) {
	act, pkt, samples := t.jb.next()
	frame := samples * t.rate / opus.SampleRate
	switch act {
	case playDecode:
		n, err = t.dec.Decode(pkt.payload, t.pcm)
		if err == nil {
			t.stats.Decoded++
			return samples, n, nil
		}
		t.stats.Invalid++
		n, err = t.dec.Conceal(t.pcm, frame) // keep the length
	case playFEC:
		t.stats.Recovered++
		n, err = t.dec.DecodeFEC(pkt.payload, t.pcm, frame)
	case playConceal:
		t.stats.Concealed++
		n, err = t.dec.Conceal(t.pcm, frame)
	case playSilence:
		t.stats.SilenceFrames++
		clear(t.pcm[:frame*t.channels])
		n = frame
	}
	if err != nil {
		clear(t.pcm[:frame*t.channels])
		n = frame
	}
	return samples, n, err
}
