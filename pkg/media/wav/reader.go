// Package wav reads and writes WAV (RIFF/WAVE) audio as interleaved signed
// 16-bit PCM, the sample format of the SDK's PCM tracks. It is pure Go.
//
// The reader takes the usual encodings and converts them: integer PCM of 8,
// 16, 24 or 32 bits, IEEE float of 32 or 64 bits, plain or in a
// WAVE_FORMAT_EXTENSIBLE header, with up to MaxChannels channels. Chunks it
// does not need are skipped; a data chunk of unknown length (0 or
// 0xFFFFFFFF, as streaming writers leave it) is read to the end of the
// input. The writer writes 16-bit PCM and, when it can seek, the real sizes
// once it is closed.
package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// MaxChannels is the most channels a file may have.
const MaxChannels = 8

// MaxSampleRate is the highest sample rate a file may have.
const MaxSampleRate = 768000

// maxFmtChunk bounds the format chunk read into memory; real ones are 16 to
// 40 bytes.
const maxFmtChunk = 1024

// ErrFormat is returned for input that is not a WAV file the reader takes;
// the error says what is wrong.
var ErrFormat = errors.New("wav: unsupported or malformed file")

// Encodings of the format chunk.
const (
	formatPCM        = 1
	formatFloat      = 3
	formatExtensible = 0xFFFE
)

// Reader reads the samples of a WAV file.
type Reader struct {
	r          *bufio.Reader
	sampleRate int
	channels   int
	bits       int   // bits per sample in the file
	float      bool  // IEEE float samples
	remaining  int64 // bytes of the data chunk left; -1 when unknown
	dataBytes  int64 // the data chunk's size in the header; -1 when unknown
	frameBytes int
	buf        []byte
	end        error // io.EOF or io.ErrUnexpectedEOF once the audio has ended
}

// NewReader reads the header of the WAV file r up to its samples.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	var riff [12]byte
	if _, err := io.ReadFull(br, riff[:]); err != nil {
		return nil, fmt.Errorf("%w: reading the RIFF header: %w", ErrFormat, err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrFormat)
	}
	w := &Reader{r: br}
	haveFmt := false
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("%w: no data chunk: %w", ErrFormat, err)
		}
		id, size := string(hdr[0:4]), binary.LittleEndian.Uint32(hdr[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > maxFmtChunk {
				return nil, fmt.Errorf("%w: format chunk of %d bytes", ErrFormat, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, fmt.Errorf("%w: reading the format chunk: %w", ErrFormat, err)
			}
			if err := w.parseFormat(b[:size]); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data before the format chunk", ErrFormat)
			}
			w.remaining = int64(size)
			if size == 0 || size == math.MaxUint32 {
				w.remaining = -1 // written by a streaming writer: read to the end
			}
			w.dataBytes = w.remaining
			return w, nil
		default:
			if _, err := io.CopyN(io.Discard, br, int64(size)+int64(size%2)); err != nil {
				return nil, fmt.Errorf("%w: skipping chunk %q: %w", ErrFormat, id, err)
			}
		}
	}
}

func (w *Reader) parseFormat(b []byte) error {
	format := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if format == formatExtensible {
		// cbSize, valid bits, channel mask, then the sub-format GUID,
		// whose first two bytes are the format code.
		if len(b) < 40 {
			return fmt.Errorf("%w: extensible format chunk of %d bytes", ErrFormat, len(b))
		}
		format = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case format == formatPCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
	case format == formatFloat && (bits == 32 || bits == 64):
		w.float = true
	default:
		return fmt.Errorf("%w: encoding %d with %d bits per sample", ErrFormat, format, bits)
	}
	if channels < 1 || channels > MaxChannels {
		return fmt.Errorf("%w: %d channels (1 to %d are read)", ErrFormat, channels, MaxChannels)
	}
	if rate < 1 || rate > MaxSampleRate {
		return fmt.Errorf("%w: sample rate %d", ErrFormat, rate)
	}
	if blockAlign != channels*bits/8 {
		return fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrFormat, blockAlign, channels, bits)
	}
	w.channels, w.sampleRate, w.bits, w.frameBytes = channels, int(rate), bits, blockAlign
	return nil
}

