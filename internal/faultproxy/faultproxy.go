// Package faultproxy provides a loopback TCP proxy for tests that can inject
// network faults into a live connection: abrupt cuts, stalls, added latency
// and refused connections.
//
// The proxy is byte-transparent and full duplex, so it can sit in front of any
// TCP protocol, including WebSocket connections. Half-closes (EOF in one
// direction) are propagated to the other side with CloseWrite.
//
// Goroutine ownership: the Proxy owns one accept goroutine and one goroutine
// per accepted connection; that per-connection goroutine owns the four
// goroutines that move bytes (a reader and a writer for each direction) and
// waits for them before it returns. Close stops everything and waits for all
// of them.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// chunkSize is the size of a single read from a socket.
	chunkSize = 32 << 10
	// queueLen bounds how many chunks may be read but not yet written per
	// direction; once full, the reader stops reading and TCP flow control
	// pushes back on the sender.
	queueLen = 16
)

// Proxy is a TCP proxy listening on a loopback port that forwards every
// accepted connection to a fixed loopback target and can inject faults.
// All methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc

	delay atomic.Int64 // time.Duration applied to every forwarded chunk

	mu       sync.Mutex
	stalled  bool
	resume   chan struct{} // closed by Unstall; valid while stalled
	refuse   bool
	closed   bool
	accepted int
	conns    map[*conn]struct{}

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New listens on 127.0.0.1 on a free port and forwards every accepted
// connection to target ("127.0.0.1:port"). Only loopback addresses may be
// targets: an IP literal in 127.0.0.0/8 or ::1 and a numeric port are
// required, and any other target yields an error.
func New(target string) (*Proxy, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

func checkTarget(target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("faultproxy: invalid target %q: %w", target, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("faultproxy: target %q is not a loopback IP address", target)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("faultproxy: target %q has an invalid port", target)
	}
	return nil
}

// Addr returns the address the proxy listens on, in the form "127.0.0.1:port".
func (p *Proxy) Addr() string {
	return p.ln.Addr().String()
}

// URL returns the proxy address as a URL with the given scheme, for example
// URL("ws") returns "ws://127.0.0.1:port".
func (p *Proxy) URL(scheme string) string {
	return scheme + "://" + p.Addr()
}

// Cut closes every connection open now, on both the client and the server
// side, abruptly: the sockets are closed with SO_LINGER 0 so that peers see a
// TCP RST. Data held by the proxy for those connections is discarded. New
// connections are still accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.abort()
	}
}

// Stall stops forwarding in both directions on current and new connections
// while keeping their TCP connections open. Bytes already read by the proxy
// are held, not dropped, and nothing more is read from the sockets while
// stalled, so the kernel buffers fill and senders eventually block. (A write
// to a socket that was already in progress when Stall was called completes.)
// Unstall resumes forwarding what was held. Calling Stall while stalled is a
// no-op, as is calling it after Close.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled || p.closed {
		return
	}
	p.stalled = true
	p.resume = make(chan struct{})
	// Interrupt reads in progress; readers re-check the stall state under
	// p.mu before every read, so no read can slip past this point.
	now := time.Now()
	for c := range p.conns {
		c.interruptReads(now)
	}
}

// Unstall resumes forwarding after Stall, delivering the held bytes first and
// in order. Calling Unstall while not stalled is a no-op.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		return
	}
	p.stalled = false
	close(p.resume)
	p.resume = nil
}

// SetDelay delays every chunk forwarded, in either direction, by d measured
// from the moment the proxy read it; 0 (or a negative value) means no delay.
// Order is always preserved. The new value applies to chunks read after the
// call.
func (p *Proxy) SetDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// Refuse makes the proxy close new connections right after accepting them
// (abruptly, with a TCP RST), simulating a server that is down while the port
// stays reachable. Refuse(false) reverts to forwarding new connections.
// Connections that are already open are not affected.
func (p *Proxy) Refuse(refuse bool) {
	p.mu.Lock()
	p.refuse = refuse
	p.mu.Unlock()
}

// Connections returns how many connections the proxy has accepted so far,
// including those closed immediately because of Refuse.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops listening, closes every connection abruptly and waits for all
// the proxy's goroutines to end. Calling Close more than once is safe; later
// calls return the result of the first.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		cs := make([]*conn, 0, len(p.conns))
		for c := range p.conns {
			cs = append(cs, c)
		}
		p.mu.Unlock()

		p.cancel() // aborts dials in progress
		p.closeErr = p.ln.Close()
		for _, c := range cs {
			c.abort()
		}
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			// The listener was closed, or failed permanently; either way
			// there is nothing more to accept.
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			reset(nc)
			return
		}
		p.accepted++
		if p.refuse {
			p.mu.Unlock()
			reset(nc)
			continue
		}
		c := &conn{p: p, client: nc, done: make(chan struct{})}
		if p.stalled {
			c.interruptReads(time.Now())
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go c.serve()
	}
}

