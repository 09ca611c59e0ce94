package recorder

import (
	"errors"
	"fmt"
	"time"

	"io"

	"github.com/go-logr/logr"

	lksdk "github.com/livekit/server-sdk-go"
)

// keyFrameRequestInterval is the least time between two keyframe requests.
var keyFrameRequestInterval = 500 * time.Millisecond

// releaseFrameBuffer is the capacity past which the frame buffer is let go
// after a frame instead of being kept for the next one.
const releaseFrameBuffer = 4 << 20

// pipeline is what a recorder does with packets once read: the jitter
// buffer puts them in order, frames are assembled and depacketized, the
// keyframe policy decides what is written, and the writer writes it. It is
// not safe for concurrent use; TrackRecorder guards it.
type pipeline struct {
	video     bool
	clockRate uint32
	jb        *jitterBuffer
	dep       depacketizer
	w         frameWriter
	log       logr.Logger
	now       func() time.Time

	// Frame transformer (nil: none) and the MIME type it is told.
	transformer     lksdk.FrameTransformer
	mime            string
	transformFailed int

	// Frame in assembly.
	frame   []byte
	active  bool
	frameTS uint32
	broken  bool // known incomplete: missing start, loss inside, bad payload

	// Keyframe policy (video).
	lossBetween bool // packets were lost since the last frame ended
	waitKey     bool // drop frames until a keyframe
	canRequest  bool // a keyframe requester is set
	lastRequest time.Time
	requestDue  bool  // a keyframe request is to be made by the caller
	lastPicID   int32 // of the last written frame
	lastPicBits uint8

	// What was written.
	started     bool // a frame was written
	firstTS     uint32
	lastTS      uint32
	lastExt     int64 // lastTS unwrapped, relative to firstTS
	lastPTS     int64
	err         error // sticky writer error
	limitErr    error // a file limit was reached: nothing more is written
	framesOut   int
	framesDrop  int
	keyRequests int
	width       int
	height      int

	// File limits (0: none) and the bytes written so far.
	maxBytes int64
	maxTicks int64
	out      *countingWriter
}

// countingWriter tracks the size of the file written through it: how far
// past the position it started at it has written (rewriting a header
// after seeking back does not add to it).
type countingWriter struct {
	w               io.WriteSeeker
	start, pos, end int64
}

// newCountingWriter starts counting at w's current position (or at 0 if w
// cannot tell it).
func newCountingWriter(w io.WriteSeeker) *countingWriter {
	c := &countingWriter{w: w}
	if pos, err := w.Seek(0, io.SeekCurrent); err == nil {
		c.start, c.pos, c.end = pos, pos, pos
	}
	return c
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.pos += int64(n)
	c.end = max(c.end, c.pos)
	return n, err
}

func (c *countingWriter) Seek(off int64, whence int) (int64, error) {
	pos, err := c.w.Seek(off, whence)
	if err == nil {
		c.pos = pos
	}
	return pos, err
}

// size returns the bytes written from the start position on.
func (c *countingWriter) size() int64 { return c.end - c.start }

// setLimits sets the file limits: at most maxBytes bytes through out, and
// frames at most maxDuration after the first; 0 means no limit.
func (p *pipeline) setLimits(out *countingWriter, maxBytes int64, maxDuration time.Duration) {
	p.out, p.maxBytes = out, maxBytes
	if maxDuration > 0 {
		p.maxTicks = max(int64(maxDuration.Seconds()*float64(p.clockRate)), 1)
	}
}

func newPipeline(video bool, clockRate uint32, maxPackets int, maxLatency time.Duration,
	dep depacketizer, w frameWriter, log logr.Logger, canRequest bool) *pipeline {
	ticks := int64(min(max(maxLatency.Seconds()*float64(clockRate), 0), 1<<30))
	p := &pipeline{
		video:      video,
		clockRate:  clockRate,
		dep:        dep,
		w:          w,
		log:        log,
		now:        time.Now,
		waitKey:    video,
		canRequest: canRequest,
		lastPicID:  -1,
	}
	p.jb = newJitterBuffer(maxPackets, uint32(ticks), p)
	return p
}

