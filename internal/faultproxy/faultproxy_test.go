package faultproxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer is a loopback TCP server that writes back everything it reads
// and half-closes when the client does.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, err := io.Copy(c, c)
			if err == nil {
				_ = c.(*net.TCPConn).CloseWrite()
				// Wait for the peer to close so that the client side
				// sees a clean EOF rather than a reset.
				_, _ = io.Copy(io.Discard, c)
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

func (s *echoServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// expectClosed connects to p and expects the proxy to close the connection
// promptly. The close may race with the handshake, so a reset reported by the
// dial itself counts as well.
func expectClosed(t *testing.T, p *Proxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("dial timed out: %v", err)
		}
		return
	}
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: n=%d err=%v, want EOF or reset", n, err)
	}
}

// roundTrip writes msg and reads the same number of bytes back.
func roundTrip(t *testing.T, c net.Conn, msg []byte) []byte {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// echoAll writes payload concurrently with reading the echo until EOF,
// half-closing after the write.
func echoAll(c *net.TCPConn, payload []byte) ([]byte, error) {
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil {
		return got, err
	}
	return got, rerr
}

func TestPassthroughFullDuplex(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())

	if got, want := p.URL("ws"), "ws://"+p.Addr(); got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}

	const conns = 3
	payloads := make([][]byte, conns)
	for i := range payloads {
		payloads[i] = randomBytes(t, 2<<20+i*7919)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := dial(t, p)
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		wg.Add(1)
		go func(c *net.TCPConn, payload []byte) {
			defer wg.Done()
			got, err := echoAll(c, payload)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, payload) {
				errs <- errors.New("echoed payload differs")
			}
		}(c, payloads[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.Connections(); n != conns {
		t.Errorf("Connections = %d, want %d", n, conns)
	}
}

func TestCut(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())

	c := dial(t, p)
	if got := roundTrip(t, c, []byte("before")); string(got) != "before" {
		t.Fatalf("got %q", got)
	}

	p.Cut()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 16))
	if err == nil {
		t.Fatal("read after Cut succeeded")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Cut timed out instead of failing: %v", err)
	}

	c2 := dial(t, p)
	if got := roundTrip(t, c2, []byte("after")); string(got) != "after" {
		t.Fatalf("got %q", got)
	}
	if n := p.Connections(); n != 2 {
		t.Errorf("Connections = %d, want 2", n)
	}
}

func TestStallHoldsAndUnstallDelivers(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())

	c := dial(t, p)
	roundTrip(t, c, []byte("warm up"))

	p.Stall()
	p.Stall() // idempotent

	msg := []byte("held while stalled")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	// A connection opened while stalled is held too.
	c2 := dial(t, p)
	if _, err := c2.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	for _, cc := range []net.Conn{c, c2} {
		_ = cc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := cc.Read(make([]byte, 64))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read while stalled: n=%d err=%v, want timeout", n, err)
		}
	}

	p.Unstall()
	p.Unstall() // idempotent

	for _, tc := range []struct {
		c    net.Conn
		want string
	}{{c, string(msg)}, {c2, "new"}} {
		_ = tc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(tc.want))
		if _, err := io.ReadFull(tc.c, got); err != nil {
			t.Fatalf("read after Unstall: %v", err)
		}
		if string(got) != tc.want {
			t.Fatalf("got %q, want %q", got, tc.want)
		}
	}
}

func TestStallAppliesBackpressure(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())

	c := dial(t, p)
	roundTrip(t, c, []byte("warm up"))
	p.Stall()

	// Far more than loopback socket buffers hold when nobody reads.
	payload := randomBytes(t, 16<<20)
	var written atomic.Int64
	werr := make(chan error, 1)
	go func() {
		const piece = 64 << 10
		for off := 0; off < len(payload); off += piece {
			n, err := c.Write(payload[off:min(off+piece, len(payload))])
			written.Add(int64(n))
			if err != nil {
				werr <- err
				return
			}
		}
		werr <- c.CloseWrite()
	}()

	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while stalled: n=%d err=%v, want timeout", n, err)
	}
	if w := written.Load(); w >= int64(len(payload)) {
		t.Fatalf("writer finished %d bytes while stalled; proxy is not holding back", w)
	} else {
		t.Logf("written while stalled: %d of %d bytes", w, len(payload))
	}

	p.Unstall()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after Unstall: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed payload differs (got %d bytes, want %d)", len(got), len(payload))
	}
}