// gate blocks while the proxy is stalled. It returns false if the connection
// was aborted while waiting. If onResume is non-nil it is called with p.mu held
// once the proxy is not stalled, which lets a reader clear its read deadline
// atomically with respect to Stall.
func (p *Proxy) gate(done <-chan struct{}, onResume func()) bool {
	p.mu.Lock()
	for p.stalled {
		resume := p.resume
		p.mu.Unlock()
		select {
		case <-resume:
		case <-done:
			return false
		}
		p.mu.Lock()
	}
	if onResume != nil {
		onResume()
	}
	p.mu.Unlock()
	return true
}

// conn is one proxied connection: a client socket accepted by the proxy and
// the server socket dialed for it.
type conn struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed when the connection is aborted

	mu      sync.Mutex
	server  net.Conn // nil until dialed
	aborted bool
}

// chunk is a block of bytes read from one side, due to be written to the
// other side no earlier than due.
type chunk struct {
	data []byte
	due  time.Time
}

func (c *conn) serve() {
	defer c.p.wg.Done()
	defer func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}()

	var d net.Dialer
	srv, err := d.DialContext(c.p.ctx, "tcp", c.p.target)
	if err != nil {
		c.abort()
		return
	}
	if !c.setServer(srv) {
		return
	}

	var wg sync.WaitGroup
	pipe := func(src, dst net.Conn) {
		ch := make(chan chunk, queueLen)
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.read(src, ch)
		}()
		go func() {
			defer wg.Done()
			c.write(dst, ch)
		}()
	}
	pipe(c.client, srv)
	pipe(srv, c.client)
	wg.Wait()

	// Both directions ended: either cleanly (EOF both ways, already
	// propagated with CloseWrite) or because of an abort.
	c.mu.Lock()
	if !c.aborted {
		c.aborted = true
		close(c.done)
		_ = c.client.Close()
		_ = srv.Close()
	}
	c.mu.Unlock()
}

// setServer records the dialed server socket. If the connection was aborted
// during the dial, it resets srv and returns false.
func (c *conn) setServer(srv net.Conn) bool {
	c.p.mu.Lock()
	stalled := c.p.stalled
	c.p.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		reset(srv)
		return false
	}
	c.server = srv
	if stalled {
		// Harmless if the proxy is no longer stalled: the reader clears
		// the deadline under p.mu before reading.
		_ = srv.SetReadDeadline(time.Now())
	}
	return true
}

// interruptReads makes reads in progress on both sockets return.
func (c *conn) interruptReads(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return
	}
	_ = c.client.SetReadDeadline(t)
	if c.server != nil {
		_ = c.server.SetReadDeadline(t)
	}
}

// abort closes both sockets with a TCP RST and wakes every goroutine of the
// connection. It is idempotent.
func (c *conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return
	}
	c.aborted = true
	close(c.done)
	reset(c.client)
	if c.server != nil {
		reset(c.server)
	}
}

func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// read moves bytes from src into ch until EOF, an error or an abort. ch is
// closed when read returns; the writer tells EOF from abort by c.done.
func (c *conn) read(src net.Conn, ch chan<- chunk) {
	defer close(ch)
	buf := make([]byte, chunkSize)
	clearDeadline := func() { _ = src.SetReadDeadline(time.Time{}) }
	for {
		if !c.p.gate(c.done, clearDeadline) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			ck := chunk{
				data: append([]byte(nil), buf[:n]...),
				due:  time.Now().Add(time.Duration(c.p.delay.Load())),
			}
			select {
			case ch <- ck:
			case <-c.done:
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && !c.isDone():
			// Interrupted by Stall; the gate holds us until Unstall.
		case errors.Is(err, io.EOF):
			return
		default:
			// Reset or closed: propagate abruptly to the other side.
			c.abort()
			return
		}
	}
}

// write moves chunks from ch to dst, honouring stalls and delays. When ch is
// closed after a clean EOF it half-closes dst.
func (c *conn) write(dst net.Conn, ch <-chan chunk) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var ck chunk
		var ok bool
		select {
		case ck, ok = <-ch:
		case <-c.done:
			return
		}
		if !ok {
			if c.isDone() {
				return
			}
			if cw, isCW := dst.(interface{ CloseWrite() error }); isCW {
				if err := cw.CloseWrite(); err != nil {
					c.abort()
				}
			}
			return
		}
		if wait := time.Until(ck.due); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-c.done:
				return
			}
		}
		if !c.p.gate(c.done, nil) {
			return
		}
		if _, err := dst.Write(ck.data); err != nil {
			c.abort()
			return
		}
	}
}

// reset closes nc abruptly so that the peer sees a TCP RST.
func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}