// push feeds one RTP packet's fields through the pipeline.
func (p *pipeline) push(seq uint16, ts uint32, marker bool, payload []byte) {
	p.jb.push(seq, ts, marker, payload)
}

// flush emits everything the jitter buffer holds; a frame left without its
// end is dropped.
func (p *pipeline) flush() {
	p.jb.flush()
	if p.active {
		if p.video {
			// Without a marker the frame may be missing its tail.
			p.broken = true
		}
		p.endFrame()
	}
}

// requestKeyFrame asks for a keyframe, at most once per
// keyFrameRequestInterval. The caller makes the request when requestDue.
func (p *pipeline) requestKeyFrame() {
	if !p.canRequest || !p.video || p.requestDue {
		return
	}
	now := p.now()
	if !p.lastRequest.IsZero() && now.Sub(p.lastRequest) < keyFrameRequestInterval {
		return
	}
	p.lastRequest = now
	p.requestDue = true
	p.keyRequests++
	if l := p.log.V(1); l.Enabled() {
		l.Info("recorder: requesting a keyframe")
	}
}

// takeRequest reports whether a keyframe request is due, and clears it.
func (p *pipeline) takeRequest() bool {
	due := p.requestDue
	p.requestDue = false
	return due
}

// onPacket implements packetSink.
func (p *pipeline) onPacket(ts uint32, marker bool, payload []byte) {
	if !p.video {
		// Every audio packet is a frame.
		p.frameTS = ts
		p.active = true
		p.broken = false
		var err error
		if p.frame, err = p.dep.appendPayload(p.frame[:0], payload, true); err != nil {
			p.broken = true
		}
		p.endFrame()
		return
	}
	if p.active && ts != p.frameTS {
		// A new timestamp with no marker before it and no loss: the
		// previous frame had all its packets, its marker was just not set.
		p.endFrame()
	}
	first := !p.active
	if first {
		p.active = true
		p.frameTS = ts
		p.broken = false
		p.frame = p.frame[:0]
	}
	if !p.broken {
		var err error
		if p.frame, err = p.dep.appendPayload(p.frame, payload, first); err != nil {
			p.broken = true
		}
	}
	if marker {
		p.endFrame()
	}
}

// onLoss implements packetSink.
func (p *pipeline) onLoss(n uint64) {
	if l := p.log.V(1); l.Enabled() {
		l.Info("recorder: packets lost", "count", n)
	}
	if p.active {
		// The lost packets may belong to the frame being assembled.
		p.broken = true
	}
	p.lossBetween = true
}

// endFrame completes the frame being assembled: writes it, or drops it.
func (p *pipeline) endFrame() {
	p.active = false
	defer func() {
		if cap(p.frame) > releaseFrameBuffer {
			p.frame = nil
		}
	}()
	if p.broken {
		p.drop()
		return
	}
	frame := p.frame
	if p.transformer != nil {
		var ok bool
		if frame, ok = p.transform(frame); !ok {
			p.transformFailed++
			p.drop()
			return
		}
	}
	out, info, err := p.dep.finish(frame, !p.started)
	if err != nil {
		p.drop()
		return
	}
	if !p.video {
		p.lossBetween = false
		p.write(out, info)
		return
	}
	if p.lossBetween && !info.key && !p.continues(info) {
		// Frames were lost since the last written frame: later frames
		// may reference them.
		p.waitKey = true
	}
	if p.waitKey && !info.key {
		p.drop()
		return
	}
	p.waitKey = false
	p.lossBetween = false
	p.write(out, info)
}

// transform passes a reassembled frame through the transformer and lets the
// depacketizer follow the change. It reports false when the frame is to be
// dropped.
func (p *pipeline) transform(frame []byte) ([]byte, bool) {
	out, err := p.transformer.TransformFrame(frame, lksdk.FrameInfo{MimeType: p.mime, Timestamp: p.frameTS})
	if err == nil && len(out) == 0 {
		err = errMalformed
	}
	if err == nil {
		if ft, ok := p.dep.(frameTransformed); ok {
			err = ft.transformed(out)
		}
	}
	if err != nil {
		if l := p.log.V(1); l.Enabled() {
			l.Info("recorder: frame transform failed; frame dropped", "error", err.Error())
		}
		return nil, false
	}
	return out, true
}

