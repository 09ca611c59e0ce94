package e2ee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/samplebuilder"
)

// Defaults of the TrackReader's options.
const (
	// DefaultKeyFrameRequestInterval is the least time between two
	// keyframe requests a TrackReader makes after frames fail to decrypt.
	DefaultKeyFrameRequestInterval = 500 * time.Millisecond
	// DefaultMaxLatePackets is how many packets a TrackReader holds while
	// it waits for a missing one (see WithMaxLatePackets).
	DefaultMaxLatePackets = 256
)

// ErrReaderClosed is returned by ReadFrame once the reader is closed.
var ErrReaderClosed = errors.New("e2ee: track reader closed")

// EncryptionState is how the frames of a participant's track decrypt, in
// the terms of LiveKit's other SDKs (EncryptionState of the Rust core and
// the SDKs built on it, the frame cryptor states of libwebrtc).
type EncryptionState int

// The encryption states a TrackReader reports.
const (
	// EncryptionStateNew: no frame has been decrypted or failed yet.
	EncryptionStateNew EncryptionState = iota
	// EncryptionStateOk: the last frame decrypted.
	EncryptionStateOk
	// EncryptionStateDecryptionFailed: the last frame did not decrypt
	// (wrong key, a key that failed past the tolerance, tampered or
	// malformed frame).
	EncryptionStateDecryptionFailed
	// EncryptionStateMissingKey: the last frame named a key index with no
	// key set.
	EncryptionStateMissingKey
)

// String names the state.
func (s EncryptionState) String() string {
	switch s {
	case EncryptionStateNew:
		return "new"
	case EncryptionStateOk:
		return "ok"
	case EncryptionStateDecryptionFailed:
		return "decryption failed"
	case EncryptionStateMissingKey:
		return "missing key"
	}
	return fmt.Sprintf("EncryptionState(%d)", int(s))
}

// TrackReaderOption configures NewTrackReader.
type TrackReaderOption func(*trackReaderOptions)

type trackReaderOptions struct {
	sif          []byte
	onError      func(identity string, err error)
	onState      func(identity string, state EncryptionState)
	pliInterval  time.Duration
	maxLate      uint16
	requestFrame func() // overrides the PLI to the publisher (tests)
	now          func() time.Time
}

// WithSifTrailer sets the room's server-injected-frame trailer (the join
// response's sif_trailer): frames ending with it are the server's own, in
// clear, and are handed out without the trailer instead of failing. A
// joined room gives it: lksdk.Room.SifTrailer. Without it such frames
// (which the server sends rarely, such as blank frames around a mute) count
// as failures.
func WithSifTrailer(trailer []byte) TrackReaderOption {
	return func(o *trackReaderOptions) { o.sif = append([]byte(nil), trailer...) }
}

// WithOnDecryptionError sets a function called with the publisher's
// identity and the error for every frame that fails to decrypt (livekit-
// client's EncryptionError event). It is called from the goroutine in
// ReadFrame, without a lock held; it should return quickly.
func WithOnDecryptionError(f func(identity string, err error)) TrackReaderOption {
	return func(o *trackReaderOptions) { o.onError = f }
}

// WithOnEncryptionStateChanged sets a function called with the
// publisher's identity each time the track's EncryptionState changes: Ok
// at the first frame that decrypts, DecryptionFailed or MissingKey when
// frames start failing, Ok again when they recover (the Rust core's
// E2eeStateChanged). It is called as WithOnDecryptionError's function is.
func WithOnEncryptionStateChanged(f func(identity string, state EncryptionState)) TrackReaderOption {
	return func(o *trackReaderOptions) { o.onState = f }
}

// WithKeyFrameRequestInterval sets the least time between two keyframe
// requests made after video frames fail to decrypt
// (DefaultKeyFrameRequestInterval unless set; d <= 0 keeps it).
func WithKeyFrameRequestInterval(d time.Duration) TrackReaderOption {
	return func(o *trackReaderOptions) {
		if d > 0 {
			o.pliInterval = d
		}
	}
}

// WithMaxLatePackets sets how many packets the reader holds while it waits
// for a missing packet before giving it up as lost (DefaultMaxLatePackets
// unless set; n == 0 keeps it). It bounds the reader's memory.
func WithMaxLatePackets(n uint16) TrackReaderOption {
	return func(o *trackReaderOptions) {
		if n > 0 {
			o.maxLate = n
		}
	}
}

// TrackReaderStats counts what a TrackReader did.
type TrackReaderStats struct {
	// Frames counts the frames ReadFrame returned.
	Frames uint64
	// Dropped counts the frames that failed to decrypt, never returned.
	Dropped uint64
	// KeyFrameRequests counts the keyframe requests sent after failures.
	KeyFrameRequests uint64
	// LostPackets counts the RTP packets lost or dropped before a frame
	// could be reassembled (see samplebuilder.WithPacketDroppedHandler).
	LostPackets uint64
	// Decryptor is the decryptor's own count (zero for a track that is not
	// encrypted).
	Decryptor DecryptorStats
}

