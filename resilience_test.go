package lksdk_test

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/faultproxy"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// episodes counts a room's reconnection callbacks.
type episodes struct {
	reconnecting, reconnected, disconnected atomic.Int32
	reconnectedCh                           chan struct{}
	reconnectingCh                          chan time.Time
	reasons                                 chan lksdk.DisconnectReason
}

func newEpisodes() *episodes {
	return &episodes{reconnectedCh: make(chan struct{}, 64), reconnectingCh: make(chan time.Time, 64), reasons: make(chan lksdk.DisconnectReason, 4)}
}

func (ep *episodes) add(cb *lksdk.RoomCallback) *lksdk.RoomCallback {
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	cb.OnReconnecting = func() { ep.reconnecting.Add(1); ep.reconnectingCh <- time.Now() }
	cb.OnReconnected = func() { ep.reconnected.Add(1); ep.reconnectedCh <- struct{}{} }
	cb.OnDisconnected = func() { ep.disconnected.Add(1) }
	cb.OnDisconnectedWithReason = func(r lksdk.DisconnectReason) { ep.reasons <- r }
	return cb
}

// joinVia connects identity through url (a proxy, say) rather than srv's
// own address.
func joinVia(t *testing.T, srv *lkserver.Server, url, room, identity string, cb *lksdk.RoomCallback, opts ...lksdk.ConnectOption) *lksdk.Room {
	t.Helper()
	r, err := lksdk.ConnectToRoom(url, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity,
	}, cb, append(loopback(t), opts...)...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

// countVideo counts the RTP packets of every video track the room gets.
type countVideo struct {
	packets atomic.Int64
	tracks  atomic.Int32
	mu      sync.Mutex
	readers []*trackReader
	arrived chan struct{}
}

func (c *countVideo) callback(cb *lksdk.RoomCallback) *lksdk.RoomCallback {
	if c.arrived == nil {
		c.arrived = make(chan struct{}, 16)
	}
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		if track.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		c.tracks.Add(1)
		r := &trackReader{done: make(chan struct{})}
		go func() {
			defer close(r.done)
			for {
				if _, _, err := track.ReadRTP(); err != nil {
					return
				}
				c.packets.Add(1)
			}
		}()
		c.mu.Lock()
		c.readers = append(c.readers, r)
		c.mu.Unlock()
		c.arrived <- struct{}{}
	}
	return cb
}

func (c *countVideo) requireFlowing(t *testing.T, what string) {
	t.Helper()
	before := c.packets.Load()
	eventually(t, 10*time.Second, func() bool { return c.packets.Load() > before+30 }, "video flowing %s", what)
}

func publishLoopingVideo(t *testing.T, r *lksdk.Room) *lksdk.LocalTrackPublication {
	t.Helper()
	track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "vp8.ivf"), lksdk.ReaderTrackWithLoop(true))
	require.NoError(t, err)
	pub, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "cam"})
	require.NoError(t, err)
	return pub
}

