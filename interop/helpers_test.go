package interop_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/interop"
)

// enableEnv is the variable `make interop` sets to run these tests.
const enableEnv = "LKSDK_INTEROP"

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// requireInterop skips t, saying why, unless `make interop` runs it.
func requireInterop(t *testing.T) {
	t.Helper()
	if os.Getenv(enableEnv) != "1" {
		t.Skipf("interop test skipped: it needs Node.js, the peers' npm packages and Chromium; "+
			"run `make interop` (which installs them and sets %s=1)", enableEnv)
	}
}

// peerKinds are the independent implementations every interop test runs
// against.
var peerKinds = []string{interop.KindNode, interop.KindBrowser}

// forEachPeer runs f as a subtest for each kind of peer, with a server of
// its own.
// LKSDK_INTEROP_PEERS (a comma-separated list of kinds) narrows the kinds
// while working on one.
func forEachPeer(t *testing.T, f func(t *testing.T, srv *lkserver.Server, kind string)) {
	requireInterop(t)
	kinds := peerKinds
	if only := os.Getenv("LKSDK_INTEROP_PEERS"); only != "" {
		kinds = strings.Split(only, ",")
		t.Logf("only the %v peers (LKSDK_INTEROP_PEERS)", kinds)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			srv := lktest.Start(t)
			f(t, srv, kind)
		})
	}
}

// startPeer starts a peer of kind for t; it leaves and exits when t ends,
// and its output is added to t's log if t failed.
func startPeer(t *testing.T, kind string) *interop.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var env []string
	if os.Getenv("LKSDK_INTEROP_VERBOSE") != "" {
		env = append(env, "LKSDK_INTEROP_VERBOSE=1")
	}
	p, err := interop.Start(ctx, kind, interop.Options{Env: env})
	require.NoError(t, err)
	t.Cleanup(func() {
		err := p.Close()
		if t.Failed() {
			t.Logf("--- %s peer output ---\n%s", kind, p.Logs())
		}
		if err != nil {
			t.Errorf("closing the %s peer: %v", kind, err)
		}
	})
	return p
}

// participant describes how to join: identity, attributes, kind.
type participant struct {
	identity   string
	attributes map[string]string
	kind       livekit.ParticipantInfo_Kind
}

// token mints a join token for p in room.
func token(t *testing.T, srv *lkserver.Server, room string, p participant) string {
	t.Helper()
	canTrue := true
	at := auth.NewAccessToken(srv.APIKey, srv.APISecret).
		SetIdentity(p.identity).
		SetName("name of " + p.identity).
		SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin: true, Room: room,
			CanPublish: &canTrue, CanSubscribe: &canTrue, CanPublishData: &canTrue,
			CanUpdateOwnMetadata: &canTrue,
		})
	if len(p.attributes) > 0 {
		at.SetAttributes(p.attributes)
	}
	if p.kind != livekit.ParticipantInfo_STANDARD {
		at.SetKind(p.kind)
	}
	tok, err := at.ToJWT()
	require.NoError(t, err)
	return tok
}

// joinPeer makes peer join room as p and returns what it reported.
func joinPeer(t *testing.T, peer *interop.Peer, srv *lkserver.Server, room string, p participant) joinResult {
	t.Helper()
	var res joinResult
	require.NoError(t, peer.Call(ctxFor(t, 60*time.Second), "join", map[string]any{
		"url": srv.URL, "token": token(t, srv, room, p),
	}, &res), "%s peer joining %s", peer.Kind, room)
	return res
}

type joinResult struct {
	Identity     string       `json:"identity"`
	SID          string       `json:"sid"`
	Participants []peerPerson `json:"participants"`
}

// peerPerson is a participant as a peer sees it.
type peerPerson struct {
	Identity   string            `json:"identity"`
	SID        string            `json:"sid"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Attributes map[string]string `json:"attributes"`
}

// joinGo connects a Go participant to room as p, with more options if
// any, and disconnects it when t ends.
func joinGo(t *testing.T, srv *lkserver.Server, room string, p participant, cb *lksdk.RoomCallback, more ...lksdk.ConnectOption) *lksdk.Room {
	t.Helper()
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoomWithToken(srv.URL, token(t, srv, room, p), cb, append(opts, more...)...)
	require.NoError(t, err, "%s joining %s", p.identity, room)
	t.Cleanup(r.Disconnect)
	return r
}

// ctxFor returns a context that ends after d or with t.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every 100 ms until it holds or d has passed; it
// returns whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
