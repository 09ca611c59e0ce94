package recorder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/livekit/server-sdk-go/internal/codec"
)

// ErrUnsupportedCodec is returned for a track whose codec the package
// cannot record (it records VP8, VP9, AV1, H.264 and Opus).
var ErrUnsupportedCodec = errors.New("recorder: unsupported codec")

// ErrLimitReached is wrapped by the error that ends a recording at one of
// its bounds: the file's size (WithMaxFileBytes) or duration
// (WithMaxDuration), or, for a RoomRecorder, the number of files
// (WithMaxFiles). The file, if one was opened, is finished and valid.
var ErrLimitReached = errors.New("recorder: limit reached")

// errRunTwice is returned by a second call of Run.
var errRunTwice = errors.New("recorder: Run already called")

// RTPSource is what a recorder reads: *webrtc.TrackRemote satisfies it.
//
// If the source also has the method
//
//	Read(b []byte) (n int, a interceptor.Attributes, err error)
//
// (as *webrtc.TrackRemote does), the recorder reads raw packets into a
// reused buffer with it instead of calling ReadRTP, which allocates every
// packet. If it has
//
//	SetReadDeadline(t time.Time) error
//
// (as *webrtc.TrackRemote does), the recorder uses it to interrupt a
// blocked read when its context is done or it is closed.
type RTPSource interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
	Codec() webrtc.RTPCodecParameters
}

// rawReader is the optional raw read method of an RTPSource.
type rawReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// deadliner is the optional read deadline method of an RTPSource.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// Read buffer sizes: packets larger than the buffer make the source fail
// with io.ErrShortBuffer, after which the buffer is doubled up to the
// largest possible UDP payload.
const (
	readBufferSize    = 1500
	maxReadBufferSize = 64 << 10
)

// Stats of a recording.
type Stats struct {
	// FramesWritten counts the video frames or audio packets written.
	FramesWritten int
	// FramesDropped counts frames not written because they were
	// incomplete or could not be decoded: frames before the first
	// keyframe, frames with lost packets, and frames after an
	// unrecoverable loss until the next keyframe.
	FramesDropped int
	// Gaps counts the times one or more consecutive packets were declared
	// lost.
	Gaps int
	// LostPackets counts the packets declared lost.
	LostPackets int
	// KeyFrameRequests counts the calls of the keyframe requester.
	KeyFrameRequests int
	// PaddingPackets counts packets without payload (padding only). They
	// are never written.
	PaddingPackets int
	// DuplicatePackets counts packets received more than once (the copies
	// are dropped).
	DuplicatePackets int
	// LatePackets counts packets that arrived after their sequence number
	// had been passed (declared lost, or too old to tell); they are
	// dropped.
	LatePackets int
	// FirstTimestamp and LastTimestamp are the RTP timestamps of the first
	// and last written frames.
	FirstTimestamp, LastTimestamp uint32
	// Duration is the media time from the first to the last written frame,
	// from their RTP timestamps.
	Duration time.Duration
	// Width and Height are the picture size of the first keyframe, when
	// the codec states it (VP8 and VP9 frame headers, the H.264 SPS, the
	// AV1 sequence header); 0 otherwise.
	Width, Height int
	// BytesWritten is how many bytes the recorder has written to the file
	// (the Ogg page being collected is written when it is full).
	BytesWritten int64
	// TransformFailed counts the frames the WithFrameTransformer
	// transformer failed on (a frame that did not decrypt), dropped and
	// also counted in FramesDropped.
	TransformFailed int
	// Discontinuities counts the gaps in an Opus track's timestamps too
	// long to fill (see WithMaxGapFill), recorded as jumps of the Ogg
	// granule position.
	Discontinuities int
}

// codecSpec is what the package knows of a codec it records.
type codecSpec struct {
	ext       string
	video     bool
	fourcc    string // IVF codecs
	clockRate uint32 // default
}

func lookupCodec(mime string) (codecSpec, error) {
	if info, ok := codec.Lookup(mime); ok && info.Ext != "" {
		return codecSpec{ext: info.Ext, video: info.IsVideo(), fourcc: info.FourCC, clockRate: info.ClockRate}, nil
	}
	return codecSpec{}, fmt.Errorf("%w: %q", ErrUnsupportedCodec, mime)
}

// ExtensionFor returns the file name extension of the format a track of the
// codec mime (such as "video/VP8", matched without regard to case) is
// recorded in: ".ivf" for VP8, VP9 and AV1, ".h264" for H.264 and ".ogg" for
// Opus. For other codecs it returns an error wrapping ErrUnsupportedCodec.
func ExtensionFor(mime string) (string, error) {
	spec, err := lookupCodec(mime)
	if err != nil {
		return "", err
	}
	return spec.ext, nil
}

