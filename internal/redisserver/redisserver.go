// Package redisserver runs a redis-server process on a free loopback port,
// for the SDK's cluster tests: livekit-server nodes that share one Redis
// form a cluster. The server keeps nothing on disk (no snapshots, no
// append-only file) and works in a temporary directory of its own, removed
// by Close. Like internal/lkserver, it has no dependency on the testing
// package; internal/lktest wraps it for tests.
package redisserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"time"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/proc"
)

// InstallHint says how to get redis-server.
const InstallHint = "run `make deps` in the SDK's root (it installs Debian's redis-server), " +
	"or set REDIS_SERVER_BIN to a redis-server binary"

// ErrBinaryNotFound is returned when no redis-server binary can be found.
var ErrBinaryNotFound = errors.New("redis-server binary not found")

// Options configures a server. The zero value is usable.
type Options struct {
	// Binary is the redis-server executable; FindBinary's answer when empty.
	Binary string
	// Log receives the server's output as it is written (optional).
	Log io.Writer
	// StartTimeout bounds the wait for the server to answer (default 10 s).
	StartTimeout time.Duration
}

// Server is a running redis-server listening on 127.0.0.1 only.
type Server struct {
	// Addr is host:port, the form livekit-server's redis.address takes.
	Addr string
	// Port is Addr's port.
	Port int

	opts Options
	dir  string
	logs *lkserver.TailBuffer

	mu   sync.Mutex
	proc *proc.Process
}

// FindBinary returns the redis-server executable to run: $REDIS_SERVER_BIN,
// else redis-server on PATH.
func FindBinary() (string, error) {
	if p := os.Getenv("REDIS_SERVER_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: REDIS_SERVER_BIN=%s: %v; %s", ErrBinaryNotFound, p, err, InstallHint)
		}
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w on PATH; %s", ErrBinaryNotFound, InstallHint)
	}
	return p, nil
}

// Start launches a server on a free port of 127.0.0.1 and returns when it
// answers PING. Should another process take the port between choosing and
// binding, Start tries again with another.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		bin, err := FindBinary()
		if err != nil {
			return nil, err
		}
		opts.Binary = bin
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := newServer(opts)
		if err != nil {
			return nil, err
		}
		if err = s.start(ctx); err == nil {
			return s, nil
		}
		_ = os.RemoveAll(s.dir)
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func newServer(opts Options) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "redisserver-")
	if err != nil {
		return nil, err
	}
	return &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port: port,
		opts: opts,
		dir:  dir,
		logs: lkserver.NewTailBuffer(1 << 20),
	}, nil
}

func (s *Server) start(ctx context.Context) error {
	var out io.Writer = s.logs
	if s.opts.Log != nil {
		out = io.MultiWriter(s.logs, s.opts.Log)
	}
	p, err := proc.Start(s.opts.Binary, []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "", // standard output
	}, s.dir, out)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(ctx, p); err != nil {
		_ = s.Stop()
		return fmt.Errorf("redis-server did not start: %w\n--- redis-server log ---\n%s", err, s.Logs())
	}
	return nil
}

// waitReady returns when the server answers PING, it exits, or time is up.
func (s *Server) waitReady(ctx context.Context, p *proc.Process) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		reply, err := s.Do(pctx, "PING")
		pcancel()
		if err == nil && reply == "PONG" {
			return nil
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("server exited: %v", p.ExitError())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL if it does not exit within
// 5 s) and waits for it to exit. It may be called more than once.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p != nil {
		p.Stop(5 * time.Second)
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	_ = os.RemoveAll(s.dir)
	return err
}

// Logs returns the server's output, or its last MiB.
func (s *Server) Logs() string { return s.logs.String() }

// Do sends one command on a connection of its own and returns the reply: a
// string (simple or bulk), an int64, nil (a null reply), or a []any (an
// array). An error reply is returned as an error. It is enough for tests to
// look at what livekit-server keeps in Redis (HGET room_node_map ROOM).
func (s *Server) Do(ctx context.Context, args ...string) (any, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

// maxBulk bounds a bulk reply read by Do: these are test look-ups, not data.
const maxBulk = 64 << 20

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		if n > maxBulk {
			return nil, fmt.Errorf("redis: bulk reply of %d bytes", n)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redis: bad array length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readReply(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unknown reply %q", line)
}
