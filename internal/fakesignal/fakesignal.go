// Package fakesignal is a LiveKit signalling endpoint for tests of input the
// real server never sends: a WebSocket server on a loopback port speaking the
// protobuf framing (binary messages, one SignalResponse each).
//
// A Server either answers by itself, sending a scripted first response to
// each connection (a malformed join, say), or relays to a real server and
// lets the test add its own responses to a live session (Inject).
//
// Goroutine ownership: the Server owns its http.Server (which owns one
// goroutine per connection) and, in relay mode, one more pump per relayed
// connection; Close stops all of them and waits.
package fakesignal

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// Server is a fake signalling endpoint. Set its fields before the first
// connection.
type Server struct {
	// First is sent, in order, to each connection when it opens (not in
	// relay mode).
	First []*livekit.SignalResponse
	// Validate, when set, answers GET /rtc/validate; otherwise it answers
	// 200.
	Validate http.HandlerFunc
	// Refuse, when non-zero, makes /rtc answer this HTTP status instead of
	// upgrading.
	Refuse int

	upstream string // relay target, ws://host:port
	ln       net.Listener
	srv      *http.Server
	served   chan struct{}

	mu       sync.Mutex
	clients  []*client
	conns    sync.WaitGroup // connection handlers
	closed   bool
	scripted bool // a relay told to answer by itself
}

type client struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
}

func (c *client) send(res *livekit.SignalResponse) error {
	b, err := proto.Marshal(res)
	if err != nil {
		return err
	}
	return c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// Start listens on 127.0.0.1 on a free port and serves a scripted endpoint.
func Start() (*Server, error) { return start("") }

// StartRelay listens on 127.0.0.1 on a free port and relays every signal
// connection to upstream, a real server's ws:// or http:// URL on
// loopback.
func StartRelay(upstream string) (*Server, error) {
	u := strings.Replace(strings.Replace(upstream, "http://", "ws://", 1), "https://", "wss://", 1)
	host := strings.TrimPrefix(strings.TrimPrefix(u, "ws://"), "wss://")
	if h, _, err := net.SplitHostPort(strings.TrimSuffix(host, "/")); err != nil || (h != "127.0.0.1" && h != "::1" && h != "localhost") {
		return nil, fmt.Errorf("fakesignal: relay target %q is not a loopback host:port", upstream)
	}
	return start(strings.TrimSuffix(u, "/"))
}

func start(upstream string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakesignal: listen: %w", err)
	}
	s := &Server{upstream: upstream, ln: ln, served: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/rtc/validate", func(w http.ResponseWriter, r *http.Request) {
		if s.Validate != nil {
			s.Validate(w, r)
		}
	})
	mux.HandleFunc("/rtc", s.serveRTC)
	s.srv = &http.Server{Handler: mux}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the endpoint's ws:// URL, to give to the SDK.
func (s *Server) URL() string { return "ws://" + s.ln.Addr().String() }

// HTTPURL returns the endpoint's http:// URL.
func (s *Server) HTTPURL() string { return "http://" + s.ln.Addr().String() }

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveRTC(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	defer s.conns.Done()
	if s.Refuse != 0 {
		http.Error(w, "refused by the fake server", s.Refuse)
		return
	}
	s.mu.Lock()
	first, relayed := s.First, s.upstream != "" && !s.scripted
	s.mu.Unlock()
	var up *websocket.Conn
	if relayed {
		var err error
		up, _, err = websocket.DefaultDialer.Dial(s.upstream+"/rtc?"+r.URL.RawQuery, nil)
		if err != nil {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		if up != nil {
			_ = up.Close()
		}
		return
	}
	c := &client{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		if up != nil {
			_ = up.Close()
		}
		return
	}
	s.clients = append(s.clients, c)
	s.mu.Unlock()

	if up == nil {
		for _, res := range first {
			if c.send(res) != nil {
				break
			}
		}
		// Read until the client goes, so its close is seen.
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				_ = ws.Close()
				return
			}
		}
	}
	s.relay(c, up)
}

// relay moves messages both ways between c and up until either ends.
func (s *Server) relay(c *client, up *websocket.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			mt, b, err := up.ReadMessage()
			if err != nil {
				_ = c.ws.Close()
				return
			}
			if mt == websocket.BinaryMessage && c.sendRaw(b) != nil {
				_ = up.Close()
				return
			}
		}
	}()
	for {
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			break
		}
		if up.WriteMessage(mt, b) != nil {
			break
		}
	}
	_ = up.Close()
	_ = c.ws.Close()
	<-done
}

// Script makes connections opened from now on get first, as a scripted
// Server's do, even in relay mode. Connections already open are kept.
func (s *Server) Script(first ...*livekit.SignalResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.First, s.scripted = first, true
}

// Inject sends res to the most recent connection, between whatever the
// upstream server sends.
func (s *Server) Inject(res *livekit.SignalResponse) error {
	s.mu.Lock()
	var c *client
	if n := len(s.clients); n > 0 {
		c = s.clients[n-1]
	}
	s.mu.Unlock()
	if c == nil {
		return errors.New("fakesignal: no connection")
	}
	return c.send(res)
}

// Connections returns how many signal connections were accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Close closes every connection and the listener, and waits for the
// server's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	clients := s.clients
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.ws.Close()
	}
	err := s.srv.Close()
	<-s.served
	s.conns.Wait()
	return err
}
