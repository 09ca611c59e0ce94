package lksdk_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// rxFrame is a frame as a subscriber received it: the RTP packets sharing a
// timestamp.
type rxFrame struct {
	ts            uint32
	at            time.Time
	keyframe      bool
	width, height int // of a VP8 keyframe
	bytes         int
	sum           uint64 // FNV-1a of a VP8 frame's data (payload descriptors stripped)
}

// fnv1a continues an FNV-1a hash (start with fnvOffset) over b.
func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

const fnvOffset = 14695981039346656037

// frameLog groups a subscribed track's packets into frames.
type frameLog struct {
	mime string
	mu   sync.Mutex
	list []rxFrame
	done chan struct{}
}

func logFrames(track *webrtc.TrackRemote) *frameLog {
	fl := &frameLog{mime: strings.ToLower(track.Codec().MimeType), done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		var h264 codecs.H264Packet
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					return
				}
				return
			}
			fl.add(pkt, &h264)
		}
	}()
	return fl
}

func (fl *frameLog) add(pkt *rtp.Packet, h264 *codecs.H264Packet) {
	if len(pkt.Payload) == 0 {
		return // padding the server sends to probe bandwidth: no media
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if n := len(fl.list); n == 0 || fl.list[n-1].ts != pkt.Timestamp {
		fl.list = append(fl.list, rxFrame{ts: pkt.Timestamp, at: time.Now(), sum: fnvOffset})
	}
	f := &fl.list[len(fl.list)-1]
	f.bytes += len(pkt.Payload)
	switch fl.mime {
	case "video/vp8":
		var vp8 codecs.VP8Packet
		data, err := vp8.Unmarshal(pkt.Payload)
		if err == nil {
			f.sum = fnv1a(f.sum, data)
		}
		if err == nil && vp8.S == 1 && vp8.PID == 0 && len(data) >= 10 && data[0]&1 == 0 {
			f.keyframe = true
			f.width = int(data[6]) | int(data[7]&0x3f)<<8
			f.height = int(data[8]) | int(data[9]&0x3f)<<8
		}
	case "video/vp9":
		var vp9 codecs.VP9Packet
		if _, err := vp9.Unmarshal(pkt.Payload); err == nil && vp9.B && !vp9.P {
			f.keyframe = true
		}
	case "video/h264":
		data, err := h264.Unmarshal(pkt.Payload)
		if err == nil {
			for _, nal := range splitNALs(data) {
				if len(nal) > 0 && nal[0]&0x1f == 5 {
					f.keyframe = true
				}
			}
		}
	}
}

func (fl *frameLog) frames() []rxFrame {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return append([]rxFrame(nil), fl.list...)
}

// firstKeyframe returns the first keyframe received, if any.
func (fl *frameLog) firstKeyframe() (rxFrame, bool) {
	for _, f := range fl.frames() {
		if f.keyframe {
			return f, true
		}
	}
	return rxFrame{}, false
}

// regularFrames sorts frames into those on the stream's timeline (a whole
// number of steps from the last frame, which is always a regular one) and
// those sent again for keyframe requests, which sit a few ticks after a
// regular frame. A frame that is neither is returned in offGrid.
func regularFrames(frames []rxFrame, step uint32) (regular []rxFrame, replays int, offGrid []uint32) {
	if len(frames) == 0 {
		return nil, 0, nil
	}
	anchor := frames[len(frames)-1].ts
	for _, f := range frames {
		// anchor-ts is the true distance back (under 2^31), wraparound or
		// not; ts-anchor would wrap modulo 2^32, which 3000 does not divide.
		off := (step - (anchor-f.ts)%step) % step
		switch {
		case off == 0:
			regular = append(regular, f)
		case off < step/2:
			replays++
		default:
			offGrid = append(offGrid, off)
		}
	}
	return regular, replays, offGrid
}

func splitNALs(annexB []byte) [][]byte {
	var out [][]byte
	for _, part := range strings.Split(string(annexB), "\x00\x00\x00\x01") {
		if part != "" {
			out = append(out, []byte(part))
		}
	}
	return out
}

// fileFrame is a frame of a testdata IVF file.
type fileFrame struct {
	sum      uint64 // FNV-1a of its data, as rxFrame.sum
	keyframe bool
}

// ivfFrames reads the frames of a testdata IVF file.
func ivfFrames(t testing.TB, name string) []fileFrame {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	r, _, err := mediaparse.NewIVFReader(f)
	require.NoError(t, err)
	var out []fileFrame
	for {
		data, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, fileFrame{sum: fnv1a(fnvOffset, data), keyframe: mediaparse.IsVP8Keyframe(data)})
	}
}

// framePosition returns the index of the file frame whose data is that of
// f, or -1.
func framePosition(file []fileFrame, f rxFrame) int {
	for i, ff := range file {
		if ff.sum == f.sum {
			return i
		}
	}
	return -1
}

// timelineOffset returns how many ticks frame f lies after the 3000-tick
// (30 fps) timeline of the frames in log, anchored at the last one: 0 for a
// regular frame, a few ticks for a replayed one.
func timelineOffset(frames []rxFrame, f rxFrame) uint32 {
	const step = 3000
	anchor := frames[len(frames)-1].ts
	return (step - (anchor-f.ts)%step) % step
}
