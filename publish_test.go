package lksdk_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// fileFrames counts the frames (audio packets) of a testdata file.
func fileFrames(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	n := 0
	var next func() error
	switch filepath.Ext(name) {
	case ".ivf":
		r, _, err := mediaparse.NewIVFReader(f)
		require.NoError(t, err)
		next = func() error { _, _, err := r.Next(); return err }
	case ".h264":
		r := mediaparse.NewAnnexBReader(f)
		next = func() error { _, _, err := r.Next(); return err }
	case ".ogg":
		r, _, err := mediaparse.NewOggOpusReader(f)
		require.NoError(t, err)
		next = func() error { _, err := r.Next(); return err }
	}
	for {
		if err := next(); err == io.EOF {
			return n
		} else {
			require.NoError(t, err)
		}
		n++
	}
}

// subscribeAll collects the frames of every track the room subscribes to,
// by publication name.
type subscribeAll struct {
	mu     sync.Mutex
	logs   map[string]*frameLog
	pubs   map[string]*lksdk.RemoteTrackPublication
	arrive chan string
}

func newSubscribeAll() *subscribeAll {
	return &subscribeAll{logs: map[string]*frameLog{}, pubs: map[string]*lksdk.RemoteTrackPublication{}, arrive: make(chan string, 32)}
}

func (s *subscribeAll) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			s.mu.Lock()
			s.logs[pub.Name()] = logFrames(track)
			s.pubs[pub.Name()] = pub
			s.mu.Unlock()
			s.arrive <- pub.Name()
		},
	}}
}

func (s *subscribeAll) log(name string) *frameLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs[name]
}

func TestPublishedFilesArriveWithTheirTiming(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	sub := newSubscribeAll()
	b := join(t, srv, room, "bob", sub.callback())
	a := join(t, srv, room, "alice", nil)

	files := []struct {
		name string
		step uint32 // RTP ticks per frame
	}{
		{"vp8.ivf", 3000}, {"vp9.ivf", 3000}, {"h264.h264", 3000}, {"opus.ogg", 960},
	}
	complete := make(chan string, len(files))
	for _, f := range files {
		name := f.name
		track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", name),
			lksdk.ReaderTrackWithOnWriteComplete(func() { complete <- name }))
		require.NoError(t, err)
		_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: name})
		require.NoError(t, err)
	}
	for range files {
		recv(t, complete, 30*time.Second, "a file to be sent")
	}
	time.Sleep(time.Second) // the last packets in flight

	for _, f := range files {
		log := sub.log(f.name)
		require.NotNil(t, log, "%s was not subscribed", f.name)
		want := fileFrames(t, f.name)
		regular, replays, offGrid := regularFrames(log.frames(), f.step)
		require.Empty(t, offGrid, "%s: frames off the %d-tick timeline (offsets)", f.name, f.step)
		missing := 0
		for i := 1; i < len(regular); i++ {
			missing += int((regular[i].ts-regular[i-1].ts)/f.step) - 1
		}
		// Frames sent before the server had set up the subscription reach
		// the subscriber as the group of pictures replayed for its keyframe
		// request: they count as received.
		got := len(regular) + replays
		t.Logf("%-10s %d of %d frames (%.1f%%): %d on the timeline (%d missing between them), %d from the replayed group of pictures",
			f.name, got, want, 100*float64(got)/float64(want), len(regular), missing, replays)
		require.GreaterOrEqual(t, float64(got), 0.95*float64(want), f.name)
		require.LessOrEqual(t, missing, want/20, f.name)
		require.LessOrEqual(t, len(regular), want, "%s: more frames than the file has (an access unit split?)", f.name)
	}
	b.Disconnect()
}

