package recorder

import (
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

// Defaults of the jitter buffer bounds.
const (
	// DefaultMaxLatency is how long, in RTP clock time, the jitter buffer
	// waits for a missing packet before declaring it lost.
	DefaultMaxLatency = 500 * time.Millisecond
	// DefaultMaxPackets is how many packets the jitter buffer holds at most.
	DefaultMaxPackets = 1024

	// maxMaxPackets bounds WithMaxPackets: the buffer's window must stay well
	// inside half the 16-bit sequence number space for sequence numbers to be
	// unwrapped without ambiguity.
	maxMaxPackets = 1 << 14
	// minMaxPackets is the smallest buffer WithMaxPackets allows.
	minMaxPackets = 2

	// DefaultMaxGapFill is the longest gap in an Opus track's timestamps
	// that is filled with concealed silence; see WithMaxGapFill.
	DefaultMaxGapFill = time.Minute
	// DefaultMaxFiles is how many files a RoomRecorder opens at most; see
	// WithMaxFiles.
	DefaultMaxFiles = 256
)

// options holds what the Option functions set.
type options struct {
	keyFrameRequester func()
	maxLatency        time.Duration
	maxPackets        int
	logger            logr.Logger
	maxGapFill        time.Duration
	maxBytes          int64         // 0: no limit
	maxDuration       time.Duration // 0: no limit
	maxFiles          int           // RoomRecorder only
	transformer       lksdk.FrameTransformer
	transformerFunc   TransformerFunc // RoomRecorder only
}

func defaultOptions() options {
	return options{
		maxLatency: DefaultMaxLatency,
		maxPackets: DefaultMaxPackets,
		logger:     logr.Discard(),
		maxGapFill: DefaultMaxGapFill,
		maxFiles:   DefaultMaxFiles,
	}
}

// Option configures a TrackRecorder.
type Option func(*options)

// WithKeyFrameRequester sets the function the recorder calls to ask the
// publisher for a keyframe: when a video recording starts, and after a loss
// it cannot recover from. With the SDK it is typically
//
//	func() { rp.WritePLI(track.SSRC()) }
//
// Requests are rate-limited (at most one per 500 ms) and f is never called
// while the recorder holds a lock, but it is called from the goroutine that
// runs Run, so it should not block for long. Without a requester the
// recorder waits for the publisher's next periodic keyframe.
func WithKeyFrameRequester(f func()) Option {
	return func(o *options) { o.keyFrameRequester = f }
}

// WithMaxLatency bounds how long the jitter buffer waits for a missing
// packet before declaring it lost, measured in RTP clock time: a gap is given
// up when packets stamped more than d later than the first packet after it
// have arrived. The default is DefaultMaxLatency; d <= 0 keeps the default.
func WithMaxLatency(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.maxLatency = d
		}
	}
}

// WithMaxPackets bounds the jitter buffer in packets: when a packet arrives
// that is n or more sequence numbers ahead of the oldest missing one, the
// missing packets are declared lost. The default is DefaultMaxPackets; n <= 0
// keeps the default, and n is clamped to [2, 16384].
func WithMaxPackets(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxPackets = min(max(n, minMaxPackets), maxMaxPackets)
		}
	}
}

// WithLogger sets the logger for events such as declared losses and
// keyframe requests (logged at V(1)). The default discards everything.
func WithLogger(l logr.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithMaxGapFill bounds the gap in an Opus track's RTP timestamps (lost
// packets, discontinuous transmission, a muted track) that is filled with
// concealed silence, so that the audio keeps its place on the timeline. A
// longer gap is recorded as a discontinuity: no filler, the Ogg granule
// positions jump ahead by the gap (counted in Stats.Discontinuities). So a
// sender whose timestamps leap ahead costs at most about 25 bytes of filler
// per second of d per packet. The default is DefaultMaxGapFill; d < 0 means
// 0 (never fill). Video needs no filler: IVF timestamps simply jump.
func WithMaxGapFill(d time.Duration) Option {
	return func(o *options) { o.maxGapFill = max(d, 0) }
}

// WithMaxFileBytes bounds the size of a recorded file. When writing the
// next frame would take the file past n bytes, the recording stops: the
// frame is not written, the file is finished as usual (so it stays valid,
// and may pass n by the container's end: the Ogg end-of-stream page) and
// Run returns an error wrapping ErrLimitReached. n <= 0 means no limit,
// the default. Stats.BytesWritten tells the size so far.
func WithMaxFileBytes(n int64) Option {
	return func(o *options) { o.maxBytes = max(n, 0) }
}

// WithMaxDuration bounds the media time of a recorded file, measured from
// the RTP timestamps: the first frame stamped more than d after the first
// written frame stops the recording, as WithMaxFileBytes does. A sender
// whose timestamps leap ahead reaches it early, which is the point. d <= 0
// means no limit, the default. Stats.Duration tells the time so far.
func WithMaxDuration(d time.Duration) Option {
	return func(o *options) { o.maxDuration = max(d, 0) }
}

// WithMaxFiles bounds how many files a RoomRecorder opens over its life
// (the option has no effect on a TrackRecorder). Once n files have been
// opened, further subscribed tracks are not recorded: each is reported to
// the OnRecordingEnded callback with an error wrapping ErrLimitReached and
// counted in RoomStats.Refused. The default is DefaultMaxFiles; n <= 0
// keeps the default.
func WithMaxFiles(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxFiles = n
		}
	}
}

// WithFrameTransformer makes the recorder pass every reassembled frame
// (video frame, H.264 access unit, Opus packet) through t before it is
// written: end-to-end decryption (pkg/e2ee's FrameDecryptor) is one. t
// sees the frame as the sender's transformer made it, with the track's
// MIME type and the frame's RTP timestamp; KeyFrame and SSRC are not set.
// A frame t fails on (or returns empty) is dropped, counted in
// Stats.TransformFailed and FramesDropped, and never written; for video
// the recorder then waits for a keyframe and asks for one. t is called
// from Run's goroutine, one frame at a time. AV1 tracks and VP9 frames of
// more than one spatial layer cannot be transformed (ErrUnsupportedCodec;
// the frames are dropped). For a RoomRecorder, use
// WithFrameTransformerFunc.
func WithFrameTransformer(t lksdk.FrameTransformer) Option {
	return func(o *options) { o.transformer = t }
}

// TransformerFunc returns the FrameTransformer of a subscribed track, or
// nil to record it as it is (such as a track whose publication is not
// encrypted). An error makes the track not recorded.
type TransformerFunc func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication,
	rp *lksdk.RemoteParticipant) (lksdk.FrameTransformer, error)

// WithFrameTransformerFunc makes a RoomRecorder give each track it records
// the transformer f returns for it (see WithFrameTransformer). pkg/e2ee's
// TrackDecryptors is such a function.
func WithFrameTransformerFunc(f TransformerFunc) Option {
	return func(o *options) { o.transformerFunc = f }
}
