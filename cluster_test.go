package lksdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/balancer"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// clusterWait bounds every wait of the cluster tests: a hang detector, not
// a timing requirement. Recovery takes several seconds by design (the
// server takes a node for dead when its entry in Redis is 5 s old).
const clusterWait = 45 * time.Second

// startBalancedCluster starts n nodes sharing a Redis, and a balancer in
// front of them that checks each with GET / every 250 ms. Rooms last 10
// minutes, a minute after their last participant left.
func startBalancedCluster(t *testing.T, n int) (*lktest.Cluster, *balancer.Balancer) {
	t.Helper()
	c := lktest.StartCluster(t, n, lktest.WithRoomDefaults(600, 60, 0))
	var backends []string
	for _, node := range c.Nodes {
		backends = append(backends, fmt.Sprintf("127.0.0.1:%d", node.HTTPPort))
	}
	bal, err := balancer.New(balancer.Options{Backends: backends, HealthPath: "/", Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bal.Close() })
	return c, bal
}

// createRoomOn creates room on node through the balancer (the server API
// lets the caller choose the node) and checks that Redis has it there.
func createRoomOn(t *testing.T, c *lktest.Cluster, bal *balancer.Balancer, room string, node *lkserver.Server) {
	t.Helper()
	rs := lksdk.NewRoomServiceClient(bal.URL("http"), c.APIKey, c.APISecret)
	_, err := rs.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: room, NodeId: node.NodeID(), EmptyTimeout: 600, DepartureTimeout: 60})
	require.NoError(t, err)
	host, err := c.RoomNode(testContext(t), room)
	require.NoError(t, err)
	require.Same(t, node, host, "the room is on the node asked for")
}

// sinceLog records the lines a room logs, each with the time since a mark
// set later (the kill), for the test's output.
type sinceLog struct {
	mu    sync.Mutex
	mark  time.Time
	lines []string
}

func (l *sinceLog) logger() logr.Logger {
	return funcr.New(func(_, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.mark.IsZero() {
			l.lines = append(l.lines, fmt.Sprintf("%+6.2fs %s", time.Since(l.mark).Seconds(), args))
		}
	}, funcr.Options{Verbosity: 1})
}

func (l *sinceLog) setMark(at time.Time) {
	l.mu.Lock()
	l.mark = at
	l.mu.Unlock()
}

