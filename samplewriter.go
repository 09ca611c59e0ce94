package lksdk

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/pion/webrtc/v3/pkg/media"
)

// StartWrite sends the samples of provider as they fall due, on a goroutine
// of the track's, until the provider ends or fails (onComplete is then
// called), the track is unbound, or StartWrite is called again.
func (s *LocalSampleTrack) StartWrite(provider SampleProvider, onComplete func()) error {
	var done func(error)
	if onComplete != nil {
		done = func(error) { onComplete() }
	}
	return s.StartWriteWithError(provider, done)
}

// StartWriteWithError is StartWrite with a completion function told why
// writing ended: nil when NextSample returned io.EOF, else its error, or an
// error wrapping ErrInvalidTiming for a sample lasting less than zero or
// more than 10 s. Errors are also logged.
func (s *LocalSampleTrack) StartWriteWithError(provider SampleProvider, onComplete func(err error)) error {
	if provider == nil {
		return errors.New("lksdk: StartWrite needs a provider")
	}
	s.mu.Lock()
	if s.cancelWrite != nil {
		s.cancelWrite()
	}
	prevDone := s.writeDone
	ctx, cancel := context.WithCancel(context.Background())
	s.provider, s.cancelWrite = provider, cancel
	done := make(chan struct{})
	s.writeDone = done
	group := s.group
	s.mu.Unlock()
	run := func() {
		defer close(done)
		s.writerID.Store(curGoroutineID())
		if prevDone != nil {
			<-prevDone
		}
		s.writeLoop(ctx, provider, onComplete)
	}
	if group == nil {
		go run()
		return nil
	}
	member := group.startMember(run)
	if member == nil {
		cancel()
		close(done)
		return ErrNotConnected
	}
	s.mu.Lock()
	if s.writeDone == done {
		s.writerMember = member
	}
	s.mu.Unlock()
	return nil
}

// writeLoop paces the provider's samples on a monotonic schedule: sample n
// is sent at start + the durations of samples 0..n-1, so lateness does not
// accumulate.
func (s *LocalSampleTrack) writeLoop(ctx context.Context, provider SampleProvider, onComplete func(error)) {
	s.mu.RLock()
	binding := s.binding
	s.mu.RUnlock()
	if binding != nil && binding.waitReady(ctx, s) != nil {
		return // unbound before the connection came up
	}
	if err := provider.OnBind(); err != nil {
		s.logger().Error(err, "sample provider could not start", "track", s.id)
		return
	}
	defer func() { _ = provider.OnUnbind() }()
	audio, _ := provider.(AudioSampleProvider)
	replayer, _ := provider.(KeyFrameReplayer)
	withCtx, _ := provider.(SampleProviderWithContext)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	start := time.Now()
	var due time.Duration
	var opts SampleWriteOptions
	var level uint8
	for {
		var sample media.Sample
		var err error
		asked := time.Now()
		if withCtx != nil {
			sample, err = withCtx.NextSampleWithContext(ctx)
		} else {
			sample, err = provider.NextSample()
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = checkSampleDuration(sample.Duration)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			} else {
				s.logger().Error(err, "sample provider failed", "track", s.id)
			}
			if onComplete != nil {
				onComplete(err)
			}
			return
		}
		// A provider that kept us waiting has a gap in its media: the clock
		// jumps and the schedule starts again from now. A loop that is late
		// only because it was not scheduled catches up instead.
		paused := time.Since(asked) > pauseThreshold
		if paused {
			start = time.Now().Add(-due)
		}
		wopts := (*SampleWriteOptions)(nil)
		if audio != nil {
			level = audio.CurrentAudioLevel()
			opts.AudioLevel = &level
			wopts = &opts
		}
		if err := s.writeSample(sample, wopts, paused); err != nil {
			s.logger().V(1).Info("could not write sample", "track", s.id, "error", err)
		}
		due += sample.Duration
		if !s.waitForSample(ctx, start.Add(due), replayer, timer) {
			return
		}
	}
}

// waitForSample waits until the next sample is due, at next. A keyframe
// request passed to the provider meanwhile (or before, while a sample was
// being read and sent), or one that waited for the bound and falls due, is
// answered at once with a replay: how soon a new subscriber sees video
// does not depend on the frame rate. It returns false when ctx ended.
func (s *LocalSampleTrack) waitForSample(ctx context.Context, next time.Time, replayer KeyFrameReplayer, timer *time.Timer) bool {
	for {
		wake := next
		if held, ok := s.keyFrames.dueAt(); ok && held.Before(wake) {
			wake = held
		}
		if wait := time.Until(wake); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return false
			case <-s.keyFrameWake:
				timer.Stop()
			case <-timer.C:
			}
		}
		s.forwardDueKeyFrame()
		if replayer != nil && !s.sendReplay(ctx, replayer, timer) {
			return false
		}
		if !time.Now().Before(next) {
			return true
		}
	}
}

// close stops writing: the provider is unblocked first (closed if it can
// be, its context cancelled), then the writer is waited for.
func (s *LocalSampleTrack) close() {
	s.mu.RLock()
	p := s.provider
	s.mu.RUnlock()
	if c, ok := p.(io.Closer); ok {
		_ = c.Close()
	}
	s.stopWrite()
}

// writerStopWait bounds how long stopping a writer waits for a provider
// that neither closes nor honours its context: the writer is then left to
// end when NextSample returns.
const writerStopWait = 500 * time.Millisecond

// stopWrite stops writing from a provider and waits for it to end, unless
// it is called from the writer itself (a provider's callback), which ends
// as soon as it returns.
func (s *LocalSampleTrack) stopWrite() {
	s.mu.Lock()
	cancel, done, member := s.cancelWrite, s.writeDone, s.writerMember
	s.cancelWrite = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done == nil || s.writerID.Load() == curGoroutineID() {
		return
	}
	t := time.NewTimer(writerStopWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.logger().Info("sample provider did not return from NextSample; leaving its writer to end by itself", "track", s.id)
		if member != nil {
			member.detach()
		}
	}
}