// continues reports whether the frame's picture ID directly follows that
// of the last written frame, so that a loss in between lost no picture.
func (p *pipeline) continues(info frameInfo) bool {
	if !p.started || info.picID < 0 || p.lastPicID < 0 || info.picIDBits != p.lastPicBits {
		return false
	}
	mask := int32(1)<<info.picIDBits - 1
	return (info.picID-p.lastPicID)&mask == 1
}

// drop counts a frame that is not written; for video it starts waiting for
// a keyframe and asks for one.
func (p *pipeline) drop() {
	p.framesDrop++
	if p.video {
		p.waitKey = true
		p.requestKeyFrame()
	}
}

// write writes a complete frame with its timestamp relative to the first
// written frame's.
func (p *pipeline) write(frame []byte, info frameInfo) {
	if p.err != nil || p.limitErr != nil {
		p.framesDrop++
		return
	}
	ts := p.frameTS
	if !p.started {
		p.started = true
		p.firstTS, p.lastTS, p.lastExt = ts, ts, 0
		p.width, p.height = info.width, info.height
		if err := p.w.begin(info.width, info.height); err != nil {
			p.fail(err)
			return
		}
	}
	ext := p.lastExt + int64(int32(ts-p.lastTS))
	pts := max(ext, p.lastPTS) // never backwards
	if p.maxTicks > 0 && pts > p.maxTicks {
		p.limit(fmt.Errorf("%w: duration %s", ErrLimitReached, ticksToDuration(p.maxTicks, p.clockRate)))
		return
	}
	if p.maxBytes > 0 && p.out != nil && p.out.size()+int64(p.w.pending(len(frame))) > p.maxBytes {
		p.limit(fmt.Errorf("%w: size %d bytes", ErrLimitReached, p.maxBytes))
		return
	}
	p.lastTS, p.lastExt = ts, ext
	if err := p.w.writeFrame(frame, pts); err != nil {
		p.fail(err)
		return
	}
	p.lastPTS = pts
	p.framesOut++
	p.lastPicID, p.lastPicBits = info.picID, info.picIDBits
}

// limit stops the recording at a file limit: the frame is dropped and
// nothing more is written, but the file is finished as usual.
func (p *pipeline) limit(err error) {
	p.framesDrop++
	if p.limitErr == nil {
		p.limitErr = err
		p.log.Info("recorder: file limit reached, recording stopped", "reason", err.Error())
	}
}

// fail records a writer error; nothing more is written.
func (p *pipeline) fail(err error) {
	if p.err == nil {
		p.err = err
		p.log.Error(err, "recorder: write failed")
	}
}

// finish flushes and completes the file.
func (p *pipeline) finish() error {
	p.flush()
	err := p.w.finish()
	if p.err != nil {
		return errors.Join(p.err, err)
	}
	return err
}

// fillStats copies the pipeline's counters into s.
func (p *pipeline) fillStats(s *Stats) {
	s.FramesWritten = p.framesOut
	s.FramesDropped = p.framesDrop
	s.TransformFailed = p.transformFailed
	s.Gaps = p.jb.stats.gaps
	s.KeyFrameRequests = p.keyRequests
	s.PaddingPackets = p.jb.stats.padding
	s.DuplicatePackets = p.jb.stats.duplicates
	s.LatePackets = p.jb.stats.late
	s.LostPackets = int(min(p.jb.stats.lost, 1<<31-1))
	if p.out != nil {
		s.BytesWritten = p.out.size()
	}
	if ow, ok := p.w.(*oggOpusWriter); ok {
		s.Discontinuities = ow.discontinuities
	}
	if p.started {
		s.FirstTimestamp = p.firstTS
		s.LastTimestamp = p.lastTS
		s.Duration = ticksToDuration(p.lastPTS, p.clockRate)
		s.Width, s.Height = p.width, p.height
	}
}

// ticksToDuration converts RTP clock ticks to a duration without overflow.
func ticksToDuration(ticks int64, clockRate uint32) time.Duration {
	rate := int64(clockRate)
	return time.Duration(ticks/rate)*time.Second + time.Duration(ticks%rate)*time.Second/time.Duration(rate)
}
