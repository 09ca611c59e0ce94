package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/livekit/server-sdk-go/pkg/media/resample"
	"github.com/livekit/server-sdk-go/pkg/media/wav"
)

// wavChunk is how much of a WAV file WriteWAV converts and queues at a time.
const wavChunk = 100 * time.Millisecond

// WriteWAV queues the audio of the WAV file r (any encoding pkg/media/wav
// reads) as one utterance, waiting for room in the queue as WriteSample
// does, and returns once the last of it is queued (WaitForPlayout then
// waits for it to be sent). Audio at another rate than the track's is
// resampled (the file's rate must be 8,000 to 48,000 Hz); mono is doubled
// for a stereo track, the channels are averaged for a mono track, and a
// stereo track takes the first two of a file of more channels.
//
// ClearQueue ends it: WriteWAV returns ErrQueueCleared and queues nothing
// more of the file. When ctx ends, what was queued stays queued and
// ctx's error is returned.
func (t *PCMLocalTrack) WriteWAV(ctx context.Context, r io.Reader) error {
	in, err := wav.NewReader(r)
	if err != nil {
		return err
	}
	var rs *resample.Resampler
	if in.SampleRate() != t.sourceRate {
		if rs, err = resample.New(in.SampleRate(), t.sourceRate, t.channels); err != nil {
			return fmt.Errorf("media: a WAV file at %d Hz cannot be resampled for a track at %d Hz: %w", in.SampleRate(), t.sourceRate, err)
		}
	}
	frames := max(1, int(time.Duration(in.SampleRate())*wavChunk/time.Second))
	buf := make([]int16, frames*in.Channels())
	var conv, out []int16
	u := &utterance{}
	for {
		n, rerr := in.Read(buf)
		if n > 0 {
			conv = remix(conv[:0], buf[:n], in.Channels(), t.channels)
			pcm := conv
			if rs != nil {
				out = rs.Process(out[:0], conv)
				pcm = out
			}
			if err := t.write(ctx, pcm, u); err != nil {
				return err
			}
		}
		switch {
		case errors.Is(rerr, io.EOF):
			if rs != nil {
				if err := t.write(ctx, rs.Flush(out[:0]), u); err != nil {
					return err
				}
			}
			return nil
		case rerr != nil:
			return fmt.Errorf("media: reading the WAV file: %w", rerr)
		}
	}
}

// remix appends the frames of pcm (from channels) to dst as to channels
// (1 or 2).
func remix(dst, pcm []int16, from, to int) []int16 {
	if from == to {
		return append(dst, pcm...)
	}
	for i := 0; i+from <= len(pcm); i += from {
		switch {
		case to == 2 && from == 1:
			dst = append(dst, pcm[i], pcm[i])
		case to == 2:
			dst = append(dst, pcm[i], pcm[i+1])
		default:
			var sum int
			for _, s := range pcm[i : i+from] {
				sum += int(s)
			}
			dst = append(dst, int16(sum/from))
		}
	}
	return dst
}

// WAVWriter is a PCMRemoteTrackWriter that writes what it is given as a
// WAV file of 16-bit PCM: a remote track's audio recorded.
type WAVWriter struct {
	mu       sync.Mutex
	w        *wav.Writer
	owned    io.Closer // the file CreateWAVFile opened
	rate     int
	channels int
	closed   bool
	err      error
}

// NewWAVWriter writes a WAV file of PCM at sampleRate with channels to w
// (the rate and channels of the remote track that writes into it: see
// PCMRemoteTrack.SampleRate and Channels). When w can seek (an *os.File),
// Close writes the real sizes into the header; otherwise they stay
// "unknown", which readers take as "to the end of the file". Close does
// not close w.
func NewWAVWriter(w io.Writer, sampleRate, channels int) (*WAVWriter, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("media: %d channels: a remote track writes 1 or 2", channels)
	}
	ww, err := wav.NewWriter(w, sampleRate, channels)
	if err != nil {
		return nil, err
	}
	return &WAVWriter{w: ww, rate: sampleRate, channels: channels}, nil
}

// CreateWAVFile creates (or truncates) the file at path and writes a WAV
// file into it, as NewWAVWriter; Close finishes the header and closes the
// file.
func CreateWAVFile(path string, sampleRate, channels int) (*WAVWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewWAVWriter(f, sampleRate, channels)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	w.owned = f
	return w, nil
}

// WriteSample appends interleaved samples to the file. After an error,
// every later call returns it.
func (w *WAVWriter) WriteSample(pcm []int16) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrTrackClosed
	}
	if w.err == nil {
		w.err = w.w.Write(pcm)
	}
	return w.err
}

// Duration is the audio written so far.
func (w *WAVWriter) Duration() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Duration(w.w.SamplesWritten()/int64(w.channels)) * time.Second / time.Duration(w.rate)
}

// Close finishes the file (and closes it, for CreateWAVFile). It may be
// called more than once; later calls return nil.
func (w *WAVWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.w.Close()
	if w.owned != nil {
		if cerr := w.owned.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