// trackSource is what a TrackReader reads: a *webrtc.TrackRemote.
type trackSource interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
	SetReadDeadline(time.Time) error
}

// TrackReader reads the frames of a subscribed track, reassembled from RTP
// and, when the publication says the track is encrypted, decrypted: a
// frame that fails to decrypt is counted, dropped (never returned) and,
// for video, followed by a keyframe request to the publisher, at most one
// per WithKeyFrameRequestInterval. A track whose publication is not
// encrypted (Encryption NONE) is read as it is.
//
// ReadFrame is meant for one goroutine; Stats, State and Close may be
// called from any.
type TrackReader struct {
	src      trackSource
	identity string
	mime     string
	video    bool
	dec      *FrameDecryptor // nil: not encrypted
	opts     trackReaderOptions
	request  func()

	readMu      sync.Mutex // one ReadFrame at a time
	sb          *samplebuilder.SampleBuilder
	interrupted bool // a read deadline was set to interrupt a read
	lastRequest time.Time
	state       EncryptionState
	ended       bool

	closed                          atomic.Bool
	frames, dropped, requests, lost atomic.Uint64
	stateNow                        atomic.Int32
}

// NewTrackReader returns a reader of track, subscribed from pub published
// by rp, that decrypts with kp's keys for rp's identity when pub's
// Encryption is not NONE. kp may be nil for a track that is not encrypted.
// It reads VP8, VP9, AV1, H.264 (Annex-B access units) and Opus.
func NewTrackReader(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant,
	kp *ExternalKeyProvider, opts ...TrackReaderOption) (*TrackReader, error) {
	if track == nil || pub == nil || rp == nil {
		return nil, errors.New("e2ee: NewTrackReader needs the track, its publication and its participant")
	}
	ssrc := track.SSRC()
	request := func() { rp.WritePLI(ssrc) }
	return newTrackReader(track, track.Codec().RTPCodecCapability, pub.Encryption(), rp.Identity(), kp, request, opts...)
}

func newTrackReader(src trackSource, codec webrtc.RTPCodecCapability, enc livekit.Encryption_Type, identity string,
	kp *ExternalKeyProvider, request func(), opts ...TrackReaderOption) (*TrackReader, error) {
	o := trackReaderOptions{pliInterval: DefaultKeyFrameRequestInterval, maxLate: DefaultMaxLatePackets, now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.requestFrame != nil {
		request = o.requestFrame
	}
	dep, err := depacketizerFor(codec.MimeType)
	if err != nil {
		return nil, err
	}
	r := &TrackReader{
		src: src, identity: identity, mime: codec.MimeType, opts: o, request: request,
		video: strings.HasPrefix(strings.ToLower(codec.MimeType), "video/"),
	}
	if enc != livekit.Encryption_NONE {
		if kp == nil {
			return nil, fmt.Errorf("e2ee: the track is encrypted (%v) and no key provider was given", enc)
		}
		c, err := CodecFromMimeType(codec.MimeType)
		if err != nil {
			return nil, err
		}
		if r.dec, err = NewFrameDecryptor(kp, identity, c, o.sif); err != nil {
			return nil, err
		}
	}
	clock := codec.ClockRate
	if clock == 0 {
		clock = 90000
		if !r.video {
			clock = 48000
		}
	}
	r.sb = samplebuilder.New(o.maxLate, dep, clock,
		samplebuilder.WithPacketDroppedHandler(func() { r.lost.Add(1) }))
	return r, nil
}

// depacketizerFor returns the RTP depacketizer of a codec.
func depacketizerFor(mime string) (rtp.Depacketizer, error) {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return &codecs.OpusPacket{}, nil
	case "video/vp8":
		return &codecs.VP8Packet{}, nil
	case "video/vp9":
		return &codecs.VP9Packet{}, nil
	case "video/h264":
		return &codecs.H264Packet{}, nil
	case "video/av1":
		return &codecs.AV1Depacketizer{}, nil
	}
	return nil, fmt.Errorf("e2ee: a track reader cannot read %q", mime)
}

// Encrypted reports whether the reader decrypts: the publication said the
// track is encrypted.
func (r *TrackReader) Encrypted() bool { return r.dec != nil }

// MimeType is the track's codec ("video/VP8", "audio/opus", ...).
func (r *TrackReader) MimeType() string { return r.mime }

// Identity is the identity of the track's publisher.
func (r *TrackReader) Identity() string { return r.identity }

