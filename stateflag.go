package lksdk

import (
	"context"
	"sync"
)

// stateFlag is a condition that goroutines can wait for: set, or not yet.
type stateFlag struct {
	mu sync.Mutex
	ch chan struct{} // closed while set
	on bool
}

func newStateFlag() *stateFlag { return &stateFlag{ch: make(chan struct{})} }

func (f *stateFlag) set() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		f.on = true
		close(f.ch)
	}
}

func (f *stateFlag) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on {
		f.on = false
		f.ch = make(chan struct{})
	}
}

func (f *stateFlag) isSet() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on
}

// wait returns nil once the flag is set, or ctx's error.
func (f *stateFlag) wait(ctx context.Context) error {
	f.mu.Lock()
	ch := f.ch
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
