package media

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/pkg/media/wav"
)

// wavFile is a WAV file of pcm.
func wavFile(t testing.TB, rate, channels int, pcm []int16) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	w, err := wav.NewWriter(&b, rate, channels)
	require.NoError(t, err)
	require.NoError(t, w.Write(pcm))
	require.NoError(t, w.Close())
	return bytes.NewReader(b.Bytes())
}

// A WAV file at another rate and with other channels than the track's is
// converted: what is sent is the file's tone, at its level, as long as
// the file.
func TestWriteWAVConvertsToTheTrack(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		fileRate, fileChannels int
		fileFreqs              []float64
		rate, channels         int
	}{
		{"stereo 24 kHz to mono 16 kHz", 24000, 2, []float64{1000, 1000}, 16000, 1},
		{"mono 16 kHz to stereo 48 kHz", 16000, 1, []float64{440}, 48000, 2},
		{"stereo 48 kHz to stereo 22.05 kHz", 48000, 2, []float64{440, 1000}, 22050, 2},
		{"mono 16 kHz to mono 16 kHz", 16000, 1, []float64{1000}, 16000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			track := newTrack(t, tc.rate, tc.channels)
			file := wavFile(t, tc.fileRate, tc.fileChannels, toneAt(tc.fileRate, tc.fileRate*8/10, tc.fileFreqs...)) // 0.8 s
			p := newPuller(t, track, 48000)
			require.True(t, p.pull(10)) // the track was sending silence
			require.NoError(t, track.WriteWAV(context.Background(), file))
			require.True(t, p.pull(50)) // 1 s: the file, then silence
			start, end, ok := toneSpan(p.pcm, tc.channels, 48000, sourceLevel)
			require.True(t, ok, "the tone was sent")
			require.InDelta(t, 0.8, float64(end-start)/48000, 0.02, "as long as the file")
			settled := p.pcm[(start+4800)*tc.channels : (end-4800)*tc.channels]
			for c := range tc.channels {
				f := tc.fileFreqs[min(c, len(tc.fileFreqs)-1)]
				require.InDelta(t, 20*math.Log10(0.5), goertzel(settled, tc.channels, c, 48000, f), 1.5, "%v Hz on channel %d", f, c)
			}
		})
	}
}

// ClearQueue ends a WAV file's playout: nothing more of it is queued.
func TestWriteWAVStopsWhenTheQueueIsCleared(t *testing.T) {
	track := newTrack(t, 16000, 1, WithQueueDuration(200*time.Millisecond))
	file := wavFile(t, 16000, 1, toneAt(16000, 16000*3, 440)) // 3 s
	wrote := make(chan error, 1)
	go func() { wrote <- track.WriteWAV(context.Background(), file) }()
	require.Eventually(t, func() bool { return track.QueuedDuration() >= 190*time.Millisecond }, hangBound, time.Millisecond)
	p := newPuller(t, track, 16000)
	require.True(t, p.pull(5))
	require.Equal(t, 100*time.Millisecond, track.ClearQueue(), "5 frames were played")
	select {
	case err := <-wrote:
		require.ErrorIs(t, err, ErrQueueCleared)
	case <-time.After(hangBound):
		t.Fatal("WriteWAV went on after ClearQueue")
	}
	require.Zero(t, track.QueuedDuration(), "nothing more of the file is queued")
	before := len(p.pcm)
	require.True(t, p.pull(10))
	require.Less(t, goertzel(p.pcm[before+320:], 1, 0, 16000, 440), -40.0, "silence after the interruption")

	// Its context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _ = file.Seek(0, io.SeekStart)
	require.ErrorIs(t, track.WriteWAV(ctx, file), context.DeadlineExceeded)
	require.Equal(t, 200*time.Millisecond, track.QueuedDuration(), "what was queued stays")
}

func TestWriteWAVRefusesWhatItCannotPlay(t *testing.T) {
	track := newTrack(t, 16000, 1)
	require.ErrorIs(t, track.WriteWAV(context.Background(), bytes.NewReader([]byte("RIFF....WAVEnope"))), wav.ErrFormat)
	err := track.WriteWAV(context.Background(), wavFile(t, 96000, 1, make([]int16, 960)))
	require.ErrorContains(t, err, "96000 Hz")
	require.Zero(t, track.QueuedDuration())
}

// What a WAVWriter is given reads back from its file, with the sizes in
// the header.
func TestWAVWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	w, err := CreateWAVFile(path, 16000, 2)
	require.NoError(t, err)
	pcm := toneAt(16000, 16000/2, 440, 1000)
	for i := 0; i < len(pcm); i += 640 { // 20 ms chunks, as a remote track writes
		require.NoError(t, w.WriteSample(pcm[i:min(i+640, len(pcm))]))
	}
	require.Equal(t, 500*time.Millisecond, w.Duration())
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "a second Close")
	require.ErrorIs(t, w.WriteSample(pcm[:2]), ErrTrackClosed)

	rate, channels, dur, got := readWAV(t, path)
	require.Equal(t, 16000, rate)
	require.Equal(t, 2, channels)
	require.Equal(t, 500*time.Millisecond, dur, "the header has the real size")
	require.Equal(t, pcm, got)

	_, err = NewWAVWriter(io.Discard, 16000, 3)
	require.Error(t, err, "a remote track writes 1 or 2 channels")
	_, err = CreateWAVFile(filepath.Join(t.TempDir(), "no", "such", "dir.wav"), 16000, 1)
	require.Error(t, err)
}

// readWAV reads the WAV file at path: its rate, channels, the duration its
// header announces, and every sample.
func readWAV(t testing.TB, path string) (rate, channels int, dur time.Duration, pcm []int16) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := wav.NewReader(f)
	require.NoError(t, err)
	buf := make([]int16, 1000*r.Channels())
	for {
		n, err := r.Read(buf)
		pcm = append(pcm, buf[:n]...)
		if err == io.EOF {
			return r.SampleRate(), r.Channels(), r.Duration(), pcm
		}
		require.NoError(t, err)
	}
}
