package lksdk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// lateJoin is what one late joiner saw.
type lateJoin struct {
	position   time.Duration   // how far into the file the subscriber asked
	plis       []time.Duration // PLIs that reached the publisher, from the request on
	firstFrame time.Duration   // from SetSubscribed(true) to the first frame
	filePos    int             // the first frame's place in the file
	replayed   bool            // it was sent again (off the 3000-tick timeline)
	stats      lksdk.KeyFrameStats
}

// lateJoinMode says when the late joiner joins and subscribes.
type lateJoinMode int

const (
	// Joined well before, it subscribes 2 s after the file's first frame
	// was sent (60 frames in).
	joinedBeforeSubscribeAt2s lateJoinMode = iota
	// As TestLateSubscriberGetsAKeyframeQuickly did before: it joins 2 s
	// after PublishTrack returned and subscribes as soon as it sees the
	// publication (the file is 1 to 2 s in, depending on how long the
	// publisher's connection took).
	joinsAfter2sSubscribesAtOnce
	// Joined well before, run i subscribes 1.0 + (i mod 10) × 0.1 s after
	// the file's first frame: across the second after the server's first
	// keyframe request (its key frame seeder's, 1 s after the track
	// started).
	joinedBeforeSubscribeSweep
)

// TestMeasureLateJoinerFirstFrame measures how long a subscriber that
// comes while testdata/vp8.ivf is being published (a keyframe every 4 s)
// waits for its first frame after SetSubscribed(true), and which frame it
// is, with the PLIs that reached the publisher around it. It is a
// measurement, not a test: it runs only when LKSDK_LATE_JOINER_RUNS is set
// to the number of runs (one server, a new room for each run), and
// LKSDK_LATE_JOINER_MODE says when the subscriber comes: at-2s (the
// default), after-publish or sweep (see lateJoinMode). BENCHMARKS.md,
// "Late joiner: first frame", has the figures:
//
//	LKSDK_LATE_JOINER_RUNS=20 LKSDK_LATE_JOINER_MODE=at-2s \
//	    go test -count=1 -run TestMeasureLateJoinerFirstFrame -v .
func TestMeasureLateJoinerFirstFrame(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("LKSDK_LATE_JOINER_RUNS"))
	if runs <= 0 {
		t.Skip("a measurement: set LKSDK_LATE_JOINER_RUNS=20 to run it")
	}
	mode := joinedBeforeSubscribeAt2s
	switch m := os.Getenv("LKSDK_LATE_JOINER_MODE"); m {
	case "", "at-2s":
	case "after-publish":
		mode = joinsAfter2sSubscribesAtOnce
	case "sweep":
		mode = joinedBeforeSubscribeSweep
	default:
		t.Fatalf("LKSDK_LATE_JOINER_MODE=%q: at-2s, after-publish or sweep", m)
	}
	srv := lktest.Start(t)
	file := ivfFrames(t, "vp8.ivf")
	var firsts []time.Duration
	for i := 0; i < runs; i++ {
		var r lateJoin
		t.Run(fmt.Sprintf("run%d", i), func(t *testing.T) {
			room := lktest.RoomName(t)
			var mu sync.Mutex
			var plis []time.Time
			a := join(t, srv, room, "alice", nil)
			track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "vp8.ivf"),
				lksdk.ReaderTrackWithRTCPHandler(func(p rtcp.Packet) {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						mu.Lock()
						plis = append(plis, time.Now())
						mu.Unlock()
					}
				}))
			require.NoError(t, err)
			_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "late"})
			require.NoError(t, err)
			publishedAt := time.Now()
			// The file's first frame: Stats counts replayed frames too, so
			// the place in the file is told by the time since.
			var first time.Time
			require.Eventually(t, func() bool {
				if track.Stats().Samples == 0 {
					return false
				}
				first = time.Now()
				return true
			}, 10*time.Second, time.Millisecond, "the first frame")
			published := make(chan *lksdk.RemoteTrackPublication, 1)
			sub := newSubscribeAll()
			cb := sub.callback()
			cb.OnTrackPublished = func(pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) { published <- pub }
			if mode == joinsAfter2sSubscribesAtOnce {
				time.Sleep(time.Until(publishedAt.Add(2 * time.Second)))
			}
			join(t, srv, room, "bob", cb, lksdk.WithAutoSubscribe(false))
			pub := recv(t, published, 10*time.Second, "the publication")
			switch mode {
			case joinedBeforeSubscribeAt2s:
				time.Sleep(time.Until(first.Add(2 * time.Second)))
			case joinedBeforeSubscribeSweep:
				time.Sleep(time.Until(first.Add(time.Second + time.Duration(i%10)*100*time.Millisecond)))
			}
			asked := time.Now()
			r.position = asked.Sub(first)
			require.NoError(t, pub.SetSubscribed(true))
			recv(t, sub.arrive, 10*time.Second, "the subscription")
			log := sub.log("late")
			eventually(t, 10*time.Second, func() bool { return len(log.frames()) > 0 }, "a frame")
			time.Sleep(500 * time.Millisecond) // the frames after it, to tell a replay
			frames := log.frames()
			r.firstFrame = frames[0].at.Sub(asked)
			r.filePos = framePosition(file, frames[0])
			r.replayed = timelineOffset(frames, frames[0]) != 0
			r.stats = track.KeyFrameStats()
			mu.Lock()
			for _, p := range plis {
				if d := p.Sub(asked); d > -1500*time.Millisecond {
					r.plis = append(r.plis, d.Round(time.Millisecond))
				}
			}
			mu.Unlock()
		})
		if t.Failed() {
			return
		}
		firsts = append(firsts, r.firstFrame)
		t.Logf("run %2d: asked %4.0f ms into the file, first frame %6.1f ms later (file frame %d, replayed %v), PLIs at the publisher %v, %+v",
			i, ms(r.position), ms(r.firstFrame), r.filePos, r.replayed, r.plis, r.stats)
	}
	sorted := append([]time.Duration(nil), firsts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	rank := func(p int) time.Duration { return sorted[(len(sorted)*p+99)/100-1] } // nearest rank
	var all []string
	for _, d := range firsts {
		all = append(all, fmt.Sprintf("%.0f", ms(d)))
	}
	t.Logf("first frame after SetSubscribed(true), ms, in run order: %s", strings.Join(all, ", "))
	t.Logf("p50 %.1f ms, p95 %.1f ms, max %.1f ms over %d runs",
		ms(rank(50)), ms(rank(95)), ms(sorted[len(sorted)-1]), len(sorted))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
