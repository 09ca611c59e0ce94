package recorder

import (
	"time"

	"github.com/go-logr/logr"
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
)

// options holds what the Option functions set.
type options struct {
	keyFrameRequester func()
	maxLatency        time.Duration
	maxPackets        int
	logger            logr.Logger
}

func defaultOptions() options {
	return options{
		maxLatency: DefaultMaxLatency,
		maxPackets: DefaultMaxPackets,
		logger:     logr.Discard(),
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
