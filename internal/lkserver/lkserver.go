// Package lkserver runs a real livekit-server process on free loopback ports,
// for the SDK's tests and demo. It has no dependency on the testing package;
// internal/lktest wraps it for tests.
package lkserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/livekit/server-sdk-go/internal/proc"
)

// InstallHint says how to get the server binary.
const InstallHint = "run `make deps` in the SDK's root (it installs the pinned livekit-server into ./bin), " +
	"or set LIVEKIT_SERVER_BIN to a livekit-server binary"

// ErrBinaryNotFound is returned when no livekit-server binary can be found.
var ErrBinaryNotFound = errors.New("livekit-server binary not found")

// Options configures a server. The zero value is usable.
type Options struct {
	// Binary is the livekit-server executable; FindBinary's answer when empty.
	Binary string
	// APIKey and APISecret are the server's only key pair; random when empty.
	APIKey, APISecret string
	// WebhookURLs receive the server's webhooks, signed with APIKey.
	WebhookURLs []string
	// Room defaults: seconds an empty room is kept, seconds a room is kept
	// after its last participant left, participants allowed (0: no limit).
	EmptyTimeout, DepartureTimeout, MaxParticipants uint32
	// Log receives the server's output as it is written (optional).
	Log io.Writer
	// StartTimeout bounds the wait for the server to answer (default 30 s).
	StartTimeout time.Duration

	// RedisAddress (host:port) makes the server a node of a cluster: the
	// nodes sharing one Redis (and one key pair) route rooms and
	// signalling to each other. Empty: a single node keeping its state in
	// memory.
	RedisAddress string
	// StatsUpdateInterval is how often a node refreshes its entry in Redis
	// (the server's node_stats.stats_update_interval; 0: its default, 2 s).
	// The other nodes take a node whose entry is 5 s old (a constant of the
	// server) for dead, and move its rooms elsewhere on the next join.
	// Intervals under a second make the server drop most refreshes: it
	// compares second-resolution timestamps with the interval.
	StatsUpdateInterval time.Duration
}

// Server is a running livekit-server.
type Server struct {
	// URL is the signalling address, ws://127.0.0.1:port.
	URL string
	// HTTPURL is the server API address, http://127.0.0.1:port.
	HTTPURL           string
	APIKey, APISecret string
	HTTPPort          int
	RTCTCPPort        int
	RTCUDPPort        int

	opts       Options
	configPath string
	dir        string

	mu     sync.Mutex
	proc   *proc.Process // the current run
	logs   *TailBuffer
	nodeID string
}

// FindBinary returns the livekit-server executable to run: $LIVEKIT_SERVER_BIN,
// else bin/livekit-server in the module root above the working directory.
func FindBinary() (string, error) {
	if p := os.Getenv("LIVEKIT_SERVER_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: LIVEKIT_SERVER_BIN=%s: %v; %s", ErrBinaryNotFound, p, err, InstallHint)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "livekit-server")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w at %s; %s", ErrBinaryNotFound, p, InstallHint)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w (no go.mod above the working directory); %s", ErrBinaryNotFound, InstallHint)
		}
		dir = parent
	}
}

