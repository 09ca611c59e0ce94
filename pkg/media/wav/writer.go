package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrTooLong is returned by Write when the audio would no longer fit the
// 4 GiB a WAV file can describe.
var ErrTooLong = errors.New("wav: past the 4 GiB a WAV file can hold")

// headerSize is the size of the header Writer writes.
const headerSize = 44

// Writer writes interleaved signed 16-bit PCM as a WAV file.
type Writer struct {
	w         io.Writer
	channels  int
	dataBytes uint32
	closed    bool
	buf       []byte
	err       error
}

// NewWriter writes the header of a WAV file of 16-bit PCM at sampleRate
// (1 Hz to MaxSampleRate) with channels (1 to MaxChannels) to w. When w is
// also an io.Seeker, Close writes the real sizes into the header; otherwise
// they stay "unknown" (0xFFFFFFFF), as streaming writers leave them, which
// readers (this one, FFmpeg) take to mean "to the end of the file".
func NewWriter(w io.Writer, sampleRate, channels int) (*Writer, error) {
	if channels < 1 || channels > MaxChannels {
		return nil, fmt.Errorf("wav: %d channels: 1 to %d are written", channels, MaxChannels)
	}
	if sampleRate < 1 || sampleRate > MaxSampleRate {
		return nil, fmt.Errorf("wav: sample rate %d: 1 to %d Hz are written", sampleRate, MaxSampleRate)
	}
	wr := &Writer{w: w, channels: channels}
	if _, err := w.Write(header(sampleRate, channels, math.MaxUint32)); err != nil {
		return nil, err
	}
	return wr, nil
}

// header is the RIFF header of 16-bit PCM with dataBytes of samples
// (math.MaxUint32: unknown).
func header(sampleRate, channels int, dataBytes uint32) []byte {
	h := make([]byte, headerSize)
	riffBytes := uint32(math.MaxUint32)
	if dataBytes != math.MaxUint32 {
		riffBytes = dataBytes + headerSize - 8
	}
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], riffBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], formatPCM)
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(h[28:], uint32(sampleRate*channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}

// Write writes interleaved samples; their number must be a multiple of the
// channels.
func (w *Writer) Write(samples []int16) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("wav: write to a closed writer")
	}
	if len(samples)%w.channels != 0 {
		return fmt.Errorf("wav: %d samples are no whole number of frames of %d channels", len(samples), w.channels)
	}
	n := 2 * len(samples)
	if uint64(w.dataBytes)+uint64(n)+headerSize > math.MaxUint32-1 {
		return ErrTooLong
	}
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	for i, v := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = err
		return err
	}
	w.dataBytes += uint32(n)
	return nil
}

// Close ends the file: with a seekable writer, the header gets the real
// sizes. It does not close the underlying writer. It may be called more
// than once.
func (w *Writer) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	ws, ok := w.w.(io.WriteSeeker)
	if !ok {
		return nil
	}
	end, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not seekable after all (a pipe): the sizes stay unknown
	}
	h := header(0, w.channels, w.dataBytes)
	if _, err := ws.Seek(4, io.SeekStart); err != nil {
		return err
	}
	if _, err := ws.Write(h[4:8]); err != nil {
		return err
	}
	if _, err := ws.Seek(40, io.SeekStart); err != nil {
		return err
	}
	if _, err := ws.Write(h[40:44]); err != nil {
		return err
	}
	_, err = ws.Seek(end, io.SeekStart)
	return err
}

// SamplesWritten is how many samples (of all channels) were written.
func (w *Writer) SamplesWritten() int64 { return int64(w.dataBytes) / 2 }
