package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sine returns frames of interleaved 16-bit samples: channel c carries a
// tone of freqs[c] Hz at amplitude 0.5.
func sine(rate, frames int, freqs ...float64) []int16 {
	out := make([]int16, 0, frames*len(freqs))
	for i := range frames {
		for _, f := range freqs {
			out = append(out, int16(math.Round(0.5*math.MaxInt16*math.Sin(2*math.Pi*f*float64(i)/float64(rate)))))
		}
	}
	return out
}

// readAll reads every sample of r, in chunks of n samples.
func readAll(t *testing.T, r *Reader, n int) ([]int16, error) {
	t.Helper()
	var out []int16
	buf := make([]int16, n)
	for {
		got, err := r.Read(buf)
		require.Zero(t, got%r.Channels(), "whole frames only")
		out = append(out, buf[:got]...)
		if err != nil {
			return out, err
		}
	}
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	off int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if end := s.off + len(p); end > len(s.b) {
		s.b = append(s.b, make([]byte, end-len(s.b))...)
	}
	copy(s.b[s.off:], p)
	s.off += len(p)
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		s.off = int(off)
	case io.SeekCurrent:
		s.off += int(off)
	case io.SeekEnd:
		s.off = len(s.b) + int(off)
	}
	return int64(s.off), nil
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     int
		freqs    []float64
		seekable bool
	}{
		{"mono 16 kHz, streamed", 16000, []float64{440}, false},
		{"mono 48 kHz, seekable", 48000, []float64{1000}, true},
		{"stereo 24 kHz, seekable", 24000, []float64{440, 1000}, true},
		{"stereo 44.1 kHz, streamed", 44100, []float64{300, 600}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			samples := sine(tc.rate, tc.rate/2+7, tc.freqs...)
			var file []byte
			var sb seekBuffer
			var plain bytes.Buffer
			var dst io.Writer = &plain
			if tc.seekable {
				dst = &sb
			}
			w, err := NewWriter(dst, tc.rate, len(tc.freqs))
			require.NoError(t, err)
			for off := 0; off < len(samples); {
				n := min(len(samples)-off, 1000*len(tc.freqs))
				require.NoError(t, w.Write(samples[off:off+n]))
				off += n
			}
			require.NoError(t, w.Close())
			require.NoError(t, w.Close(), "a second Close")
			require.EqualValues(t, len(samples), w.SamplesWritten())
			file = plain.Bytes()
			if tc.seekable {
				file = sb.b
				require.EqualValues(t, len(file)-8, binary.LittleEndian.Uint32(file[4:8]), "RIFF size")
				require.EqualValues(t, 2*len(samples), binary.LittleEndian.Uint32(file[40:44]), "data size")
			} else {
				require.EqualValues(t, uint32(math.MaxUint32), binary.LittleEndian.Uint32(file[40:44]), "data size unknown")
			}

			r, err := NewReader(bytes.NewReader(file))
			require.NoError(t, err)
			require.Equal(t, tc.rate, r.SampleRate())
			require.Equal(t, len(tc.freqs), r.Channels())
			require.Equal(t, 16, r.BitsPerSample())
			if tc.seekable {
				require.Equal(t, time.Duration(len(samples)/len(tc.freqs))*time.Second/time.Duration(tc.rate), r.Duration())
			}
			want := r.Duration()
			got, err := readAll(t, r, 333)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, samples, got)
			require.Equal(t, want, r.Duration(), "the header's length, however much was read")
			n, err := r.Read(make([]int16, 10))
			require.Zero(t, n)
			require.ErrorIs(t, err, io.EOF, "EOF again")
		})
	}
}

