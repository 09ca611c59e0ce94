package lksdk_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// signalTap relays a client's signal connections to a real server and can
// add responses of its own to what the server sends: for the responses the
// pinned server never sends. Nothing else is changed.
type signalTap struct {
	t      testing.TB
	target string // ws://host:port of the server
	srv    *httptest.Server

	mu    sync.Mutex
	conns []*websocket.Conn // client side of each relayed connection
	wg    sync.WaitGroup
}

// newSignalTap starts a tap in front of the server at target; it is closed
// when the test ends.
func newSignalTap(t testing.TB, target string) *signalTap {
	tap := &signalTap{t: t, target: strings.TrimSuffix(target, "/")}
	tap.srv = httptest.NewServer(http.HandlerFunc(tap.serve))
	t.Cleanup(tap.close)
	return tap
}

// URL is the address clients dial instead of the server's.
func (tap *signalTap) URL() string { return "ws" + strings.TrimPrefix(tap.srv.URL, "http") }

func (tap *signalTap) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/rtc" {
		http.Error(w, "the tap relays only /rtc", http.StatusNotFound)
		return
	}
	upstream, resp, err := websocket.DefaultDialer.Dial(tap.target+req.URL.RequestURI(), nil)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, err.Error(), status)
		return
	}
	up := websocket.Upgrader{}
	client, err := up.Upgrade(w, req, nil)
	if err != nil {
		_ = upstream.Close()
		return
	}
	tap.mu.Lock()
	tap.conns = append(tap.conns, client)
	tap.wg.Add(2)
	tap.mu.Unlock()
	relay := func(dst, src *websocket.Conn) {
		defer tap.wg.Done()
		defer func() { _ = dst.Close(); _ = src.Close() }()
		for {
			kind, msg, err := src.ReadMessage()
			if err != nil {
				return
			}
			tap.mu.Lock()
			err = dst.WriteMessage(kind, msg)
			tap.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	go relay(upstream, client)
	go relay(client, upstream)
}

// inject sends res to the client of the latest connection, between the
// server's own responses.
func (tap *signalTap) inject(res *livekit.SignalResponse) {
	tap.t.Helper()
	msg, err := proto.Marshal(res)
	require.NoError(tap.t, err)
	tap.mu.Lock()
	defer tap.mu.Unlock()
	require.NotEmpty(tap.t, tap.conns, "no signal connection to inject into")
	require.NoError(tap.t, tap.conns[len(tap.conns)-1].WriteMessage(websocket.BinaryMessage, msg))
}

func (tap *signalTap) close() {
	tap.mu.Lock()
	for _, c := range tap.conns {
		_ = c.Close()
	}
	tap.mu.Unlock()
	tap.wg.Wait()
	tap.srv.Close()
}