// A subscriber that arrives between two keyframes of a file starts from
// the current group of pictures, which the publisher sends again for it
// when the server asks for a keyframe: the first frames it receives are
// the file's frames from the last keyframe on (frame 0 of vp8.ivf; the
// next keyframe is frame 120, 4 s in), timestamped one tick apart just
// after the last frame sent before it came, and the stream then goes on
// with the next frame of the file, one frame duration after that last one.
func TestLateSubscriberGetsAKeyframeQuickly(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	file := ivfFrames(t, "vp8.ivf")
	const step = 3000 // RTP ticks per frame (30 fps at 90 kHz)
	next := 1
	for !file[next].keyframe {
		next++
	}

	a := join(t, srv, room, "alice", nil)
	track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "vp8.ivf"))
	require.NoError(t, err)
	_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "late"})
	require.NoError(t, err)
	var first time.Time // when the file's first frame was sent
	require.Eventually(t, func() bool {
		if track.Stats().Samples == 0 {
			return false
		}
		first = time.Now()
		return true
	}, 10*time.Second, time.Millisecond, "the file's first frame")

	published := make(chan *lksdk.RemoteTrackPublication, 1)
	sub := newSubscribeAll()
	cb := sub.callback()
	cb.OnTrackPublished = func(pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) { published <- pub }
	join(t, srv, room, "bob", cb, lksdk.WithAutoSubscribe(false))
	pub := recv(t, published, 10*time.Second, "the publication")
	// Halfway between the file's two keyframes.
	time.Sleep(time.Until(first.Add(2 * time.Second)))
	asked := time.Now()
	require.NoError(t, pub.SetSubscribed(true))
	recv(t, sub.arrive, 10*time.Second, "the subscription")
	log := sub.log("late")
	// The replay and ten frames of the timeline after it.
	eventually(t, 10*time.Second, func() bool {
		f := log.frames()
		return len(f) > 0 && f[len(f)-1].ts-f[0].ts >= 10*step
	}, "frames after the first one")
	frames := log.frames()
	t.Logf("first frame %s after subscribing, %s into the file", frames[0].at.Sub(asked), asked.Sub(first))

	kf := frames[0]
	require.True(t, kf.keyframe, "the first frame received is a keyframe")
	require.Equal(t, [2]int{320, 240}, [2]int{kf.width, kf.height})
	require.Equal(t, 0, framePosition(file, kf),
		"the first frame is the keyframe of the group of pictures being sent (file frame 0), not the next one (frame %d)", next)
	// The replayed group: frames 0..n-1 of the file, one tick apart.
	n := 1
	for n < len(frames) && frames[n].ts-kf.ts < step/2 {
		require.Equal(t, n, framePosition(file, frames[n]), "replayed frame %d is the file's frame %d", n, n)
		require.Equal(t, kf.ts+uint32(n), frames[n].ts, "replayed frame %d's timestamp", n)
		n++
	}
	require.Greater(t, n, 1, "the group of pictures is replayed, not only its keyframe")
	require.Less(t, n, next, "the replay is of the group before the next keyframe")
	// Then the timeline goes on: frame n, one frame after frame n-1 (sent
	// before the subscription, at kf.ts-1), and the frames after it.
	require.Less(t, n, len(frames))
	require.Equal(t, n, framePosition(file, frames[n]), "the stream goes on after the replay with the next frame")
	require.Equal(t, kf.ts-1+step, frames[n].ts, "the replay took no slot on the timeline")
	for i := n + 1; i < len(frames); i++ {
		require.Equal(t, frames[i-1].ts+step, frames[i].ts, "frame %d after the replay", i)
		require.Equal(t, i, framePosition(file, frames[i]), "frame %d after the replay", i)
	}
}

func TestSimulcastLayersFollowTheQualityAsked(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	sub := newSubscribeAll()
	join(t, srv, room, "bob", sub.callback())
	a := join(t, srv, room, "alice", nil)

	layers := []struct {
		file    string
		quality livekit.VideoQuality
		w, h    uint32
	}{
		{"simulcast_q.ivf", livekit.VideoQuality_LOW, 320, 180},
		{"simulcast_h.ivf", livekit.VideoQuality_MEDIUM, 640, 360},
		{"simulcast_f.ivf", livekit.VideoQuality_HIGH, 1280, 720},
	}
	var tracks []*lksdk.LocalSampleTrack
	for _, l := range layers {
		track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", l.file), lksdk.ReaderTrackWithLoop(true),
			lksdk.ReaderTrackWithSampleTrackOptions(lksdk.WithSimulcast("camera-sim", &livekit.VideoLayer{
				Quality: l.quality, Width: l.w, Height: l.h,
			})))
		require.NoError(t, err)
		tracks = append(tracks, track)
	}
	pub, err := a.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "sim"})
	require.NoError(t, err)
	require.Equal(t, tracks[0], pub.GetSimulcastTrack(livekit.VideoQuality_LOW))

	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	eventually(t, 10*time.Second, func() bool {
		p, err := rs.GetParticipant(testContext(t), &livekit.RoomParticipantIdentity{Room: room, Identity: "alice"})
		return err == nil && len(p.Tracks) == 1 && len(p.Tracks[0].Layers) == 3
	}, "the server to list three layers")

	recv(t, sub.arrive, 10*time.Second, "the subscription")
	remote := sub.pubs["sim"]
	log := sub.log("sim")
	for _, want := range []int{0, 2, 0, 1} {
		l := layers[want]
		before := len(log.frames())
		require.NoError(t, remote.SetVideoQuality(l.quality))
		eventually(t, 8*time.Second, func() bool {
			for _, f := range log.frames()[before:] {
				if f.keyframe && f.width == int(l.w) && f.height == int(l.h) {
					return true
				}
			}
			return false
		}, "a %dx%d keyframe after asking for %s", l.w, l.h, l.quality)
		t.Logf("asked for %s, receiving %dx%d", l.quality, l.w, l.h)
	}
}