// fileOf builds a WAV file by hand: a format chunk of the given encoding
// and the raw data, with extra chunks before the data.
func fileOf(format uint16, channels, rate, bits int, extensible bool, data []byte, extra ...[]byte) []byte {
	fmtChunk := make([]byte, 16)
	code := format
	if extensible {
		fmtChunk = make([]byte, 40)
		code = formatExtensible
		binary.LittleEndian.PutUint16(fmtChunk[16:], 22)
		binary.LittleEndian.PutUint16(fmtChunk[18:], uint16(bits))
		binary.LittleEndian.PutUint16(fmtChunk[24:], format)
		copy(fmtChunk[26:], "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
	}
	binary.LittleEndian.PutUint16(fmtChunk[0:], code)
	binary.LittleEndian.PutUint16(fmtChunk[2:], uint16(channels))
	binary.LittleEndian.PutUint32(fmtChunk[4:], uint32(rate))
	binary.LittleEndian.PutUint32(fmtChunk[8:], uint32(rate*channels*bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[12:], uint16(channels*bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[14:], uint16(bits))
	var body bytes.Buffer
	body.WriteString("WAVE")
	chunk := func(id string, b []byte) {
		body.WriteString(id)
		_ = binary.Write(&body, binary.LittleEndian, uint32(len(b)))
		body.Write(b)
		if len(b)%2 == 1 {
			body.WriteByte(0)
		}
	}
	chunk("fmt ", fmtChunk)
	for _, e := range extra {
		chunk(string(e[:4]), e[4:])
	}
	chunk("data", data)
	var out bytes.Buffer
	out.WriteString("RIFF")
	_ = binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

func TestEncodingsAreConverted(t *testing.T) {
	// Samples at full scale, half scale and around zero, in each encoding.
	want := []int16{0, 16384, -16384, 32767, -32768, 1, -1}
	le := binary.LittleEndian
	var u8, s24, s32, f32, f64 []byte
	for _, v := range want {
		u8 = append(u8, byte(int(v>>8)+128))
		x := int32(v) << 8
		s24 = append(s24, byte(x), byte(x>>8), byte(x>>16))
		s32 = le.AppendUint32(s32, uint32(int32(v)<<16))
		f32 = le.AppendUint32(f32, math.Float32bits(float32(v)/math.MaxInt16))
		f64 = le.AppendUint64(f64, math.Float64bits(float64(v)/math.MaxInt16))
	}
	for _, tc := range []struct {
		name   string
		format uint16
		bits   int
		data   []byte
		want   []int16
	}{
		{"unsigned 8-bit", formatPCM, 8, u8, []int16{0, 16384, -16384, 32512, -32768, 0, -256}},
		{"24-bit", formatPCM, 24, s24, want},
		{"32-bit", formatPCM, 32, s32, want},
		{"32-bit float", formatFloat, 32, f32, []int16{0, 16384, -16384, 32767, -32767, 1, -1}},
		{"64-bit float", formatFloat, 64, f64, []int16{0, 16384, -16384, 32767, -32767, 1, -1}},
	} {
		for _, ext := range []bool{false, true} {
			name := tc.name
			if ext {
				name += ", extensible"
			}
			t.Run(name, func(t *testing.T) {
				r, err := NewReader(bytes.NewReader(fileOf(tc.format, 1, 8000, tc.bits, ext, tc.data)))
				require.NoError(t, err)
				require.Equal(t, tc.bits, r.BitsPerSample())
				got, err := readAll(t, r, 3)
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, tc.want, got)
			})
		}
	}
}

func TestChunksBeforeTheDataAreSkipped(t *testing.T) {
	data := make([]byte, 8)
	binary.LittleEndian.PutUint16(data[2:], 1234)
	file := fileOf(formatPCM, 2, 16000, 16, false, data,
		append([]byte("LIST"), []byte("INFOodd")...), // odd length: padded
		append([]byte("fact"), 0, 0, 0, 0))
	r, err := NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	got, err := readAll(t, r, 64)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, []int16{0, 1234, 0, 0}, got)
}

func TestTruncatedAndMalformedFiles(t *testing.T) {
	good := fileOf(formatPCM, 2, 16000, 16, false, make([]byte, 400))

	t.Run("ends before the header said", func(t *testing.T) {
		r, err := NewReader(bytes.NewReader(good[:len(good)-101]))
		require.NoError(t, err)
		got, err := readAll(t, r, 64)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Len(t, got, (400-101)/4*2, "every whole frame")
	})
	t.Run("streamed, ends inside a frame", func(t *testing.T) {
		f := bytes.Clone(good)
		binary.LittleEndian.PutUint32(f[40:], math.MaxUint32)
		r, err := NewReader(bytes.NewReader(f[:len(f)-1]))
		require.NoError(t, err)
		got, err := readAll(t, r, 64)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Len(t, got, 99*2)
	})
	t.Run("streamed, whole frames", func(t *testing.T) {
		f := bytes.Clone(good)
		binary.LittleEndian.PutUint32(f[40:], 0)
		r, err := NewReader(bytes.NewReader(f))
		require.NoError(t, err)
		require.Zero(t, r.Duration(), "unknown")
		got, err := readAll(t, r, 64)
		require.ErrorIs(t, err, io.EOF)
		require.Len(t, got, 200)
	})
	t.Run("a buffer smaller than a frame", func(t *testing.T) {
		r, err := NewReader(bytes.NewReader(good))
		require.NoError(t, err)
		_, err = r.Read(make([]int16, 1))
		require.Error(t, err)
	})
	bad := map[string][]byte{
		"empty":             {},
		"not RIFF":          append([]byte("RIFX"), good[4:]...),
		"not WAVE":          append(append(bytes.Clone(good[:8]), "AVI "...), good[12:]...),
		"no data chunk":     good[:36],
		"data before fmt":   append([]byte("RIFF\x10\x00\x00\x00WAVE"), "data\x00\x00\x00\x00"...),
		"compressed":        fileOf(2, 1, 8000, 4, false, make([]byte, 8)),
		"12-bit":            fileOf(formatPCM, 1, 8000, 12, false, make([]byte, 8)),
		"no channels":       fileOf(formatPCM, 0, 8000, 16, false, make([]byte, 8)),
		"too many channels": fileOf(formatPCM, MaxChannels+1, 8000, 16, false, make([]byte, 18)),
		"rate 0":            fileOf(formatPCM, 1, 0, 16, false, make([]byte, 8)),
		"short fmt":         append([]byte("RIFF\x18\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00"), "data\x00\x00\x00\x00"...),
		"huge fmt":          append([]byte("RIFF\x18\x00\x00\x00WAVEfmt \x00\x00\x01\x00"), make([]byte, 32)...),
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(f))
			require.ErrorIs(t, err, ErrFormat)
		})
	}
	t.Run("block align that disagrees", func(t *testing.T) {
		f := bytes.Clone(good)
		binary.LittleEndian.PutUint16(f[32:], 3)
		_, err := NewReader(bytes.NewReader(f))
		require.ErrorIs(t, err, ErrFormat)
	})
}