func TestSignalCutsLoseNothing(t *testing.T) {
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 60, 0))
	room := lktest.RoomName(t)
	proxy, err := faultproxy.New("127.0.0.1:" + strconv.Itoa(srv.HTTPPort))
	require.NoError(t, err)
	defer proxy.Close()

	sink := newDataSink()
	video := &countVideo{}
	bcb := sink.callback()
	join(t, srv, room, "bob", video.callback(bcb))
	epA := newEpisodes()
	a := joinVia(t, srv, proxy.URL("ws"), room, "alice", epA.add(nil))
	publishLoopingVideo(t, a)
	recv(t, video.arrived, 10*time.Second, "alice's video at bob")
	video.requireFlowing(t, "before the cuts")
	time.Sleep(time.Second)
	goroutinesBefore := runtime.NumGoroutine()
	summaryBefore := goroutineSummary()

	// 1,000 reliable messages go out while the signal connection is cut 20
	// times.
	const n = 1000
	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := 0; i < n; i++ {
			if err := a.LocalParticipant.PublishDataPacket(ctx, []byte(strconv.Itoa(i))); err != nil {
				sent <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		sent <- nil
	}()
	for cut := 1; cut <= 20; cut++ {
		proxy.Cut()
		recv(t, epA.reconnectedCh, 20*time.Second, "alice to resume after cut "+strconv.Itoa(cut))
		video.requireFlowing(t, "after cut "+strconv.Itoa(cut))
	}
	require.NoError(t, recv(t, sent, 60*time.Second, "all messages sent"))
	eventually(t, 10*time.Second, func() bool { return sink.count() >= n }, "all %d messages at bob", n)
	time.Sleep(300 * time.Millisecond)
	_, packets := sink.snapshot()
	require.Len(t, packets, n, "every message exactly once")
	for i, m := range packets {
		require.Equal(t, strconv.Itoa(i), m.data, "message %d out of order", i)
	}
	require.EqualValues(t, 20, epA.reconnecting.Load(), "one OnReconnecting per cut")
	require.EqualValues(t, 20, epA.reconnected.Load(), "one OnReconnected per cut")
	require.Zero(t, epA.disconnected.Load())
	require.EqualValues(t, 1, video.tracks.Load(), "resuming kept the subscription")
	// Polled here rather than with require.Eventually, whose checks run on
	// goroutines of their own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after > goroutinesBefore && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	require.LessOrEqual(t, after, goroutinesBefore, "goroutines after 20 cuts:\nbefore:\n%s\nafter:\n%s", summaryBefore, goroutineSummary())
	t.Logf("goroutines before the cuts %d, after %d; %d video packets received", goroutinesBefore, after, video.packets.Load())
}

func TestStalledSignalIsDetectedAndResumed(t *testing.T) {
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 60, 0))
	room := lktest.RoomName(t)
	proxy, err := faultproxy.New("127.0.0.1:" + strconv.Itoa(srv.HTTPPort))
	require.NoError(t, err)
	defer proxy.Close()
	video := &countVideo{}
	join(t, srv, room, "bob", video.callback(&lksdk.RoomCallback{}))
	epA := newEpisodes()
	lines := &lineLog{}
	a := joinVia(t, srv, proxy.URL("ws"), room, "alice", epA.add(nil), lksdk.WithLogger(lines.logger()))
	publishLoopingVideo(t, a)
	recv(t, video.arrived, 10*time.Second, "alice's video at bob")

	stalled := time.Now()
	proxy.Stall()
	detected := recv(t, epA.reconnectingCh, 25*time.Second, "the stall to be detected")
	t.Logf("stalled signal connection detected after %s (the server's ping timeout is 15 s)", detected.Sub(stalled).Round(time.Millisecond))
	require.True(t, slices.ContainsFunc(lines.all(), func(l string) bool {
		return strings.Contains(l, "connection lost, recovering") && strings.Contains(l, "ping timeout")
	}), "the silence was caught by the ping timeout")
	proxy.Unstall()
	recv(t, epA.reconnectedCh, 30*time.Second, "alice to resume")
	video.requireFlowing(t, "after the stall")
	require.Zero(t, epA.disconnected.Load())
}

func TestServerRestartReconnectsAndRepublishes(t *testing.T) {
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 60, 0))
	room := lktest.RoomName(t)
	video := &countVideo{}
	epB := newEpisodes()
	join(t, srv, room, "bob", video.callback(epB.add(nil)))
	epA := newEpisodes()
	a := join(t, srv, room, "alice", epA.add(nil))
	pub := publishLoopingVideo(t, a)
	recv(t, video.arrived, 10*time.Second, "alice's video at bob")
	video.requireFlowing(t, "before the restart")
	oldSID := pub.SID()

	require.NoError(t, srv.Stop())
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Restart(ctx))

	recv(t, epA.reconnectedCh, 40*time.Second, "alice to reconnect")
	recv(t, epB.reconnectedCh, 40*time.Second, "bob to reconnect")
	recv(t, video.arrived, 20*time.Second, "alice's video at bob again")
	video.requireFlowing(t, "after the restart")
	require.NotEqual(t, oldSID, pub.SID(), "the track was published again on the new server")
	require.Zero(t, epA.disconnected.Load())
	require.Zero(t, epB.disconnected.Load())
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	parts, err := rs.ListParticipants(testContext(t), &livekit.ListParticipantsRequest{Room: room})
	require.NoError(t, err)
	require.Len(t, parts.Participants, 2, "no duplicate participants")
}

