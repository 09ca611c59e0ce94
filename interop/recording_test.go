package interop_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/livekit/server-sdk-go/interop"
	"github.com/livekit/server-sdk-go/pkg/recorder"
)

// ivfSummary is what a recorded VP8 file holds, read back frame by frame.
type ivfSummary struct {
	frames, keyframes int
	sizes             map[string]int // keyframe sizes
}

// readVP8IVF reads a recorded VP8 IVF file and checks each frame's header:
// the file starts with a keyframe, keyframes carry the VP8 start code and a
// size, and every frame's first partition fits in the frame.
func readVP8IVF(t *testing.T, path string) ivfSummary {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, hdr, err := mediaparse.NewIVFReader(f)
	require.NoError(t, err, path)
	require.Equal(t, "VP80", hdr.FourCC, path)
	s := ivfSummary{sizes: map[string]int{}}
	for {
		frame, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s, frame %d", path, s.frames)
		require.GreaterOrEqual(t, len(frame), 3, "%s, frame %d: too short for a VP8 frame tag", path, s.frames)
		tag := uint32(frame[0]) | uint32(frame[1])<<8 | uint32(frame[2])<<16
		key := tag&1 == 0
		firstPart := int(tag >> 5)
		header := 3
		if key {
			w, h, ok := mediaparse.VP8Dimensions(frame)
			require.True(t, ok, "%s, frame %d: a keyframe without a valid header", path, s.frames)
			s.sizes[fmt.Sprintf("%dx%d", w, h)]++
			s.keyframes++
			header = 10
		} else {
			require.NotZero(t, s.frames, "%s: the first frame is not a keyframe", path)
		}
		require.LessOrEqual(t, header+firstPart, len(frame), "%s, frame %d: first partition (%d bytes) overruns the frame (%d)", path, s.frames, firstPart, len(frame))
		s.frames++
	}
	return s
}

// readOggOpus reads a recorded Ogg Opus file and returns its packets and
// their total duration, each packet's duration taken from its TOC.
func readOggOpus(t *testing.T, path string) (packets int, d time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := mediaparse.NewOggOpusReader(f)
	require.NoError(t, err, path)
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return packets, d
		}
		require.NoError(t, err, "%s, packet %d", path, packets)
		pd, err := mediaparse.OpusPacketDuration(p)
		require.NoError(t, err, "%s, packet %d", path, packets)
		d += pd
		packets++
	}
}

type outboundStats struct {
	Kind          string `json:"kind"`
	Codec         string `json:"codec"`
	PacketsSent   int    `json:"packetsSent"`
	FramesEncoded int    `json:"framesEncoded"`
	FramesSent    int    `json:"framesSent"`
}