// Start launches a server and returns when it answers HTTP requests. Ports
// are chosen free on 127.0.0.1; should another process take one in the
// moment between choosing and binding, Start tries again with new ports.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		bin, err := FindBinary()
		if err != nil {
			return nil, err
		}
		opts.Binary = bin
	}
	if opts.APIKey == "" {
		opts.APIKey = "APItest" + randomHex(6)
	}
	if opts.APISecret == "" {
		opts.APISecret = randomHex(24) // the server wants 32 characters or more
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
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
		if !strings.Contains(err.Error(), "address already in use") || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func newServer(opts Options) (*Server, error) {
	httpPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	tcpPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	udpPort, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lkserver-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:        fmt.Sprintf("ws://127.0.0.1:%d", httpPort),
		HTTPURL:    fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		APIKey:     opts.APIKey,
		APISecret:  opts.APISecret,
		HTTPPort:   httpPort,
		RTCTCPPort: tcpPort,
		RTCUDPPort: udpPort,
		opts:       opts,
		dir:        dir,
		configPath: filepath.Join(dir, "livekit.yaml"),
		logs:       NewTailBuffer(4 << 20),
	}
	cfg, err := json.MarshalIndent(s.config(), "", "  ") // JSON is YAML
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.configPath, cfg, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// config is the server's configuration: everything on loopback, ICE included.
func (s *Server) config() map[string]any {
	cfg := map[string]any{
		"port":           s.HTTPPort,
		"bind_addresses": []string{"127.0.0.1"},
		"keys":           map[string]string{s.APIKey: s.APISecret},
		"rtc": map[string]any{
			"tcp_port":                  s.RTCTCPPort,
			"udp_port":                  s.RTCUDPPort,
			"node_ip":                   "127.0.0.1",
			"use_external_ip":           false,
			"enable_loopback_candidate": true,
			"interfaces":                map[string]any{"includes": []string{"lo"}},
			"ips":                       map[string]any{"includes": []string{"127.0.0.1/32"}},
		},
		"room": map[string]any{
			"empty_timeout":     s.opts.EmptyTimeout,
			"departure_timeout": s.opts.DepartureTimeout,
			"max_participants":  s.opts.MaxParticipants,
		},
		"logging": map[string]any{"level": "info"},
	}
	if len(s.opts.WebhookURLs) > 0 {
		cfg["webhook"] = map[string]any{"api_key": s.APIKey, "urls": s.opts.WebhookURLs}
	}
	if s.opts.RedisAddress != "" {
		cfg["redis"] = map[string]any{"address": s.opts.RedisAddress}
	}
	if s.opts.StatsUpdateInterval > 0 {
		cfg["node_stats"] = map[string]any{"stats_update_interval": s.opts.StatsUpdateInterval.String()}
	}
	return cfg
}

func (s *Server) start(ctx context.Context) error {
	var out io.Writer = s.logs
	if s.opts.Log != nil {
		out = io.MultiWriter(s.logs, s.opts.Log)
	}
	p, err := proc.Start(s.opts.Binary, []string{"--config", s.configPath}, "", out)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(ctx, p); err != nil {
		_ = s.Stop()
		return fmt.Errorf("livekit-server did not start: %w\n--- server log ---\n%s", err, s.Logs())
	}
	// The server names its node in the line it logs before it listens; the
	// log holds earlier runs' lines too.
	id := ""
	if m := nodeIDPattern.FindAllStringSubmatch(s.Logs(), -1); m != nil {
		id = m[len(m)-1][1]
	}
	s.mu.Lock()
	s.nodeID = id
	s.mu.Unlock()
	return nil
}

var nodeIDPattern = regexp.MustCompile(`starting LiveKit server.*"nodeID": "([A-Za-z0-9_]+)"`)

// NodeID returns the node id the running server chose at its last start
// (a new one each start), as it appears in Redis and in its log; empty if
// its log did not say.
func (s *Server) NodeID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodeID
}

// waitReady returns when the server answers GET /, it exits, or time is up.
func (s *Server) waitReady(ctx context.Context, p *proc.Process) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(s.HTTPURL + "/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
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

func (s *Server) current() *proc.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Stop stops the server (SIGTERM, then SIGKILL if it does not exit) and waits for it
// to exit. It may be called more than once.
func (s *Server) Stop() error {
	if p := s.current(); p != nil {
		// The server drops a stop asked for in its first 100 ms of
		// serving, and treats a second signal as a forced stop: signal
		// again after a moment, and kill it if that does not work either.
		p.Stop(250*time.Millisecond, 2*time.Second)
	}
	return nil
}

// Kill ends the server at once with SIGKILL, as a crash would: it closes
// no connection itself, tells no other node and leaves its entry in
// Redis. It waits for the process to exit and may be called more than
// once; Restart starts the server again.
func (s *Server) Kill() error {
	if p := s.current(); p != nil {
		return p.Kill()
	}
	return nil
}

// Close stops the server and removes its configuration directory.
func (s *Server) Close() error {
	err := s.Stop()
	_ = os.RemoveAll(s.dir)
	return err
}

// Restart stops the server and starts it again on the same ports, with the
// same keys and configuration.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start(ctx)
}

// Logs returns the server's output, or its last 4 MiB.
func (s *Server) Logs() string {
	return s.logs.String()
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TailBuffer keeps the last max bytes written to it: a process's log for a
// failed test's output. It is safe for concurrent use.
type TailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

// NewTailBuffer returns a TailBuffer keeping max bytes.
func NewTailBuffer(max int) *TailBuffer { return &TailBuffer{max: max} }

// Write keeps p, dropping the oldest bytes past the limit.
func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// String returns what is kept.
func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