func TestWriterRefusesBadInput(t *testing.T) {
	_, err := NewWriter(io.Discard, 16000, 0)
	require.Error(t, err)
	_, err = NewWriter(io.Discard, 0, 1)
	require.Error(t, err)
	w, err := NewWriter(io.Discard, 16000, 2)
	require.NoError(t, err)
	require.Error(t, w.Write([]int16{1, 2, 3}), "not whole frames")
	require.NoError(t, w.Close())
	require.Error(t, w.Write([]int16{1, 2}), "closed")
}

// ffmpeg runs FFmpeg, the independent implementation the files are checked
// against; `make deps` installs it.
func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that runs ffmpeg")
	}
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not found: `make deps` installs it (apt-get install ffmpeg)")
	}
	out, err := exec.Command(bin, append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
	require.NoError(t, err, "ffmpeg %v: %s", args, out)
}

// TestFFmpegReadsWhatIsWrittenAndWritesWhatIsRead checks both directions
// against FFmpeg: it decodes the writer's file (seekable and streamed) to
// the same samples, and the reader gives FFmpeg's own 16-bit decoding of
// the files FFmpeg writes in each encoding.
func TestFFmpegReadsWhatIsWrittenAndWritesWhatIsRead(t *testing.T) {
	dir := t.TempDir()
	samples := sine(24000, 12000, 440, 1000)
	for _, seekable := range []bool{true, false} {
		path := filepath.Join(dir, "ours.wav")
		var buf bytes.Buffer
		if seekable {
			f, err := os.Create(path)
			require.NoError(t, err)
			w, err := NewWriter(f, 24000, 2)
			require.NoError(t, err)
			require.NoError(t, w.Write(samples))
			require.NoError(t, w.Close())
			require.NoError(t, f.Close())
		} else {
			w, err := NewWriter(&buf, 24000, 2)
			require.NoError(t, err)
			require.NoError(t, w.Write(samples))
			require.NoError(t, w.Close())
			require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
		}
		raw := filepath.Join(dir, "ours.raw")
		ffmpeg(t, "-i", path, "-f", "s16le", "-acodec", "pcm_s16le", raw)
		b, err := os.ReadFile(raw)
		require.NoError(t, err)
		got := make([]int16, len(b)/2)
		require.NoError(t, binary.Read(bytes.NewReader(b), binary.LittleEndian, got))
		require.Equal(t, samples, got, "FFmpeg's decoding of our file (seekable %v)", seekable)
	}

	src := filepath.Join(dir, "src.wav")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=0.5", "-ac", "2", "-acodec", "pcm_s16le", src)
	ref := filepath.Join(dir, "ref.raw")
	for _, codec := range []string{"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"} {
		t.Run(codec, func(t *testing.T) {
			enc := filepath.Join(dir, codec+".wav")
			ffmpeg(t, "-i", src, "-acodec", codec, enc)
			ffmpeg(t, "-i", enc, "-f", "s16le", "-acodec", "pcm_s16le", ref)
			b, err := os.ReadFile(ref)
			require.NoError(t, err)
			want := make([]int16, len(b)/2)
			require.NoError(t, binary.Read(bytes.NewReader(b), binary.LittleEndian, want))
			f, err := os.Open(enc)
			require.NoError(t, err)
			defer f.Close()
			r, err := NewReader(f)
			require.NoError(t, err)
			require.Equal(t, 22050, r.SampleRate())
			require.Equal(t, 2, r.Channels())
			got, err := readAll(t, r, 4096)
			require.True(t, errors.Is(err, io.EOF), "%v", err)
			require.Len(t, got, len(want))
			for i := range want {
				// FFmpeg's conversions round as it likes: at most one step
				// apart (8-bit: the same, as both shift).
				require.InDelta(t, want[i], got[i], 1, "sample %d", i)
			}
		})
	}
}