func TestMuteUnpublishAndConcurrentPublishes(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	muted, unmuted := make(chan string, 4), make(chan string, 4)
	unpublished := make(chan string, 16)
	sub := newSubscribeAll()
	cb := sub.callback()
	cb.OnTrackMuted = func(pub lksdk.TrackPublication, _ lksdk.Participant) { muted <- pub.SID() }
	cb.OnTrackUnmuted = func(pub lksdk.TrackPublication, _ lksdk.Participant) { unmuted <- pub.SID() }
	cb.OnTrackUnpublished = func(pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) { unpublished <- pub.SID() }
	b := join(t, srv, room, "bob", cb)
	a := join(t, srv, room, "alice", nil)

	video, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "vp8.ivf"), lksdk.ReaderTrackWithLoop(true))
	require.NoError(t, err)
	vpub, err := a.LocalParticipant.PublishTrack(video, &lksdk.TrackPublicationOptions{Name: "cam"})
	require.NoError(t, err)
	recv(t, sub.arrive, 10*time.Second, "the video")
	log := sub.log("cam")
	eventually(t, 5*time.Second, func() bool { return len(log.frames()) > 10 }, "video frames")

	vpub.SetMuted(true)
	require.Equal(t, vpub.SID(), recv(t, muted, 5*time.Second, "OnTrackMuted"))
	time.Sleep(500 * time.Millisecond)
	n := len(log.frames())
	time.Sleep(time.Second)
	require.LessOrEqual(t, len(log.frames())-n, 1, "a muted track sends nothing")
	vpub.SetMuted(false)
	require.Equal(t, vpub.SID(), recv(t, unmuted, 5*time.Second, "OnTrackUnmuted"))
	eventually(t, 5*time.Second, func() bool { return len(log.frames()) > n+15 }, "video again after unmuting")

	require.NoError(t, a.LocalParticipant.UnpublishTrack(vpub.SID()))
	require.Equal(t, vpub.SID(), recv(t, unpublished, 5*time.Second, "OnTrackUnpublished"))

	// Eight tracks published at once each get their own publication.
	const n8 = 8
	var wg sync.WaitGroup
	sids := make([]string, n8)
	errs := make([]error, n8)
	for i := 0; i < n8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "opus.ogg"), lksdk.ReaderTrackWithLoop(true))
			if err != nil {
				errs[i] = err
				return
			}
			pub, err := a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: fmt.Sprintf("mic-%d", i)})
			if err != nil {
				errs[i] = err
				return
			}
			require.Equal(t, fmt.Sprintf("mic-%d", i), pub.Name())
			sids[i] = pub.SID()
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := 0; i < n8; i++ {
		require.NoError(t, errs[i])
		require.False(t, seen[sids[i]], "duplicate sid %s", sids[i])
		seen[sids[i]] = true
	}
	for i := 0; i < n8; i++ {
		name := recv(t, sub.arrive, 10*time.Second, "the concurrently published tracks")
		_ = name
	}
	for i := 0; i < n8; i++ {
		name := fmt.Sprintf("mic-%d", i)
		require.Equal(t, sids[i], sub.pubs[name].SID(), name)
		log := sub.log(name)
		eventually(t, 5*time.Second, func() bool { return len(log.frames()) > 10 }, "audio of %s", name)
	}
	b.Disconnect()
}
