package recorder

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

func joinRoom(t *testing.T, srv *lkserver.Server, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity,
	}, cb, opts...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

func source(name string) string { return filepath.Join("..", "..", "testdata", name) }

type ivfFrame struct {
	data []byte
	pts  uint64
}

func readIVF(t *testing.T, path string) (*mediaparse.IVFHeader, []ivfFrame) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, h, err := mediaparse.NewIVFReader(f)
	require.NoError(t, err)
	var out []ivfFrame
	for {
		frame, pts, err := r.Next()
		if errors.Is(err, io.EOF) {
			return h, out
		}
		require.NoError(t, err, path)
		out = append(out, ivfFrame{append([]byte(nil), frame...), pts})
	}
}

func countAUs(t *testing.T, path string) (int, *mediaparse.SPSInfo, bool) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := mediaparse.NewAnnexBReader(f)
	n, firstKey := 0, false
	for {
		_, key, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, r.SPS(), firstKey
		}
		require.NoError(t, err, path)
		if n == 0 {
			firstKey = key
		}
		n++
	}
}

func opusDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := mediaparse.NewOggOpusReader(f)
	require.NoError(t, err)
	var total time.Duration
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			return total
		}
		require.NoError(t, err)
		d, err := mediaparse.OpusPacketDuration(pkt)
		require.NoError(t, err)
		total += d
	}
}

// checkIVFRecording compares a recorded IVF with its source: frames,
// dimensions, keyframe first, and pts on the source's 30 fps timeline.
func checkIVFRecording(t *testing.T, recorded, src string, isKey func([]byte) bool) {
	t.Helper()
	srcHeader, srcFrames := readIVF(t, source(src))
	h, frames := readIVF(t, recorded)
	require.NotEmpty(t, frames, recorded)
	require.True(t, isKey(frames[0].data), "%s begins with a keyframe", recorded)
	require.Equal(t, srcHeader.FourCC, h.FourCC)
	require.Equal(t, [2]uint16{srcHeader.Width, srcHeader.Height}, [2]uint16{h.Width, h.Height}, "dimensions of %s", recorded)
	require.EqualValues(t, 90000, h.TimebaseDenominator)
	const step = 3000 // 90 kHz ticks per frame at 30 fps
	// Frames sent again for keyframe requests sit a few ticks after a frame
	// on the timeline; every frame is within one frame of it.
	last := frames[len(frames)-1].pts
	onGrid := 0
	for _, f := range frames {
		off := (last - f.pts) % step
		if off == 0 {
			onGrid++
			continue
		}
		require.Greater(t, off, uint64(step/2), "%s: frame at %d is off the source timeline", recorded, f.pts)
	}
	// Frames sent before the subscription was set up arrive as the group
	// of pictures replayed for its keyframe request: they are recorded too.
	t.Logf("%s: %d frames of %d in the source (%.1f%%): %d on the timeline, %d from the replayed group of pictures; %dx%d",
		filepath.Base(recorded), len(frames), len(srcFrames), 100*float64(len(frames))/float64(len(srcFrames)), onGrid, len(frames)-onGrid, h.Width, h.Height)
	require.GreaterOrEqual(t, float64(len(frames)), 0.95*float64(len(srcFrames)), recorded)
	require.LessOrEqual(t, len(frames), len(srcFrames), recorded)
}

func TestRecordRoundTrip(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	rec, err := NewRoomRecorder(t.TempDir())
	require.NoError(t, err)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)

	files := []string{"vp8.ivf", "vp9.ivf", "h264.h264", "opus.ogg"}
	done := make(chan string, len(files))
	for _, name := range files {
		name := name
		track, err := lksdk.NewLocalFileTrack(source(name), lksdk.ReaderTrackWithStartOnSubscribe(),
			lksdk.ReaderTrackWithOnWriteComplete(func() { done <- name }))
		require.NoError(t, err)
		_, err = alice.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: strings.TrimSuffix(name, filepath.Ext(name))})
		require.NoError(t, err)
	}
	for range files {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("files not sent in 30 s")
		}
	}
	time.Sleep(time.Second)
	bob.Disconnect() // stops the recordings cleanly
	require.NoError(t, rec.Close())

	byName := map[string]*RecordedFile{}
	for _, f := range rec.Files() {
		require.NoError(t, f.Failure(), f.Path)
		byName[f.TrackName] = f
		st := f.Stats()
		t.Logf("%s: %d frames written, %d dropped, %d gaps, %s", filepath.Base(f.Path), st.FramesWritten, st.FramesDropped, st.Gaps, st.Duration)
	}
	require.Len(t, byName, 4)
	require.True(t, strings.HasPrefix(filepath.Base(byName["vp8"].Path), "alice_vp8_TR_"))
	checkIVFRecording(t, byName["vp8"].Path, "vp8.ivf", mediaparse.IsVP8Keyframe)
	checkIVFRecording(t, byName["vp9"].Path, "vp9.ivf", mediaparse.IsVP9Keyframe)

	srcAUs, _, _ := countAUs(t, source("h264.h264"))
	aus, sps, firstKey := countAUs(t, byName["h264"].Path)
	t.Logf("h264: %d access units of %d", aus, srcAUs)
	require.True(t, firstKey, "the H.264 recording begins with a keyframe")
	require.Equal(t, [2]int{320, 240}, [2]int{sps.Width, sps.Height})
	require.GreaterOrEqual(t, float64(aus), 0.95*float64(srcAUs))
	// Annex-B carries no timestamps; the recorder's RTP span covers the
	// frames on the timeline (replays sit within a frame of them).
	require.GreaterOrEqual(t, byName["h264"].Stats().Duration, 95*8*time.Second/100)
	require.LessOrEqual(t, byName["h264"].Stats().Duration, 8*time.Second)

	srcDur := opusDuration(t, source("opus.ogg"))
	dur := opusDuration(t, byName["opus"].Path)
	t.Logf("opus: %s recorded of %s", dur, srcDur)
	require.InDelta(t, float64(srcDur), float64(dur), 0.02*float64(srcDur))
}

func TestRecorderStartingMidStreamBeginsWithAKeyframe(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	alice := joinRoom(t, srv, room, "alice", nil)
	track, err := lksdk.NewLocalFileTrack(source("vp8.ivf"), lksdk.ReaderTrackWithLoop(true))
	require.NoError(t, err)
	_, err = alice.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "cam"})
	require.NoError(t, err)
	time.Sleep(2 * time.Second) // halfway between two keyframes

	rec, err := NewRoomRecorder(t.TempDir())
	require.NoError(t, err)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	time.Sleep(3 * time.Second)
	bob.Disconnect()
	require.NoError(t, rec.Close())
	files := rec.Files()
	require.Len(t, files, 1)
	_, frames := readIVF(t, files[0].Path)
	require.Greater(t, len(frames), 30)
	require.True(t, mediaparse.IsVP8Keyframe(frames[0].data), "the recording begins with a keyframe")
	t.Logf("recording started mid-stream: %d frames, first a keyframe", len(frames))
}