func (l *sinceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// serverLog returns the lines of node's log from since on that are
// warnings or errors or place a room, each cut to its first 300 bytes and
// stamped with the time since since.
func serverLog(node *lkserver.Server, since time.Time) string {
	var out []string
	for _, line := range strings.Split(node.Logs(), "\n") {
		stamp, rest, ok := strings.Cut(line, "\t")
		if !ok {
			continue // a stack trace's lines
		}
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || at.Before(since) {
			continue
		}
		if !strings.HasPrefix(rest, "WARN") && !strings.HasPrefix(rest, "ERROR") && !strings.Contains(rest, "selected node for room") {
			continue
		}
		if len(rest) > 300 {
			rest = rest[:300] + "…"
		}
		out = append(out, fmt.Sprintf("%+6.2fs %s", at.Sub(since).Seconds(), rest))
	}
	return strings.Join(out, "\n")
}

// TestClusterNodeKilledRoomGoesOnOnTheSurvivor kills, with SIGKILL, the
// node that hosts a room and carries its publisher's signalling: the
// publisher comes back through the balancer on the surviving node and
// publishes again, and a participant joining after the kill gets its
// video. The other case, a room hosted on a node other than the one its
// participants signal through, runs as a second subtest.
func TestClusterNodeKilledRoomGoesOnOnTheSurvivor(t *testing.T) {
	for _, tc := range []struct {
		name string
		// host is the index of the node hosting the room; the balancer
		// sends every connection to node 0 while it lives.
		host int
	}{
		{"host carries the signalling", 0},
		{"host reached through the other node", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, bal := startBalancedCluster(t, 2)
			host, other := c.Nodes[tc.host], c.Nodes[1-tc.host]
			room := lktest.RoomName(t)
			createRoomOn(t, c, bal, room, host)

			botLog := &sinceLog{}
			var reconnectedAt atomic.Pointer[time.Time]
			ep := newEpisodes()
			cb := ep.add(nil)
			onReconnected := cb.OnReconnected
			cb.OnReconnected = func() {
				now := time.Now()
				reconnectedAt.CompareAndSwap(nil, &now)
				onReconnected()
			}
			bot := joinVia(t, c.Nodes[0], bal.URL("ws"), room, "bot", cb, lksdk.WithLogger(botLog.logger()))
			pub := publishLoopingVideo(t, bot)
			sidBefore := pub.SID()
			require.Zero(t, bal.Stats()[1].Total, "everything goes through node 0 while it lives")

			killed := time.Now()
			botLog.setMark(killed)
			require.NoError(t, host.Kill())

			// A participant joins through the balancer from the moment of
			// the kill, trying again until the cluster takes it.
			sub := newSubscribeAll()
			info := lksdk.ConnectInfo{APIKey: c.APIKey, APISecret: c.APISecret, RoomName: room, ParticipantIdentity: "late"}
			var joinErrs []string
			var late *lksdk.Room
			for late == nil {
				require.Less(t, time.Since(killed), clusterWait, "no join succeeded after the kill; errors:\n%s", strings.Join(joinErrs, "\n"))
				r := lksdk.CreateRoom(sub.callback())
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				start := time.Now()
				err := r.JoinWithContext(ctx, bal.URL("ws"), info, loopback(t)...)
				cancel()
				if err != nil {
					joinErrs = append(joinErrs, fmt.Sprintf("%+6.2fs join failed after %.2fs: %v", start.Sub(killed).Seconds(), time.Since(start).Seconds(), err))
					time.Sleep(250 * time.Millisecond)
					continue
				}
				late = r
				t.Cleanup(r.Disconnect)
			}
			joined := time.Since(killed)

			recv(t, ep.reconnectedCh, clusterWait, "the bot to come back")
			require.Equal(t, lksdk.ConnectionStateConnected, bot.ConnectionState())
			name := recv(t, sub.arrive, clusterWait, "the bot's video at the late participant")
			require.Equal(t, "cam", name)
			frames := sub.log("cam")
			eventually(t, clusterWait, func() bool { return len(frames.frames()) >= 30 }, "the bot's video frames at the late participant")
			firstFrame := frames.frames()[0].at.Sub(killed)

			require.NotEmpty(t, pub.SID())
			require.NotEqual(t, sidBefore, pub.SID(), "the track was published again, on the surviving node")
			now, err := c.RoomNode(testContext(t), room)
			require.NoError(t, err)
			require.Same(t, other, now, "the room moved to the surviving node")
			require.Zero(t, ep.disconnected.Load())

			t.Logf("kill → bot reconnected %.2fs, → late participant joined %.2fs, → its first frame %.2fs (%d frames so far)",
				reconnectedAt.Load().Sub(killed).Seconds(), joined.Seconds(), firstFrame.Seconds(), len(frames.frames()))
			t.Logf("late participant's failed joins:\n%s", strings.Join(joinErrs, "\n"))
			t.Logf("bot's log after the kill:\n%s", botLog)
			t.Logf("surviving node's log after the kill (warnings, errors, room placement):\n%s", serverLog(other, killed))
			for _, s := range bal.Stats() {
				t.Logf("balancer backend %s healthy=%v since %+.2fs, %d connections (%d open)", s.Addr, s.Healthy, s.Since.Sub(killed).Seconds(), s.Total, s.Active)
			}
		})
	}
}