// TrackRecorder writes one track to one file: VP8, VP9 and AV1 to IVF
// (timebase 1/90000, timestamps from RTP), H.264 to an Annex-B byte stream,
// Opus to Ogg Opus. Create it with NewTrackRecorder or
// NewTrackRecorderWriter, call Run to record, and Close to finish the file.
type TrackRecorder struct {
	src  RTPSource
	raw  rawReader // src's Read, when it has one
	opts options
	log  logr.Logger
	file *os.File // the file NewTrackRecorder created, closed by Close

	running   atomic.Bool
	closing   chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error

	// mu guards the pipeline and closed; Run holds it while it processes
	// a packet, Close while it finishes the file.
	mu     sync.Mutex
	p      *pipeline
	closed bool

	// Run's read state, used by Run only.
	buf []byte
	pkt rtp.Packet

	// statsMu guards stats, a copy of the pipeline's counters published
	// after every packet, so that Stats never waits for file I/O.
	statsMu sync.Mutex
	stats   Stats
}

// NewTrackRecorder creates the file at path (the caller chooses the name;
// ExtensionFor gives the usual extension) and returns a recorder of src into
// it. It returns an error wrapping ErrUnsupportedCodec, without creating a
// file, when src's codec cannot be recorded. Close closes the file.
func NewTrackRecorder(src RTPSource, path string, opts ...Option) (*TrackRecorder, error) {
	if _, err := lookupCodec(src.Codec().MimeType); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	r, err := NewTrackRecorderWriter(src, f, opts...)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewTrackRecorderWriter returns a recorder of src into w, starting at w's
// current position. Seeking is used on Close to fill in the IVF header's
// length; if w cannot seek (Seek fails), the length is left 0, which
// readers take as unknown. The Ogg format needs no seeking. Close does not
// close w. It returns an error wrapping ErrUnsupportedCodec when src's codec
// cannot be recorded.
func NewTrackRecorderWriter(src RTPSource, w io.WriteSeeker, opts ...Option) (*TrackRecorder, error) {
	codec := src.Codec()
	spec, err := lookupCodec(codec.MimeType)
	if err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.transformer != nil && spec.fourcc == "AV01" {
		return nil, fmt.Errorf("%w: AV1 frames cannot be transformed", ErrUnsupportedCodec)
	}
	clockRate := codec.ClockRate
	if clockRate == 0 || !spec.video {
		// RFC 7587: Opus always uses a 48 kHz RTP clock.
		clockRate = spec.clockRate
	}

	out := newCountingWriter(w)
	var dep depacketizer
	var fw frameWriter
	switch spec.fourcc {
	case "VP80":
		dep = &vp8Depacketizer{}
	case "VP90":
		dep = &vp9Depacketizer{}
	case "AV01":
		dep = &av1Depacketizer{}
	}
	switch {
	case spec.fourcc != "":
		fw = newIVFWriter(out, spec.fourcc, clockRate)
	case spec.video:
		dep = newH264Depacketizer(codec.SDPFmtpLine)
		fw = &annexBWriter{w: out}
	default:
		dep = opusDepacketizer{}
		fill := int64(min(o.maxGapFill.Seconds(), 1<<20) * opusSampleRate)
		fw = newOggOpusWriter(out, int(codec.Channels), fill)
	}

	r := &TrackRecorder{
		src:     src,
		opts:    o,
		log:     o.logger,
		closing: make(chan struct{}),
	}
	if raw, ok := src.(rawReader); ok {
		r.raw = raw
		r.buf = make([]byte, readBufferSize)
	}
	r.p = newPipeline(spec.video, clockRate, o.maxPackets, o.maxLatency, dep, fw,
		o.logger, o.keyFrameRequester != nil)
	r.p.setLimits(out, o.maxBytes, o.maxDuration)
	r.p.transformer, r.p.mime = o.transformer, codec.MimeType
	return r, nil
}

// Run reads packets from the source and records them until the source ends
// (io.EOF), ctx is done, Close is called or a file limit is reached. It
// returns nil when the source ended or the recorder was closed, ctx.Err()
// when ctx ended it, an error wrapping ErrLimitReached at a limit (see
// WithMaxFileBytes and WithMaxDuration), and otherwise the read or write
// error that stopped it. It may be called only
// once. Run does not finish the file: call Close after it (Close may also be
// called while Run runs, to stop it).
//
// A read blocked in the source is interrupted, when ctx is done or Close is
// called, through the source's SetReadDeadline method if it has one (the
// deadline is left in the past); otherwise Run returns once the blocked
// read returns.
//
// For video, Run asks for a keyframe when it starts (see
// WithKeyFrameRequester).
func (r *TrackRecorder) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errRunTwice
	}
	select {
	case <-r.closing:
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	stop := make(chan struct{})
	watched := make(chan struct{})
	go r.watch(ctx, stop, watched)
	defer func() {
		close(stop)
		<-watched
	}()

	r.mu.Lock()
	r.p.requestKeyFrame()
	request := r.p.takeRequest()
	r.publishStats()
	r.mu.Unlock()
	if request {
		r.opts.keyFrameRequester()
	}

	done := ctx.Done()
	for {
		select {
		case <-r.closing:
			return nil
		case <-done:
			return ctx.Err()
		default:
		}
		pkt, err := r.read()
		if err != nil {
			select {
			case <-r.closing:
				return nil
			case <-done:
				return ctx.Err()
			default:
			}
			switch {
			case errors.Is(err, io.EOF):
				r.mu.Lock()
				if !r.closed {
					r.p.flush()
					r.publishStats()
				}
				werr, lerr := r.p.err, r.p.limitErr
				r.mu.Unlock()
				if werr != nil {
					return fmt.Errorf("recorder: write: %w", werr)
				}
				return lerr
			case errors.Is(err, errBadPacket):
				continue
			case errors.Is(err, io.ErrShortBuffer) && r.raw != nil && len(r.buf) < maxReadBufferSize:
				r.buf = make([]byte, min(2*len(r.buf), maxReadBufferSize))
				continue
			}
			return fmt.Errorf("recorder: read: %w", err)
		}
		if err := r.handle(pkt); err != nil {
			return err
		}
	}
}

