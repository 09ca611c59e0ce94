// Package interop drives independent LiveKit clients, for the interop tests
// of the Go SDK: a participant on @livekit/rtc-node (LiveKit's Rust core)
// and one on livekit-client in headless Chromium.
//
// Each peer is a Node.js process (peer/host.mjs) that this package starts
// and talks to with JSON lines: commands on the process's standard input,
// replies and events on its file descriptor 3. `make interop` installs what
// the peers need (npm packages under peer/, Debian's chromium) and runs the
// tests in this directory, which are skipped otherwise.
package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/livekit/server-sdk-go/internal/lkserver"
)

// Kinds of peer.
const (
	// KindNode is a participant on @livekit/rtc-node.
	KindNode = "node"
	// KindBrowser is a participant on livekit-client in headless Chromium.
	KindBrowser = "browser"
)

// ErrPeerExited is returned by calls to a peer whose process has ended.
var ErrPeerExited = errors.New("interop: peer process exited")

// Error is an error a peer's command returned: its message, and for RPC
// errors the code and data the peer's SDK gave.
type Error struct {
	Message string `json:"message"`
	Code    int    `json:"code,omitempty"`
	Data    string `json:"data,omitempty"`
	Name    string `json:"name,omitempty"`
}

// Error returns the peer's message, with the RPC code when there is one.
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("peer error %d: %s", e.Code, e.Message)
	}
	return "peer error: " + e.Message
}

