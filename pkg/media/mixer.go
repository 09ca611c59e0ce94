package media

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// DefaultMixerBuffer is the most audio a Mixer input holds when
// NewMixer is not told otherwise: past it, the oldest is dropped.
const DefaultMixerBuffer = 200 * time.Millisecond

// MixerOptions configures a Mixer.
type MixerOptions struct {
	// Frame is the duration of each chunk the mixer writes (10 ms when
	// zero; at most 100 ms).
	Frame time.Duration
	// Buffer bounds the audio each input holds (DefaultMixerBuffer when
	// zero).
	Buffer time.Duration
	// Log receives what the mixer logs (nothing when unset).
	Log logr.Logger
}

// Mixer sums several PCM streams (a meeting's participants, each a
// PCMRemoteTrack writing into an input) into one, written to out every
// frame from a clock of the mixer's own: a transcriber gets one steady
// stream. Inputs are added and removed while it runs. Each input holds a
// bounded buffer: an input whose writer runs ahead loses its oldest
// audio, one that runs dry plays silence. The sum saturates at the limits
// of 16 bits rather than wrap.
type Mixer struct {
	rate, channels int
	frameSamples   int // per chunk, all channels
	frame          time.Duration
	limit          int // samples an input holds
	out            PCMRemoteTrackWriter
	log            logr.Logger

	mu     sync.Mutex
	inputs map[*MixerInput]struct{}
	closed bool

	acc  []int32
	buf  []int16
	stop chan struct{}
	done chan struct{}
}

// MixerInput is one stream of a Mixer; it is a PCMRemoteTrackWriter, so a
// PCMRemoteTrack can write into it.
type MixerInput struct {
	m       *Mixer
	queue   ring   // under m.mu
	primed  bool   // a whole frame came: the input plays
	closing bool   // removed once what it holds is played
	dropped uint64 // samples dropped for the bound
}

// NewMixer starts a mixer writing sampleRate PCM (8,000 to 48,000 Hz) of
// channels (1 or 2) to out. Its inputs take PCM of the same rate and
// channels (a PCMRemoteTrack with WithTargetSampleRate and
// WithTargetChannels).
func NewMixer(sampleRate, channels int, out PCMRemoteTrackWriter, opts MixerOptions) (*Mixer, error) {
	m, err := newMixer(sampleRate, channels, out, opts)
	if err != nil {
		return nil, err
	}
	go m.run()
	return m, nil
}

// newMixer is NewMixer without its clock: nothing is mixed until run.
func newMixer(sampleRate, channels int, out PCMRemoteTrackWriter, opts MixerOptions) (*Mixer, error) {
	if out == nil {
		return nil, errors.New("media: NewMixer needs a writer")
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("media: %d channels: 1 or 2", channels)
	}
	if sampleRate < 8000 || sampleRate > 48000 {
		return nil, fmt.Errorf("media: sample rate %d: 8000 to 48000 Hz", sampleRate)
	}
	if opts.Frame == 0 {
		opts.Frame = 10 * time.Millisecond
	}
	if opts.Buffer == 0 {
		opts.Buffer = DefaultMixerBuffer
	}
	if opts.Frame < time.Millisecond || opts.Frame > 100*time.Millisecond || opts.Buffer < opts.Frame {
		return nil, fmt.Errorf("media: mixer frame %s, buffer %s: a frame of 1 to 100 ms, a buffer of at least a frame", opts.Frame, opts.Buffer)
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	perChannel := int(int64(sampleRate) * int64(opts.Frame) / int64(time.Second))
	m := &Mixer{
		rate: sampleRate, channels: channels,
		frameSamples: perChannel * channels,
		frame:        opts.Frame,
		limit:        int(int64(sampleRate)*int64(opts.Buffer)/int64(time.Second)) * channels,
		out:          out,
		log:          opts.Log,
		inputs:       map[*MixerInput]struct{}{},
		acc:          make([]int32, perChannel*channels),
		buf:          make([]int16, perChannel*channels),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	return m, nil
}

// NewInput adds a stream to the mix; it plays once it has a whole frame.
// It returns nil once the mixer is closed.
func (m *Mixer) NewInput() *MixerInput {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	in := &MixerInput{m: m, queue: newRing(m.limit)}
	m.inputs[in] = struct{}{}
	return in
}

// Inputs is the number of streams in the mix.
func (m *Mixer) Inputs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inputs)
}

// WriteSample adds interleaved PCM to the input. It never waits: past the
// input's buffer, the oldest samples are dropped.
func (in *MixerInput) WriteSample(pcm []int16) error {
	m := in.m
	if len(pcm)%m.channels != 0 {
		return fmt.Errorf("media: %d samples are no whole number of frames of %d channels", len(pcm), m.channels)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.closing {
		return errors.New("media: write to a closed mixer input")
	}
	if over := len(pcm) - m.limit; over > 0 {
		in.dropped += uint64(over)
		pcm = pcm[over:]
	}
	if over := len(pcm) - in.queue.free(); over > 0 {
		in.dropped += uint64(in.queue.discard(over))
	}
	in.queue.push(pcm)
	if in.queue.size >= m.frameSamples {
		in.primed = true
	}
	return nil
}

// Dropped is the samples the input lost to its bound.
func (in *MixerInput) Dropped() uint64 {
	in.m.mu.Lock()
	defer in.m.mu.Unlock()
	return in.dropped
}

// Close removes the input from the mix once what it holds has been
// played.
func (in *MixerInput) Close() error {
	in.m.mu.Lock()
	defer in.m.mu.Unlock()
	in.closing = true
	if in.queue.size == 0 {
		delete(in.m.inputs, in)
	}
	return nil
}

// Close stops the mixer and closes out; it returns once the mixer's
// goroutine has ended. It may be called more than once.
func (m *Mixer) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	return m.out.Close()
}

func (m *Mixer) run() {
	defer close(m.done)
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := 1; ; n++ {
		timer.Reset(time.Until(start.Add(time.Duration(n) * m.frame)))
		select {
		case <-m.stop:
			return
		case <-timer.C:
		}
		m.mix()
		if err := m.out.WriteSample(m.buf); err != nil {
			m.log.V(1).Info("the mixer's writer failed; stopping", "error", err.Error())
			return
		}
	}
}

// mix sums one frame of every primed input into m.buf.
func (m *Mixer) mix() {
	clear(m.acc)
	m.mu.Lock()
	for in := range m.inputs {
		if !in.primed {
			continue
		}
		n := in.queue.pop(m.buf)
		for i, v := range m.buf[:n] {
			m.acc[i] += int32(v)
		}
		if in.queue.size == 0 {
			in.primed = false // ran dry: wait for a whole frame again
			if in.closing {
				delete(m.inputs, in)
			}
		}
	}
	m.mu.Unlock()
	for i, v := range m.acc {
		m.buf[i] = int16(max(math.MinInt16, min(math.MaxInt16, v)))
	}
}