// TestMediaPeerToGo has the peer publish a camera and a microphone and
// checks that the Go SDK records them with pkg/recorder into files that
// read back whole, at the size the peer sent, with at least 95% of the
// frames and packets the peer sent while the recording was under way.
func TestMediaPeerToGo(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		dir := t.TempDir()
		rr, err := recorder.NewRoomRecorder(dir)
		require.NoError(t, err)
		var mu sync.Mutex
		files := map[string]*recorder.RecordedFile{} // by mime type
		rr.OnRecordingStarted(func(f *recorder.RecordedFile) {
			mu.Lock()
			files[f.MimeType] = f
			mu.Unlock()
		})
		r := joinGo(t, srv, room, participant{identity: "go-recorder"}, rr.Callback())

		peer := startPeer(t, kind)
		me := "peer-" + kind
		joinPeer(t, peer, srv, room, participant{identity: me})
		require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "publish", map[string]any{
			"video": true, "audio": true, "width": 320, "height": 240, "fps": 30, "videoCodec": "vp8",
		}, nil))

		file := func(mime string) *recorder.RecordedFile {
			mu.Lock()
			defer mu.Unlock()
			return files[mime]
		}
		// Frames sent before the recording's first keyframe (while the
		// subscription is set up) never reach it, so what the peer sends is
		// counted from when both recordings are under way.
		ok := waitFor(60*time.Second, func() bool {
			v, a := file("video/VP8"), file("audio/opus")
			return v != nil && a != nil && v.Stats().FramesWritten > 0 && a.Stats().FramesWritten > 0
		})
		require.True(t, ok, "recordings did not start: %v, %v", describe(file("video/VP8")), describe(file("audio/opus")))
		v0, a0 := file("video/VP8").Stats().FramesWritten, file("audio/opus").Stats().FramesWritten
		sent0 := peerSent(t, peer)

		// Record about three seconds more.
		ok = waitFor(60*time.Second, func() bool {
			return file("video/VP8").Stats().FramesWritten-v0 >= 90 && file("audio/opus").Stats().FramesWritten-a0 >= 150
		})
		require.True(t, ok, "recordings did not reach 90 more video frames and 150 more audio packets: %v, %v",
			describe(file("video/VP8")), describe(file("audio/opus")))

		require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "stopPublishing", nil, nil))
		// Once the last video frames are in, the peer's counts are taken.
		// (Audio does not stop: rtc-node's audio source goes on sending
		// silence when nothing is captured. Its counts are read after the
		// peer's, so packets in flight count for the recording.)
		last := -1
		waitFor(10*time.Second, func() bool {
			time.Sleep(300 * time.Millisecond)
			n := file("video/VP8").Stats().FramesWritten
			stable := n == last
			last = n
			return stable
		})
		sent1 := peerSent(t, peer)
		v1, a1 := file("video/VP8").Stats().FramesWritten, file("audio/opus").Stats().FramesWritten
		r.Disconnect()
		require.NoError(t, rr.Close())
		t.Logf("%s peer sent %+v, then %+v; recorded %d video frames and %d audio packets, then %d and %d",
			kind, sent0, sent1, v0, a0, v1, a1)

		sentVideo, gotVideo := sent1.video.FramesSent-sent0.video.FramesSent, v1-v0
		assert.GreaterOrEqual(t, gotVideo*100, sentVideo*95,
			"the recording got %d of the %d frames the peer sent while it was under way", gotVideo, sentVideo)
		sentAudio, gotAudio := sent1.audio.PacketsSent-sent0.audio.PacketsSent, a1-a0
		assert.GreaterOrEqual(t, gotAudio*100, sentAudio*95,
			"the recording got %d of the %d audio packets the peer sent while it was under way", gotAudio, sentAudio)

		v := file("video/VP8")
		require.NoError(t, v.Err)
		vs := v.Stats()
		t.Logf("video recording %s: %+v", filepath.Base(v.Path), vs)
		sum := readVP8IVF(t, v.Path)
		t.Logf("video file: %d frames, %d keyframes, keyframe sizes %v", sum.frames, sum.keyframes, sum.sizes)
		assert.Equal(t, vs.FramesWritten, sum.frames, "frames in the file against the recorder's count")
		assert.Equal(t, me, v.Participant)
		assert.Equal(t, map[string]int{"320x240": sum.keyframes}, sum.sizes, "keyframe sizes")

		a := file("audio/opus")
		require.NoError(t, a.Err)
		as := a.Stats()
		t.Logf("audio recording %s: %+v", filepath.Base(a.Path), as)
		packets, d := readOggOpus(t, a.Path)
		// The writer fills gaps with empty frames, so the file may hold more
		// packets than were received.
		assert.GreaterOrEqual(t, packets, as.FramesWritten, "packets in the file against the recorder's count")
		assert.GreaterOrEqual(t, d, 3*time.Second, "recorded audio")
	})
}

// sentCounts are a peer's outbound counters.
type sentCounts struct{ video, audio outboundStats }

func peerSent(t *testing.T, peer *interop.Peer) sentCounts {
	t.Helper()
	var out struct {
		Outbound []outboundStats `json:"outbound"`
	}
	require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "stats", nil, &out))
	var c sentCounts
	for _, o := range out.Outbound {
		switch o.Kind {
		case "video":
			c.video = o
		case "audio":
			c.audio = o
		}
	}
	return c
}

func describe(f *recorder.RecordedFile) string {
	if f == nil {
		return "not started"
	}
	return fmt.Sprintf("%s %+v", f.TrackName, f.Stats())
}