// validateStatus asks the balancer's /rtc/validate about a resume, the
// question the SDK asks when a dial is refused, and returns the status and
// body.
func validateStatus(t *testing.T, bal *balancer.Balancer, token, sid string) (int, string) {
	t.Helper()
	q := url.Values{}
	q.Set("access_token", token)
	q.Set("protocol", fmt.Sprint(lksdk.PROTOCOL))
	q.Set("sdk", "go")
	q.Set("auto_subscribe", "1")
	q.Set("reconnect", "1")
	q.Set("sid", sid)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(bal.URL("http") + "/rtc/validate?" + q.Encode())
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// TestClusterResumeOfALostSessionIsRefused resumes, through the balancer, a
// session whose node was killed, the way a room does after losing its
// signalling (but from a participant that does not recover by itself, so
// nothing else touches the session). The surviving node holds the
// resume's WebSocket upgrade while it tries to reach the dead node, and,
// once it takes that node for dead and the room for its own, refuses with
// a LeaveRequest: Reconnect returns a *ConnectError wrapping
// ErrResumeRefused. A full join then works.
func TestClusterResumeOfALostSessionIsRefused(t *testing.T) {
	c, bal := startBalancedCluster(t, 2)
	room := lktest.RoomName(t)
	createRoomOn(t, c, bal, room, c.Nodes[0])
	info := lksdk.ConnectInfo{APIKey: c.APIKey, APISecret: c.APISecret, RoomName: room, ParticipantIdentity: "ghost"}
	ghost := lksdk.CreateRoom(nil)
	require.NoError(t, ghost.JoinWithContext(testContext(t), bal.URL("ws"), info, append(loopback(t),
		func(p *lksdk.ConnectParams) { p.Reconnect = false })...))
	t.Cleanup(ghost.Disconnect)
	sid := ghost.LocalParticipant.SID()
	token, err := lksdk.NewJoinToken(info, nil, 0)
	require.NoError(t, err)

	killed := time.Now()
	require.NoError(t, c.Nodes[0].Kill())
	recv(t, ghost.Done(), clusterWait, "the ghost's room to end")

	var refused *lksdk.ConnectError
	for refused == nil {
		require.Less(t, time.Since(killed), clusterWait, "the resume was never refused")
		status, body := validateStatus(t, bal, token, sid)
		sc := lksdk.NewSignalClient()
		// The SDK's own bound of a resume attempt.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := sc.Reconnect(ctx, bal.URL("ws"), token, lksdk.SignalOptions{
			AutoSubscribe: true, Reconnect: true, ParticipantSID: sid, ReconnectReason: livekit.ReconnectReason_RR_SIGNAL_DISCONNECTED,
		})
		cancel()
		sc.Close()
		require.Error(t, err, "a session the cluster lost cannot be resumed")
		var ce *lksdk.ConnectError
		require.ErrorAs(t, err, &ce)
		t.Logf("%+6.2fs /rtc/validate %d %q; Reconnect failed after %.2fs: phase %q, status %d, reason %q, ErrResumeRefused %v, ErrSignalError %v, ErrConnectionTimeout %v: %v",
			start.Sub(killed).Seconds(), status, body, time.Since(start).Seconds(), ce.Phase, ce.StatusCode, ce.Reason,
			errors.Is(err, lksdk.ErrResumeRefused), errors.Is(err, lksdk.ErrSignalError), errors.Is(err, lksdk.ErrConnectionTimeout), err)
		if errors.Is(err, lksdk.ErrResumeRefused) {
			refused = ce
		}
	}
	require.Equal(t, lksdk.PhaseJoin, refused.Phase)
	require.Equal(t, livekit.DisconnectReason_STATE_MISMATCH.String(), refused.Reason)

	// What the refusal asks for works: a new session, on the survivor.
	again := join(t, &lkserver.Server{URL: bal.URL("ws"), APIKey: c.APIKey, APISecret: c.APISecret}, room, "ghost", nil)
	require.NotEqual(t, sid, again.LocalParticipant.SID())
	host, err := c.RoomNode(testContext(t), room)
	require.NoError(t, err)
	require.Same(t, c.Nodes[1], host)
}
