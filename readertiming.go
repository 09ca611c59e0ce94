package lksdk

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidTiming: a sample's duration cannot be played: a file's
// timestamps go backwards or stand still, or its timing says a frame lasts
// longer than maxSampleDuration or shorter than minFrameDuration. The track
// stops at that sample; the error is logged and passed to the write's
// completion function.
var ErrInvalidTiming = errors.New("lksdk: impossible media timing")

const (
	// maxSampleDuration bounds how long one sample may last, from any
	// provider: past it the writer would sit silent for a long time (years,
	// with a corrupt file) with no error.
	maxSampleDuration = 10 * time.Second
	// minFrameDuration bounds how short a video frame read from a file may
	// be (1000 frames a second): a shorter one is corrupt timing, which
	// would send the file as one burst.
	minFrameDuration = time.Millisecond
)

// checkSampleDuration reports a duration no provider can mean.
func checkSampleDuration(d time.Duration) error {
	if d < 0 || d > maxSampleDuration {
		return fmt.Errorf("%w: a sample lasting %s (at most %s)", ErrInvalidTiming, d, maxSampleDuration)
	}
	return nil
}

// checkFrameDuration reports a video frame duration, taken from a file's
// timing, that cannot be right; frame counts the file's frames from 0.
func checkFrameDuration(frame int, d time.Duration, from string) error {
	switch {
	case d > maxSampleDuration:
		return fmt.Errorf("%w: frame %d would last more than %s by the %s", ErrInvalidTiming, frame, maxSampleDuration, from)
	case d < minFrameDuration:
		return fmt.Errorf("%w: frame %d would last %s, less than %s, by the %s", ErrInvalidTiming, frame, d, minFrameDuration, from)
	}
	return nil
}

// ivfDuration converts units of an IVF header's timebase (num/den seconds)
// to a duration, without overflowing: a result past maxSampleDuration is
// returned as just past it.
func ivfDuration(units uint64, num, den uint32) time.Duration {
	if num == 0 || den == 0 {
		return defaultVideoFrameDuration * time.Duration(min(units, 1<<20))
	}
	secs := float64(units) * float64(num) / float64(den)
	if secs > maxSampleDuration.Seconds() {
		return maxSampleDuration + time.Nanosecond
	}
	return time.Duration(secs * float64(time.Second))
}