func TestServerGoneForGoodEndsTheRoomOnce(t *testing.T) {
	srv := lktest.Start(t)
	noLeaks(t)
	ep := newEpisodes()
	a := join(t, srv, lktest.RoomName(t), "alice", ep.add(nil), lksdk.WithReconnectTimeout(3*time.Second))
	publishLoopingVideo(t, a)
	require.NoError(t, srv.Stop())
	recv(t, a.Done(), 20*time.Second, "the room to give up")
	time.Sleep(300 * time.Millisecond)
	require.EqualValues(t, 1, ep.disconnected.Load(), "OnDisconnected exactly once")
	require.Equal(t, lksdk.ConnectionStateDisconnected, a.ConnectionState())
	a.Disconnect() // nothing left to do, returns at once
}

func TestSimulatedFailuresRecover(t *testing.T) {
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 60, 0))
	room := lktest.RoomName(t)
	video := &countVideo{}
	join(t, srv, room, "bob", video.callback(&lksdk.RoomCallback{}))
	ep := newEpisodes()
	a := join(t, srv, room, "alice", ep.add(nil))
	publishLoopingVideo(t, a)
	recv(t, video.arrived, 10*time.Second, "alice's video at bob")
	for _, sc := range []struct {
		name     string
		scenario lksdk.SimulateScenario
	}{
		{"signal reconnect", lksdk.SimulateSignalReconnect},
		{"node failure", lksdk.SimulateNodeFailure},
		{"migration", lksdk.SimulateMigration},
		{"server leave", lksdk.SimulateServerLeave},
		{"force TCP", lksdk.SimulateForceTCP},
		{"speaker update", lksdk.SimulateSpeakerUpdate},
	} {
		before := ep.reconnected.Load()
		a.Simulate(sc.scenario)
		if sc.scenario != lksdk.SimulateSpeakerUpdate && sc.scenario != lksdk.SimulateForceTCP {
			recv(t, ep.reconnectedCh, 40*time.Second, "recovery from "+sc.name)
		} else {
			time.Sleep(2 * time.Second)
		}
		video.requireFlowing(t, "after "+sc.name)
		t.Logf("%-16s recovered: %d reconnections, video subscriptions at bob %d", sc.name, ep.reconnected.Load()-before, video.tracks.Load())
		require.Equal(t, lksdk.ConnectionStateConnected, a.ConnectionState())
	}
	require.Zero(t, ep.disconnected.Load())
}

func TestServerSideRemovalDoesNotReconnect(t *testing.T) {
	srv := lktest.Start(t)
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	for _, tc := range []struct {
		name   string
		reason livekit.DisconnectReason
		act    func(room string) error
	}{
		{"removed", livekit.DisconnectReason_PARTICIPANT_REMOVED, func(room string) error {
			_, err := rs.RemoveParticipant(testContext(t), &livekit.RoomParticipantIdentity{Room: room, Identity: "alice"})
			return err
		}},
		{"room deleted", livekit.DisconnectReason_ROOM_DELETED, func(room string) error {
			_, err := rs.DeleteRoom(testContext(t), &livekit.DeleteRoomRequest{Room: room})
			return err
		}},
	} {
		room := lktest.RoomName(t)
		ep := newEpisodes()
		a := join(t, srv, room, "alice", ep.add(nil))
		require.NoError(t, tc.act(room))
		require.Equal(t, tc.reason, recv(t, ep.reasons, 5*time.Second, tc.name+": the reason"))
		recv(t, a.Done(), 5*time.Second, tc.name+": the room to close")
		time.Sleep(500 * time.Millisecond)
		require.Zero(t, ep.reconnecting.Load(), "%s: no reconnect attempt", tc.name)
		require.EqualValues(t, 1, ep.disconnected.Load(), tc.name)
	}
}

// goroutineSummary counts the running goroutines by the function they were
// started with.
func goroutineSummary() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	counts := map[string]int{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "created by ") && i > 0 {
				counts[strings.TrimPrefix(l, "created by ")+" | "+strings.TrimSpace(lines[1])]++
			}
		}
	}
	var out []string
	for k, v := range counts {
		out = append(out, strconv.Itoa(v)+" "+k)
	}
	return strings.Join(out, "\n")
}
