package lksdk

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The bounds on answering keyframe requests (PLI, FIR) from subscribers,
// which anyone in the room can send as often as they like.
const (
	// KeyFrameRequestInterval is the least time between two keyframe
	// requests passed to a track's provider (KeyFrameProvider): requests
	// that arrive sooner are merged into one, passed on when the interval
	// has run, and counted as suppressed.
	KeyFrameRequestInterval = time.Second
	// KeyFrameReplayRate is the most bytes per second a replay
	// (KeyFrameReplayer) is sent at: the writer waits after each replayed
	// frame for its share of the rate.
	KeyFrameReplayRate = 4 << 20
	// MaxKeyFrameReplayBytes is the most one replay sends; the frames of a
	// replay past it are dropped (and counted), and the stream goes on.
	MaxKeyFrameReplayBytes = 2 << 20
)

// KeyFrameStats counts a track's keyframe requests and what became of them.
type KeyFrameStats struct {
	// Requests is how many keyframe requests (PLI, FIR, unmuting) arrived.
	Requests uint64
	// Forwarded is how many were passed to the provider.
	Forwarded uint64
	// Suppressed is how many were merged into another because they came
	// within KeyFrameRequestInterval of the last one forwarded.
	Suppressed uint64
	// ReplayedFrames and ReplayedBytes count the frames a replaying
	// provider gave that were sent again.
	ReplayedFrames uint64
	ReplayedBytes  uint64
	// DroppedReplayFrames counts replayed frames not sent because their
	// replay passed MaxKeyFrameReplayBytes.
	DroppedReplayFrames uint64
}

// keyFrameLimiter merges keyframe requests that come too fast.
type keyFrameLimiter struct {
	mu        sync.Mutex
	last      time.Time   // when a request was last forwarded
	pending   bool        // a request waits for the interval to run
	waiting   atomic.Bool // pending, read without the lock by the writer
	requests  atomic.Uint64
	forwarded atomic.Uint64
	merged    atomic.Uint64

	replayedFrames, replayedBytes, droppedFrames atomic.Uint64
}

// request records a keyframe request and reports whether it is to be
// forwarded now.
func (l *keyFrameLimiter) request(now time.Time) bool {
	l.requests.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < KeyFrameRequestInterval {
		if l.pending {
			l.merged.Add(1) // into the one already waiting
		} else {
			l.pending = true
			l.waiting.Store(true)
		}
		return false
	}
	if l.pending {
		l.merged.Add(1) // the waiting one goes with this one
	}
	l.last, l.pending = now, false
	l.waiting.Store(false)
	l.forwarded.Add(1)
	return true
}

// due reports whether a request that waited is to be forwarded now. The
// writer calls it before every sample: without a waiting request it takes
// no lock.
func (l *keyFrameLimiter) due(now time.Time) bool {
	if !l.waiting.Load() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.pending || now.Sub(l.last) < KeyFrameRequestInterval {
		return false
	}
	l.last, l.pending = now, false
	l.waiting.Store(false)
	l.forwarded.Add(1)
	return true
}

func (l *keyFrameLimiter) stats() KeyFrameStats {
	// A request waiting to be forwarded counts as neither forwarded nor
	// suppressed yet.
	return KeyFrameStats{
		Requests:            l.requests.Load(),
		Forwarded:           l.forwarded.Load(),
		Suppressed:          l.merged.Load(),
		ReplayedFrames:      l.replayedFrames.Load(),
		ReplayedBytes:       l.replayedBytes.Load(),
		DroppedReplayFrames: l.droppedFrames.Load(),
	}
}

// KeyFrameStats returns the track's keyframe request counters.
func (s *LocalSampleTrack) KeyFrameStats() KeyFrameStats {
	return s.keyFrames.stats()
}

// requestKeyFrame passes a keyframe request to the provider, unless one
// was passed less than KeyFrameRequestInterval ago: it is then passed when
// the interval has run (by the writer, see forwardDueKeyFrame).
func (s *LocalSampleTrack) requestKeyFrame() {
	if s.keyFrames.request(time.Now()) {
		s.forwardKeyFrame()
	}
}

// forwardDueKeyFrame passes on a request that waited for the interval.
func (s *LocalSampleTrack) forwardDueKeyFrame() {
	if s.keyFrames.waiting.Load() && s.keyFrames.due(time.Now()) {
		s.forwardKeyFrame()
	}
}

func (s *LocalSampleTrack) forwardKeyFrame() {
	s.mu.RLock()
	p := s.provider
	s.mu.RUnlock()
	if kf, ok := p.(KeyFrameProvider); ok {
		kf.RequestKeyFrame()
	}
}

// sendReplay sends every frame r has to replay, paced at
// KeyFrameReplayRate and cut at MaxKeyFrameReplayBytes. It returns false
// when ctx ended while it waited.
func (s *LocalSampleTrack) sendReplay(ctx context.Context, r KeyFrameReplayer, timer *time.Timer) bool {
	var sent int
	var start time.Time
	for frame, ok := r.NextReplay(); ok; frame, ok = r.NextReplay() {
		if sent+len(frame) > MaxKeyFrameReplayBytes {
			s.keyFrames.droppedFrames.Add(1)
			continue // the rest of this replay
		}
		if start.IsZero() {
			start = time.Now()
		}
		_ = s.writeReplay(frame)
		sent += len(frame)
		s.keyFrames.replayedFrames.Add(1)
		s.keyFrames.replayedBytes.Add(uint64(len(frame)))
		// The next frame leaves once the bytes so far fit the rate.
		due := start.Add(time.Duration(float64(sent) / KeyFrameReplayRate * float64(time.Second)))
		if wait := time.Until(due); wait > time.Millisecond {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return false
			case <-timer.C:
			}
		}
	}
	return true
}
