package lksdk

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// ivfFrames splits an IVF file into its 32-byte header and its frames
// (each with its 12-byte frame header).
func ivfFrames(t testing.TB, data []byte) (header []byte, frames [][]byte) {
	t.Helper()
	hl := int(binary.LittleEndian.Uint16(data[6:8]))
	header, data = data[:hl], data[hl:]
	for len(data) >= 12 {
		n := 12 + int(binary.LittleEndian.Uint32(data[:4]))
		require.LessOrEqual(t, n, len(data))
		frames = append(frames, data[:n])
		data = data[n:]
	}
	return header, frames
}

// ivfWithPTS returns the first n frames of vp8.ivf with frame i's
// timestamp set to pts(i).
func ivfWithPTS(t testing.TB, n int, pts func(i int) uint64) []byte {
	header, frames := ivfFrames(t, testdataBytes(t, "vp8.ivf"))
	out := append([]byte(nil), header...)
	for i, f := range frames[:n] {
		f = append([]byte(nil), f...)
		binary.LittleEndian.PutUint64(f[4:12], pts(i))
		out = append(out, f...)
	}
	return out
}

// writeToEnd publishes data as a reader track bound to a capture, and
// returns the error its write ended with and how many frames (distinct
// RTP timestamps) it sent. An error is checked to be in the track's log.
func writeToEnd(t *testing.T, data []byte, mime string) (error, int) {
	t.Helper()
	done := make(chan error, 1)
	track, err := NewLocalReaderTrack(io.NopCloser(bytes.NewReader(data)), mime,
		ReaderTrackWithOnWriteError(func(err error) { done <- err }))
	require.NoError(t, err)
	var logMu sync.Mutex
	var logged strings.Builder
	l := funcr.New(func(prefix, args string) {
		logMu.Lock()
		defer logMu.Unlock()
		logged.WriteString(args + "\n")
	}, funcr.Options{})
	track.log.Store(&l)
	defer func() {
		select {
		case err := <-done:
			if err != nil {
				logMu.Lock()
				defer logMu.Unlock()
				require.Contains(t, logged.String(), err.Error(), "the error is logged")
			}
		default: // the write did not end; reported already
		}
	}()
	c := &capture{codecs: allTestCodecs, keep: true}
	_, err = track.Bind(c)
	require.NoError(t, err)
	defer track.close()
	select {
	case err := <-done:
		done <- err // for the log check
		return err, len(c.timestamps())
	case <-time.After(20 * time.Second):
		t.Fatal("the write did not end")
		return nil, 0
	}
}

func TestCorruptIVFTimingStopsTheTrackAtTheBadFrame(t *testing.T) {
	const frames, bad = 12, 6 // frame 6's timestamp is wrong
	for name, pts := range map[string]func(i int) uint64{
		"years later": func(i int) uint64 {
			if i >= bad {
				return uint64(i) + 1<<50
			}
			return uint64(i)
		},
		"backwards": func(i int) uint64 {
			if i == bad {
				return 1
			}
			return uint64(i)
		},
		"standing still": func(i int) uint64 { return uint64(min(i, bad-2)) },
	} {
		t.Run(name, func(t *testing.T) {
			err, sent := writeToEnd(t, ivfWithPTS(t, frames, pts), webrtc.MimeTypeVP8)
			require.ErrorIs(t, err, ErrInvalidTiming)
			t.Log(err)
			// Frame bad-1's duration runs to frame bad: it cannot be timed.
			require.Equal(t, bad-1, sent, "frames sent before the bad spot")
		})
	}
	t.Run("timebase of a nanosecond", func(t *testing.T) {
		data := ivfWithPTS(t, frames, func(i int) uint64 { return uint64(i) })
		binary.LittleEndian.PutUint32(data[16:20], 1e9) // rate: 1e9 units a second
		err, sent := writeToEnd(t, data, webrtc.MimeTypeVP8)
		require.ErrorIs(t, err, ErrInvalidTiming)
		require.Zero(t, sent)
	})
	t.Run("a good file ends without error", func(t *testing.T) {
		err, sent := writeToEnd(t, ivfWithPTS(t, frames, func(i int) uint64 { return uint64(i) }), webrtc.MimeTypeVP8)
		require.NoError(t, err)
		require.Equal(t, frames, sent)
	})
}