// watch interrupts a blocked read when ctx is done or the recorder closes,
// until stop is closed.
func (r *TrackRecorder) watch(ctx context.Context, stop, watched chan struct{}) {
	defer close(watched)
	select {
	case <-ctx.Done():
	case <-r.closing:
	case <-stop:
		return
	}
	if d, ok := r.src.(deadliner); ok {
		if err := d.SetReadDeadline(time.Now()); err != nil {
			r.log.V(1).Info("recorder: could not interrupt the read", "error", err)
		}
	}
}

// errBadPacket marks a packet that could not be parsed; Run skips it.
var errBadPacket = errors.New("recorder: bad RTP packet")

// read returns the next packet from the source.
func (r *TrackRecorder) read() (*rtp.Packet, error) {
	if r.raw == nil {
		pkt, _, err := r.src.ReadRTP()
		if err == nil && pkt == nil {
			err = errBadPacket
		}
		return pkt, err
	}
	n, _, err := r.raw.Read(r.buf)
	if err != nil {
		return nil, err
	}
	if err := r.pkt.Unmarshal(r.buf[:n]); err != nil {
		if l := r.log.V(1); l.Enabled() {
			l.Info("recorder: skipping a malformed RTP packet", "error", err)
		}
		return nil, errBadPacket
	}
	return &r.pkt, nil
}

// handle puts one packet through the pipeline and makes a keyframe request
// if one is due, without holding the lock.
func (r *TrackRecorder) handle(pkt *rtp.Packet) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.p.push(pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, pkt.Payload)
	request := r.p.takeRequest()
	err, lerr := r.p.err, r.p.limitErr
	r.publishStats()
	r.mu.Unlock()
	if request {
		r.opts.keyFrameRequester()
	}
	if err != nil {
		return fmt.Errorf("recorder: write: %w", err)
	}
	return lerr
}

// publishStats copies the pipeline's counters for Stats. r.mu must be held.
func (r *TrackRecorder) publishStats() {
	r.statsMu.Lock()
	r.p.fillStats(&r.stats)
	r.statsMu.Unlock()
}

// Close stops Run (if it is running), writes what the jitter buffer still
// holds, finishes the file (the IVF header's length, the Ogg
// end-of-stream page) and closes the file if NewTrackRecorder created it.
// It may be called more than once, and concurrently with Run; every call
// returns the first call's result. Close does not wait for Run to return.
func (r *TrackRecorder) Close() error {
	r.closeOnce.Do(func() {
		close(r.closing)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.closed = true
		err := r.p.finish()
		r.publishStats()
		if r.file != nil {
			if cerr := r.file.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		if err != nil {
			r.closeErr = fmt.Errorf("recorder: close: %w", err)
		}
	})
	return r.closeErr
}

// Stats returns the recording's statistics so far. It is safe to call at
// any time, including while Run runs.
func (r *TrackRecorder) Stats() Stats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}
