// Package proc runs the server processes the SDK's tests start
// (livekit-server, redis-server): started with their output kept, watched
// until they exit, stopped gently or killed, and never outliving the test
// process on Linux.
package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a running child process. Its methods are safe for concurrent
// use.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited

	mu      sync.Mutex
	exitErr error
}

// Start runs binary with args in dir (the current directory when empty),
// its standard output and error going to out. The kernel stops it when the
// process that started it dies (on Linux).
func Start(binary string, args []string, dir string, out io.Writer) (*Process, error) {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitError is how the process ended, once it has (nil before).
func (p *Process) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Stop sends SIGTERM, and again after each of waits while the process
// lives on, then kills it; it returns once the process has exited. It may
// be called more than once.
func (p *Process) Stop(waits ...time.Duration) {
	for _, wait := range waits {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(wait):
		}
	}
	_ = p.Kill()
}

// Kill ends the process at once with SIGKILL, as a crash would, and
// returns once it has exited. It may be called more than once.
func (p *Process) Kill() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.exited
	return nil
}