// Event is something a peer reported without being asked.
type Event struct {
	Name string          `json:"event"`
	Data json.RawMessage `json:"data"`
	// Seq numbers the peer's events from 0 in arrival order.
	Seq int `json:"-"`
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

type message struct {
	ID     *int            `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Event
}

// Options configures a peer process.
type Options struct {
	// Dir holds host.mjs and its node_modules (default: "peer", relative to
	// the working directory, which is this package's directory in tests).
	Dir string
	// Node is the node executable (default: "node" on PATH).
	Node string
	// Log receives the process's standard output and error (optional).
	Log io.Writer
	// Env adds variables to the process's environment.
	Env []string
}

// Peer is a running peer process.
type Peer struct {
	// Kind is KindNode or KindBrowser.
	Kind string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *os.File // our end of the reply pipe
	done   chan struct{}
	logs   *lkserver.TailBuffer
	readWG sync.WaitGroup

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  int
	pending map[int]chan message
	events  []Event
	changed chan struct{} // closed and replaced when events grow or the process ends
	exited  bool
	waitErr error
}

// Start launches a peer of kind and returns once it is ready for commands.
func Start(ctx context.Context, kind string, opts Options) (*Peer, error) {
	if opts.Dir == "" {
		opts.Dir = "peer"
	}
	if opts.Node == "" {
		opts.Node = "node"
	}
	node, err := exec.LookPath(opts.Node)
	if err != nil {
		return nil, fmt.Errorf("interop: %s not found (run `make interop`, which installs what the peers need): %w", opts.Node, err)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@livekit", "rtc-node")); err != nil {
		return nil, fmt.Errorf("interop: the peers' npm packages are not installed in %s (run `make interop`): %w", dir, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{
		Kind:    kind,
		out:     r,
		done:    make(chan struct{}),
		logs:    lkserver.NewTailBuffer(1 << 20),
		pending: map[int]chan message{},
		changed: make(chan struct{}),
	}
	cmd := exec.Command(node, filepath.Join(dir, "host.mjs"), "--kind", kind)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.ExtraFiles = []*os.File{w} // fd 3
	var logw io.Writer = p.logs
	if opts.Log != nil {
		logw = io.MultiWriter(p.logs, opts.Log)
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("interop: starting the %s peer: %w", kind, err)
	}
	_ = w.Close() // the child holds its own copy
	p.cmd, p.stdin = cmd, stdin
	p.readWG.Add(1)
	go p.read()
	go p.wait()

	if _, err := p.WaitEvent(ctx, "ready", nil); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("interop: the %s peer did not start: %w\n--- peer output ---\n%s", kind, err, p.Logs())
	}
	return p, nil
}

// read delivers the peer's replies and events until its pipe closes.
func (p *Peer) read() {
	defer p.readWG.Done()
	sc := bufio.NewScanner(p.out)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintf(p.logs, "interop: bad line from peer: %v: %q\n", err, sc.Bytes())
			continue
		}
		p.mu.Lock()
		if m.ID != nil {
			if ch, ok := p.pending[*m.ID]; ok {
				delete(p.pending, *m.ID)
				ch <- m
			}
		} else {
			m.Event.Seq = len(p.events)
			p.events = append(p.events, m.Event)
			close(p.changed)
			p.changed = make(chan struct{})
		}
		p.mu.Unlock()
	}
}

// wait reaps the process, then fails the calls still waiting.
func (p *Peer) wait() {
	err := p.cmd.Wait()
	// The reader ends at the end of the pipe, which a grandchild that
	// inherited the descriptor could keep open: give it a moment to drain
	// what the peer wrote, then close our end.
	read := make(chan struct{})
	go func() { p.readWG.Wait(); close(read) }()
	t := time.NewTimer(2 * time.Second)
	select {
	case <-read:
	case <-t.C:
	}
	t.Stop()
	_ = p.out.Close()
	<-read
	p.mu.Lock()
	p.exited, p.waitErr = true, err
	for id, ch := range p.pending {
		delete(p.pending, id)
		close(ch)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// Call sends cmd with args and waits for the reply, which is unmarshaled
// into result (unless nil). A command the peer failed returns an *Error.
func (p *Peer) Call(ctx context.Context, cmd string, args any, result any) error {
	if args == nil {
		args = struct{}{}
	}
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return fmt.Errorf("%w (%v) before %s", ErrPeerExited, p.waitErr, cmd)
	}
	id := p.nextID
	p.nextID++
	ch := make(chan message, 1)
	p.pending[id] = ch
	p.mu.Unlock()

	line, err := json.Marshal(map[string]any{"id": id, "cmd": cmd, "args": args})
	if err != nil {
		p.forget(id)
		return fmt.Errorf("interop: encoding %s: %w", cmd, err)
	}
	p.writeMu.Lock()
	_, err = p.stdin.Write(append(line, '\n'))
	p.writeMu.Unlock()
	if err != nil {
		p.forget(id)
		return fmt.Errorf("interop: sending %s: %w", cmd, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%w (%v) during %s", ErrPeerExited, p.exitErr(), cmd)
		}
		if m.Error != nil {
			return m.Error
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("interop: decoding the reply to %s: %w", cmd, err)
			}
		}
		return nil
	case <-ctx.Done():
		p.forget(id)
		return fmt.Errorf("interop: %s: %w", cmd, ctx.Err())
	}
}

func (p *Peer) forget(id int) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

func (p *Peer) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// WaitEvent returns the first event named name (of all the peer reported,
// from its start) for which match returns true (a nil match takes any).
func (p *Peer) WaitEvent(ctx context.Context, name string, match func(Event) bool) (Event, error) {
	return p.WaitEventAfter(ctx, -1, name, match)
}

// WaitEventAfter is WaitEvent for the events after the one numbered seq.
func (p *Peer) WaitEventAfter(ctx context.Context, seq int, name string, match func(Event) bool) (Event, error) {
	next := seq + 1
	for {
		p.mu.Lock()
		events, changed, exited := p.events, p.changed, p.exited
		p.mu.Unlock()
		for ; next < len(events); next++ {
			if e := events[next]; e.Name == name && (match == nil || match(e)) {
				return e, nil
			}
		}
		if exited {
			return Event{}, fmt.Errorf("%w (%v) while waiting for %s", ErrPeerExited, p.exitErr(), name)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("interop: waiting for event %s: %w", name, ctx.Err())
		}
	}
}

// Events returns the events named name reported so far.
func (p *Peer) Events(name string) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, e := range p.events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Logs returns the end of the process's output.
func (p *Peer) Logs() string { return p.logs.String() }

// Close asks the peer to leave and exit (by closing its input), kills it if
// it has not exited within ten seconds, and returns once it is gone.
func (p *Peer) Close() error {
	_ = p.stdin.Close()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	var ee *exec.ExitError
	if err := p.exitErr(); err != nil && !errors.As(err, &ee) {
		return err
	} else if ee != nil && !ee.Exited() {
		return fmt.Errorf("interop: the %s peer was killed: %w", p.Kind, ee)
	} else if ee != nil {
		return fmt.Errorf("interop: the %s peer exited with %w", p.Kind, ee)
	}
	return nil
}