// withSPSTiming returns sps (a NAL unit) with the VUI timing info set to
// num_units_in_tick units and time_scale scale. It finds the fields by
// writing probe values at each bit offset until the parser reads them.
func withSPSTiming(t testing.TB, sps []byte, units, scale uint32) []byte {
	t.Helper()
	rbsp := unescapeRBSP(sps)
	set := func(b []byte, off int, v uint64) {
		for i := 0; i < 64; i++ {
			bit := byte(v >> (63 - i) & 1)
			p := off + i
			b[p/8] = b[p/8]&^(0x80>>(p%8)) | bit<<(7-p%8)
		}
	}
	for off := 8; off+64 <= len(rbsp)*8; off++ {
		probe := append([]byte(nil), rbsp...)
		set(probe, off, uint64(7)<<32|uint64(7*2*13))
		info, err := mediaparse.ParseSPS(escapeRBSP(probe))
		if err != nil || info.FrameRate != 13 {
			continue
		}
		set(probe, off, uint64(units)<<32|uint64(scale))
		return escapeRBSP(probe)
	}
	t.Fatal("no VUI timing info in the SPS")
	return nil
}

func unescapeRBSP(nal []byte) []byte {
	var out []byte
	zeros := 0
	for _, b := range nal {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, b)
	}
	return out
}

func escapeRBSP(rbsp []byte) []byte {
	var out []byte
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, b)
	}
	return out
}

// h264WithBadTiming returns the first keep access units of h264.h264, then
// its second group of pictures with its SPS's timing set to units/scale.
func h264WithBadTiming(t testing.TB, keep int, units, scale uint32) []byte {
	r := mediaparse.NewAnnexBReader(bytes.NewReader(testdataBytes(t, "h264.h264")))
	var out []byte
	for i := 0; ; i++ {
		au, _, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if i >= keep && i < 120 {
			continue // the rest of the first group
		}
		if i == 120 {
			for _, nal := range codec.SplitAnnexB(au, nil) {
				if codec.NALType(nal[0]) == 7 {
					nal = withSPSTiming(t, nal, units, scale)
				}
				out = append(out, 0, 0, 0, 1)
				out = append(out, nal...)
			}
			continue
		}
		out = append(out, au...)
	}
	return out
}

func TestCorruptH264TimingStopsTheTrackAtTheBadSPS(t *testing.T) {
	const keep = 8
	for name, timing := range map[string][2]uint32{
		"years a frame":  {0xffffffff, 1},
		"zero per frame": {1, 0xffffffff},
	} {
		t.Run(name, func(t *testing.T) {
			err, sent := writeToEnd(t, h264WithBadTiming(t, keep, timing[0], timing[1]), webrtc.MimeTypeH264)
			require.ErrorIs(t, err, ErrInvalidTiming)
			t.Log(err)
			require.Equal(t, keep, sent, "frames sent before the bad SPS")
		})
	}
	t.Run("sane timing plays on", func(t *testing.T) {
		err, sent := writeToEnd(t, h264WithBadTiming(t, keep, 1, 2*30), webrtc.MimeTypeH264)
		require.NoError(t, err)
		require.Greater(t, sent, keep+100)
	})
}

// A user's provider giving a sample that lasts a year (or less than
// nothing) stops the track with ErrInvalidTiming rather than stalling it.
func TestImpossibleSampleDurationStopsTheWrite(t *testing.T) {
	for _, d := range []time.Duration{365 * 24 * time.Hour, -time.Millisecond} {
		track, c := boundTrack(t, webrtc.MimeTypeOpus, true)
		p := &durationProvider{durations: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, d, 20 * time.Millisecond}}
		done := make(chan error, 1)
		require.NoError(t, track.StartWriteWithError(p, func(err error) { done <- err }))
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrInvalidTiming, "%s", d)
		case <-time.After(5 * time.Second):
			t.Fatalf("a sample of %s stalled the write", d)
		}
		track.stopWrite()
		require.Len(t, c.timestamps(), 2, "%s", d)
	}
}

type durationProvider struct {
	BaseSampleProvider
	durations []time.Duration
	n         int
}

func (p *durationProvider) NextSample() (media.Sample, error) {
	if p.n == len(p.durations) {
		return media.Sample{}, io.EOF
	}
	p.n++
	return media.Sample{Data: []byte{0xfc, 1, 2}, Duration: p.durations[p.n-1]}, nil
}

func TestFrameDurationOptionIsChecked(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Minute} {
		_, err := NewLocalReaderTrack(io.NopCloser(bytes.NewReader(testdataBytes(t, "vp8.ivf"))), webrtc.MimeTypeVP8,
			ReaderTrackWithFrameDuration(d))
		require.ErrorIs(t, err, ErrInvalidTiming, "%s", d)
	}
}
