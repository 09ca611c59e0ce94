// Package balancer is a failover TCP load balancer for tests: it stands in
// front of several livekit-server nodes the way a production load balancer
// does, so that a client knows one address and a dead node stops getting
// new connections.
//
// It listens on a free port of 127.0.0.1 and hands each new TCP connection
// to the first healthy backend in its list, byte for byte: a WebSocket
// (the signalling socket) and an HTTP request (Twirp, /rtc/validate) go
// through alike, as it does not look inside. Which backends are healthy it
// finds out itself, checking each every HealthInterval (250 ms by default)
// with a TCP connect or, with a HealthPath, an HTTP GET that must answer
// 200. A backend that refuses a connection is taken for down at once, and
// the connection goes to the next one; it is taken back when a check
// succeeds again.
//
// A connection, once handed over, stays with its backend: when the backend
// dies (its process killed, say), the kernel closes its side and the
// balancer closes the client's. A backend that is alive but no longer
// healthy keeps its connections.
//
// Media does not go through the balancer: livekit-server tells a client the
// node's own ICE candidates.
package balancer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configures a Balancer.
type Options struct {
	// Backends are host:port addresses, in order of preference.
	Backends []string
	// HealthPath, when set (say "/"), makes a check an HTTP GET of that
	// path that must answer 200; when empty, a check is a TCP connect.
	HealthPath string
	// HealthInterval is the time between two checks of a backend
	// (default 250 ms).
	HealthInterval time.Duration
	// HealthTimeout bounds one check (default 1 s). A killed backend
	// refuses at once; the timeout only matters for one that hangs.
	HealthTimeout time.Duration
	// HealthFailures is how many checks in a row must fail before a
	// backend is taken for down (default 3), so that one slow answer of a
	// busy backend does not move its clients; a refused connection takes
	// it down at once.
	HealthFailures int
	// DialTimeout bounds connecting to a backend for a client (default 2 s).
	DialTimeout time.Duration
	// Logf, when set, is told when a backend goes down or comes up.
	Logf func(format string, args ...any)
}

// BackendStats is what the balancer knows of one backend.
type BackendStats struct {
	Addr    string
	Healthy bool
	// Active connections now, and all connections handed to it so far.
	Active, Total int64
	// Since is when Healthy last changed (or the balancer's start).
	Since time.Time
}

// Balancer is a running failover balancer. Its methods are safe for
// concurrent use.
type Balancer struct {
	opts     Options
	ln       net.Listener
	backends []*backend
	refused  atomic.Int64

	ctx    context.Context // cancelled by Close: ends checks and dials under way
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

type backend struct {
	addr          string
	active, total atomic.Int64

	mu      sync.Mutex
	healthy bool
	since   time.Time
	fails   int // checks failed in a row
}

// New starts a balancer in front of opts.Backends. It has checked every
// backend once when it returns.
func New(opts Options) (*Balancer, error) {
	if len(opts.Backends) == 0 {
		return nil, errors.New("balancer: no backends")
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 250 * time.Millisecond
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = time.Second
	}
	if opts.HealthFailures <= 0 {
		opts.HealthFailures = 3
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Balancer{opts: opts, ln: ln, conns: map[net.Conn]struct{}{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	now := time.Now()
	for _, addr := range opts.Backends {
		b.backends = append(b.backends, &backend{addr: addr, since: now})
	}
	b.checkAll()
	b.wg.Add(2)
	go b.healthLoop()
	go b.acceptLoop()
	return b, nil
}

// Addr returns the address clients connect to, 127.0.0.1:port.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// URL returns scheme://Addr(): "ws" for a LiveKit URL, "http" for the
// server APIs.
func (b *Balancer) URL(scheme string) string { return scheme + "://" + b.Addr() }

// Stats returns the state of every backend, in the order of Options.Backends.
func (b *Balancer) Stats() []BackendStats {
	out := make([]BackendStats, 0, len(b.backends))
	for _, be := range b.backends {
		be.mu.Lock()
		out = append(out, BackendStats{Addr: be.addr, Healthy: be.healthy, Active: be.active.Load(), Total: be.total.Load(), Since: be.since})
		be.mu.Unlock()
	}
	return out
}

// Refused returns how many client connections were closed at once because
// no backend was healthy or none could be reached.
func (b *Balancer) Refused() int64 { return b.refused.Load() }

// Close stops listening, closes every connection going through the
// balancer and returns when all of its goroutines have ended. It may be
// called more than once.
func (b *Balancer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wg.Wait()
		return nil
	}
	b.closed = true
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.cancel()
	err := b.ln.Close()
	b.wg.Wait()
	return err
}

func (b *Balancer) healthLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.checkAll()
		}
	}
}

// checkAll checks every backend, side by side, and returns when all are
// done (or the balancer is closing).
func (b *Balancer) checkAll() {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, be := range b.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.check(ctx, be.addr)
			if b.ctx.Err() != nil {
				return // closing: the check proves nothing
			}
			if err == nil {
				b.setHealthy(be, true, "check")
				return
			}
			be.mu.Lock()
			be.fails++
			fails := be.fails
			be.mu.Unlock()
			if fails >= b.opts.HealthFailures || errors.Is(err, syscall.ECONNREFUSED) {
				b.setHealthy(be, false, "check: "+err.Error())
			}
		}()
	}
	wg.Wait()
}

// check is one health check of addr.
func (b *Balancer) check(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if b.opts.HealthPath == "" {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+b.opts.HealthPath, nil)
	if err != nil {
		return err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func (b *Balancer) setHealthy(be *backend, healthy bool, why string) {
	be.mu.Lock()
	if healthy {
		be.fails = 0
	}
	changed := be.healthy != healthy
	if changed {
		be.healthy, be.since = healthy, time.Now()
	}
	be.mu.Unlock()
	if changed && b.opts.Logf != nil {
		state := "down"
		if healthy {
			state = "up"
		}
		b.opts.Logf("balancer: backend %s is %s (%s)", be.addr, state, why)
	}
}

func (be *backend) isHealthy() bool {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.healthy
}

func (b *Balancer) acceptLoop() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors, say
			continue
		}
		if !b.track(c) {
			_ = c.Close()
			return
		}
		b.wg.Add(1)
		go b.serve(c)
	}
}

// track registers c for Close; false when the balancer is closing.
func (b *Balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *Balancer) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// serve hands client to the first healthy backend that takes a connection
// and copies bytes both ways until either side closes.
func (b *Balancer) serve(client net.Conn) {
	defer b.wg.Done()
	defer b.untrack(client)
	defer client.Close()
	be, server := b.dial()
	if server == nil {
		b.refused.Add(1)
		return
	}
	if !b.track(server) {
		_ = server.Close()
		return
	}
	defer b.untrack(server)
	be.active.Add(1)
	be.total.Add(1)
	defer be.active.Add(-1)

	// Whichever direction ends first ends the other: a backend that died
	// (or a client that left) takes its peer's connection with it.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
		_ = client.Close()
		close(done)
	}()
	_, _ = io.Copy(client, server)
	_ = client.Close()
	_ = server.Close()
	<-done
}

// dial connects to the first healthy backend that answers; a backend that
// does not is marked down.
func (b *Balancer) dial() (*backend, net.Conn) {
	for _, be := range b.backends {
		if !be.isHealthy() {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.DialTimeout)
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", be.addr)
		cancel()
		if err == nil {
			return be, c
		}
		if b.ctx.Err() != nil {
			return nil, nil
		}
		b.setHealthy(be, false, "dial: "+err.Error())
	}
	return nil, nil
}
