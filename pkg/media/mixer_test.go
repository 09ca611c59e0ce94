package media

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// collect is a PCMRemoteTrackWriter that keeps what it is given.
type collect struct {
	mu     sync.Mutex
	pcm    []int16
	chunks int
	closed chan struct{}
	once   sync.Once
}

func newCollect() *collect { return &collect{closed: make(chan struct{})} }

func (c *collect) WriteSample(s []int16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pcm = append(c.pcm, s...)
	c.chunks++
	return nil
}

func (c *collect) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *collect) samples() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.pcm...)
}

func TestMixerSumsAndClips(t *testing.T) {
	m, err := newMixer(16000, 1, newCollect(), MixerOptions{}) // mixed by hand, frame by frame
	require.NoError(t, err)
	close(m.done)
	a, b, late := m.NewInput(), m.NewInput(), m.NewInput()
	require.Equal(t, 3, m.Inputs())
	fill := func(v int16, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	const frame = 160 // 10 ms
	require.NoError(t, a.WriteSample(append(fill(1000, frame), fill(30000, frame)...)))
	require.NoError(t, b.WriteSample(append(fill(2000, frame), fill(30000, frame)...)))
	require.NoError(t, late.WriteSample(fill(-5, frame-1))) // less than a frame: not played yet
	require.NoError(t, a.Close())

	m.mix()
	require.Equal(t, fill(3000, frame), m.buf, "1000 + 2000")
	m.mix()
	require.Equal(t, fill(math.MaxInt16, frame), m.buf, "30000 + 30000 saturates")
	require.Equal(t, 2, m.Inputs(), "the closed input left once played")
	require.NoError(t, b.WriteSample(fill(-30000, frame)))
	require.NoError(t, late.WriteSample(fill(-30000, 1))) // now a whole frame
	m.mix()
	want := fill(-30005, frame)   // -30000 - 5
	want[frame-1] = math.MinInt16 // -30000 - 30000, saturated
	require.Equal(t, want, m.buf)
	m.mix()
	require.Equal(t, fill(0, frame), m.buf, "all dry: silence")
}

func TestMixerWritesWholeFramesOnItsClock(t *testing.T) {
	out := newCollect()
	m, err := NewMixer(24000, 2, out, MixerOptions{Frame: 20 * time.Millisecond})
	require.NoError(t, err)
	in := m.NewInput()
	require.NoError(t, in.WriteSample(make([]int16, 960)))
	require.Eventually(t, func() bool { return len(out.samples()) >= 10*960 }, 10*time.Second, 5*time.Millisecond, "10 frames")
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "a second Close")
	<-out.closed
	require.Zero(t, len(out.samples())%960, "whole 20 ms stereo frames at 24 kHz")
}

func TestMixerInputIsBounded(t *testing.T) {
	out := newCollect()
	m, err := NewMixer(8000, 2, out, MixerOptions{Frame: 10 * time.Millisecond, Buffer: 50 * time.Millisecond})
	require.NoError(t, err)
	defer m.Close()
	in := m.NewInput()
	// A second of stereo at 8 kHz at once: the input keeps 50 ms of it.
	require.NoError(t, in.WriteSample(make([]int16, 16000)))
	require.EqualValues(t, 16000-800, in.Dropped())
	require.Error(t, in.WriteSample(make([]int16, 3)), "not whole frames")
	require.NoError(t, m.Close())
	require.Nil(t, m.NewInput(), "no input after Close")
}

func TestMixerRefusesBadArguments(t *testing.T) {
	_, err := NewMixer(16000, 3, newCollect(), MixerOptions{})
	require.Error(t, err)
	_, err = NewMixer(100, 1, newCollect(), MixerOptions{})
	require.Error(t, err)
	_, err = NewMixer(16000, 1, nil, MixerOptions{})
	require.Error(t, err)
	_, err = NewMixer(16000, 1, newCollect(), MixerOptions{Frame: time.Second})
	require.Error(t, err)
}