// SampleRate is the file's sample rate in Hz.
func (w *Reader) SampleRate() int { return w.sampleRate }

// Channels is the file's number of channels; samples are interleaved.
func (w *Reader) Channels() int { return w.channels }

// BitsPerSample is the size of a sample in the file (Read converts every
// encoding to 16 bits).
func (w *Reader) BitsPerSample() int { return w.bits }

// Duration is the length of the audio the header announces, or 0 when it
// does not say (a streamed file).
func (w *Reader) Duration() time.Duration {
	if w.dataBytes < 0 {
		return 0
	}
	frames := w.dataBytes / int64(w.frameBytes)
	return time.Duration(frames) * time.Second / time.Duration(w.sampleRate)
}

// Read reads interleaved samples into dst, whole frames only (one sample of
// every channel): it returns a multiple of Channels. At the end of the
// audio it returns io.EOF. A file that ends before its header said, or
// inside a frame, gives io.ErrUnexpectedEOF after the last whole frame.
func (w *Reader) Read(dst []int16) (int, error) {
	if w.end != nil {
		return 0, w.end
	}
	frames := len(dst) / w.channels
	if frames == 0 {
		if len(dst) == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("wav: a buffer of %d samples holds no whole frame of %d channels", len(dst), w.channels)
	}
	want := frames * w.frameBytes
	if w.remaining >= 0 && int64(want) > w.remaining {
		want = int(w.remaining)
	}
	if want == 0 {
		w.end = io.EOF
		return 0, w.end
	}
	if cap(w.buf) < want {
		w.buf = make([]byte, want)
	}
	n, err := io.ReadFull(w.r, w.buf[:want])
	if w.remaining >= 0 {
		w.remaining -= int64(n)
	}
	whole := n - n%w.frameBytes
	w.decode(dst, w.buf[:whole])
	samples := whole / w.frameBytes * w.channels
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		w.end = io.EOF
		if w.remaining > 0 || n%w.frameBytes != 0 {
			w.end = io.ErrUnexpectedEOF
		}
	case err == nil && n%w.frameBytes != 0:
		w.end = io.ErrUnexpectedEOF // the data chunk ends inside a frame
	case err != nil:
		return samples, err
	}
	if samples == 0 && w.end != nil {
		return 0, w.end
	}
	return samples, nil
}

// decode converts the whole frames in b into dst.
func (w *Reader) decode(dst []int16, b []byte) {
	switch {
	case w.float && w.bits == 32:
		for i := range len(b) / 4 {
			dst[i] = fromFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))))
		}
	case w.float:
		for i := range len(b) / 8 {
			dst[i] = fromFloat(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case w.bits == 8:
		for i, v := range b {
			dst[i] = int16(int(v)-128) << 8
		}
	case w.bits == 16:
		for i := range len(b) / 2 {
			dst[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case w.bits == 24:
		for i := range len(b) / 3 {
			v := int32(uint32(b[3*i])<<8|uint32(b[3*i+1])<<16|uint32(b[3*i+2])<<24) >> 8
			dst[i] = round(int64(v), 8)
		}
	default: // 32-bit integers
		for i := range len(b) / 4 {
			dst[i] = round(int64(int32(binary.LittleEndian.Uint32(b[4*i:]))), 16)
		}
	}
}

// round drops the low shift bits of v, rounding to nearest, saturated.
func round(v int64, shift uint) int16 {
	v = (v + 1<<(shift-1)) >> shift
	return int16(max(math.MinInt16, min(math.MaxInt16, v)))
}

// fromFloat converts a sample of [-1, 1] (clipped outside it; NaN is
// silence).
func fromFloat(f float64) int16 {
	if f != f {
		return 0
	}
	return int16(math.Round(max(-1, min(1, f)) * math.MaxInt16))
}