// State is the track's encryption state (EncryptionStateNew for a track
// that is not encrypted).
func (r *TrackReader) State() EncryptionState { return EncryptionState(r.stateNow.Load()) }

// Stats returns the reader's counts.
func (r *TrackReader) Stats() TrackReaderStats {
	s := TrackReaderStats{
		Frames: r.frames.Load(), Dropped: r.dropped.Load(),
		KeyFrameRequests: r.requests.Load(), LostPackets: r.lost.Load(),
	}
	if r.dec != nil {
		s.Decryptor = r.dec.Stats()
	}
	return s
}

// Close makes a blocked ReadFrame return, and every later one,
// ErrReaderClosed. It does not stop the subscription.
func (r *TrackReader) Close() error {
	if r.closed.CompareAndSwap(false, true) {
		_ = r.src.SetReadDeadline(time.Now())
	}
	return nil
}

// ReadFrame returns the track's next whole frame (a video frame, an H.264
// access unit in Annex-B, an Opus packet), decrypted if the track is
// encrypted, with its duration and RTP timestamp (PacketTimestamp). It
// blocks until a frame is ready, ctx is done (ctx.Err()), the track ends
// (io.EOF, after the frames still held) or the reader is closed
// (ErrReaderClosed). Frames that fail to decrypt are not returned; the
// reader's callbacks and Stats tell of them. The sample's Data is the
// caller's.
func (r *TrackReader) ReadFrame(ctx context.Context) (media.Sample, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	for {
		if r.closed.Load() {
			return media.Sample{}, ErrReaderClosed
		}
		if s, ok := r.next(r.sb.PopWithTimestamp); ok {
			return s, nil
		}
		if r.ended {
			if s, ok := r.next(r.sb.ForcePopWithTimestamp); ok {
				return s, nil
			}
			return media.Sample{}, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return media.Sample{}, err
		}
		pkt, err := r.read(ctx)
		if err != nil {
			switch {
			case r.closed.Load():
				return media.Sample{}, ErrReaderClosed
			case ctx.Err() != nil:
				return media.Sample{}, ctx.Err()
			case errors.Is(err, io.EOF):
				r.ended = true
				continue
			}
			return media.Sample{}, err
		}
		if pkt != nil && len(pkt.Payload) > 0 {
			r.sb.Push(pkt)
		}
	}
}

// next pops frames until one is ready to be handed out: decrypted, or one
// of a track that is not encrypted.
func (r *TrackReader) next(pop func() (*media.Sample, uint32)) (media.Sample, bool) {
	for {
		s, ts := pop()
		if s == nil {
			return media.Sample{}, false
		}
		if r.dec == nil {
			r.frames.Add(1)
			s.PacketTimestamp = ts
			return *s, true
		}
		out, err := r.dec.DecryptFrame(s.Data)
		if errors.Is(err, ErrServerInjectedFrame) {
			err = nil
		}
		if err != nil {
			r.fail(err)
			continue
		}
		r.setState(EncryptionStateOk)
		r.frames.Add(1)
		s.Data, s.PacketTimestamp = out, ts
		return *s, true
	}
}

// fail counts a frame that did not decrypt, tells the callbacks and, for
// video, asks for a keyframe if none was asked for lately.
func (r *TrackReader) fail(err error) {
	r.dropped.Add(1)
	state := EncryptionStateDecryptionFailed
	if errors.Is(err, ErrMissingKey) {
		state = EncryptionStateMissingKey
	}
	r.setState(state)
	if r.opts.onError != nil {
		r.opts.onError(r.identity, err)
	}
	if !r.video || r.request == nil {
		return
	}
	now := r.opts.now()
	if !r.lastRequest.IsZero() && now.Sub(r.lastRequest) < r.opts.pliInterval {
		return
	}
	r.lastRequest = now
	r.requests.Add(1)
	r.request()
}

func (r *TrackReader) setState(s EncryptionState) {
	if r.state == s {
		return
	}
	r.state = s
	r.stateNow.Store(int32(s))
	if r.opts.onState != nil {
		r.opts.onState(r.identity, s)
	}
}

// read reads one packet; a done ctx interrupts it through the track's read
// deadline, which the next read clears.
func (r *TrackReader) read(ctx context.Context) (*rtp.Packet, error) {
	if r.interrupted {
		r.interrupted = false
		_ = r.src.SetReadDeadline(time.Time{})
		if r.closed.Load() { // Close may have set its deadline meanwhile
			_ = r.src.SetReadDeadline(time.Now())
		}
	}
	if ctx.Done() == nil {
		pkt, _, err := r.src.ReadRTP()
		return pkt, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = r.src.SetReadDeadline(time.Now())
	})
	pkt, _, err := r.src.ReadRTP()
	if !stop() {
		<-fired
		r.interrupted = true
	}
	return pkt, err
}