func TestSetDelay(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())
	c := dial(t, p)
	roundTrip(t, c, []byte("warm up"))

	const d = 150 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	if got := roundTrip(t, c, []byte("ping")); string(got) != "ping" {
		t.Fatalf("got %q", got)
	}
	// The chunk crosses the proxy twice: once each way.
	if el := time.Since(start); el < 2*d {
		t.Fatalf("round trip took %v, want at least %v", el, 2*d)
	}

	// Order is preserved across many delayed chunks.
	var want bytes.Buffer
	for i := 0; i < 50; i++ {
		msg := []byte{byte(i), byte(i >> 8), 'x'}
		want.Write(msg)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("delayed chunks were reordered")
	}

	// A delay set and taken back before anything crosses delays nothing:
	// the round trip would otherwise take an hour (roundTrip gives 5 s).
	p.SetDelay(time.Hour)
	p.SetDelay(0)
	if got := roundTrip(t, c, []byte("fast")); string(got) != "fast" {
		t.Fatalf("got %q", got)
	}
}

func TestRefuse(t *testing.T) {
	echo := newEchoServer(t)
	p := newProxy(t, echo.addr())

	open := dial(t, p)
	roundTrip(t, open, []byte("open"))

	p.Refuse(true)
	expectClosed(t, p)
	// Connections established before Refuse keep working.
	roundTrip(t, open, []byte("still open"))

	p.Refuse(false)
	c2 := dial(t, p)
	if got := roundTrip(t, c2, []byte("back")); string(got) != "back" {
		t.Fatalf("got %q", got)
	}
	if n := p.Connections(); n != 3 {
		t.Errorf("Connections = %d, want 3", n)
	}
}

func TestServerDown(t *testing.T) {
	// Reserve a port and release it so nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	p := newProxy(t, addr)
	expectClosed(t, p)
	if n := p.Connections(); n != 1 {
		t.Errorf("Connections = %d, want 1", n)
	}
}

func TestNewRejectsNonLoopback(t *testing.T) {
	for _, target := range []string{
		"10.0.0.1:80",
		"192.168.1.1:7880",
		"0.0.0.0:7880",
		"[::]:7880",
		"8.8.8.8:53",
		"example.com:80",
		"localhost:7880",
		"127.0.0.1",
		"127.0.0.1:0",
		"127.0.0.1:http",
		"",
	} {
		if p, err := New(target); err == nil {
			_ = p.Close()
			t.Errorf("New(%q) succeeded, want error", target)
		}
	}
	for _, target := range []string{"127.0.0.1:7880", "127.1.2.3:1", "[::1]:7880"} {
		p, err := New(target)
		if err != nil {
			t.Errorf("New(%q): %v", target, err)
			continue
		}
		_ = p.Close()
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	echo := newEchoServer(t)
	p, err := New(echo.addr())
	if err != nil {
		t.Fatal(err)
	}

	// One connection with data held by a stall, one with data in a long
	// delay, one idle.
	stalled := dial(t, p)
	roundTrip(t, stalled, []byte("x"))
	delayed := dial(t, p)
	roundTrip(t, delayed, []byte("x"))
	idle := dial(t, p)
	roundTrip(t, idle, []byte("x"))

	p.SetDelay(time.Hour)
	if _, err := delayed.Write([]byte("delayed")); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	if _, err := stalled.Write(bytes.Repeat([]byte("s"), 32<<10)); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Against an hour of delay, 10 s is "Close did not wait for it".
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Close took %v", el)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	for _, c := range []net.Conn{stalled, delayed, idle} {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("connection still open after Close")
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still accepting after Close")
	}

	// Stall, Unstall, Cut and friends are harmless after Close.
	p.Stall()
	p.Unstall()
	p.Cut()

	for _, c := range []net.Conn{stalled, delayed, idle} {
		_ = c.Close()
	}
	echo.close()
	goleak.VerifyNone(t)
}
