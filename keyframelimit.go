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
	// KeyFrameRequestBurst is how many keyframe requests are passed to a
	// track's provider (KeyFrameProvider) at once, after a quiet spell;
	// past it, requests pass at one per KeyFrameRequestInterval. A request
	// that comes too soon is merged into one passed on as soon as the
	// bound allows, and counted as suppressed. The burst lets through the
	// few requests a server makes in quick succession for reasons of its
	// own (LiveKit asks once when a track starts, then once for each new
	// subscriber, again while one waits), so that none waits for an
	// unrelated one's interval.
	KeyFrameRequestBurst = 3
	// KeyFrameRequestInterval is the time one request adds to the bound:
	// over a long flood, at most one request per interval reaches the
	// provider.
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
	// when KeyFrameRequestBurst requests had passed in the intervals
	// before (see KeyFrameRequestBurst).
	Suppressed uint64
	// ReplayedFrames and ReplayedBytes count the frames a replaying
	// provider gave that were sent again.
	ReplayedFrames uint64
	ReplayedBytes  uint64
	// DroppedReplayFrames counts replayed frames not sent because their
	// replay passed MaxKeyFrameReplayBytes.
	DroppedReplayFrames uint64
}

// keyFrameLimiter merges keyframe requests that come too fast. It is a
// token bucket of KeyFrameRequestBurst requests refilled at one per
// KeyFrameRequestInterval, kept as the time at which the bucket is full
// again (full): each request forwarded moves it an interval on, and a
// request may pass while it lies less than a burst of intervals ahead.
type keyFrameLimiter struct {
	mu        sync.Mutex
	full      time.Time   // when the bucket is full again
	pending   bool        // a request waits for the bound to allow it
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
	if now.Before(l.nextLocked()) {
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
	l.forwardLocked(now)
	return true
}

// nextLocked is the first time a request may be forwarded.
func (l *keyFrameLimiter) nextLocked() time.Time {
	return l.full.Add(-(KeyFrameRequestBurst - 1) * KeyFrameRequestInterval)
}

func (l *keyFrameLimiter) forwardLocked(now time.Time) {
	if l.full.Before(now) {
		l.full = now
	}
	l.full = l.full.Add(KeyFrameRequestInterval)
	l.pending = false
	l.waiting.Store(false)
	l.forwarded.Add(1)
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
	if !l.pending || now.Before(l.nextLocked()) {
		return false
	}
	l.forwardLocked(now)
	return true
}

// dueAt returns when a waiting request may be forwarded, if one waits.
func (l *keyFrameLimiter) dueAt() (time.Time, bool) {
	if !l.waiting.Load() {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextLocked(), l.pending
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

// requestKeyFrame passes a keyframe request to the provider, unless the
// bound (KeyFrameRequestBurst) holds it: it is then passed as soon as the
// bound allows, by the writer (see forwardDueKeyFrame).
func (s *LocalSampleTrack) requestKeyFrame() {
	if s.keyFrames.request(time.Now()) {
		s.forwardKeyFrame()
	}
}

// forwardDueKeyFrame passes on a request that waited for the bound.
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
		// A writer waiting for its next sample sends the replay now
		// rather than after it.
		select {
		case s.keyFrameWake <- struct{}{}:
		default:
		}
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
