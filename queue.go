package lksdk

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// serialQueue runs the functions posted to it one at a time, in the order
// they were posted, on a goroutine of its own. Posting never blocks: post
// lets the queue grow as needed, so a slow function delays only those after
// it; postLimited refuses instead past a bound (see postLimited).
type serialQueue struct {
	mu      sync.Mutex
	items   []func()
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	goid    uint64 // of the queue's goroutine
	started chan struct{}
	waiting int    // functions posted and not yet run (queued, or in run's batch)
	high    int    // the most functions that waited at once
	full    bool   // postLimited found the queue at its bound
	refused uint64 // functions postLimited refused
}

func newSerialQueue() *serialQueue {
	q := &serialQueue{wake: make(chan struct{}, 1), done: make(chan struct{}), started: make(chan struct{})}
	go q.run()
	<-q.started
	return q
}

// post queues fn; it reports false if the queue was closed.
func (q *serialQueue) post(fn func()) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.pushLocked(fn)
	return true
}

// pushLocked appends fn, unlocks the queue and wakes its goroutine.
func (q *serialQueue) pushLocked(fn func()) {
	q.items = append(q.items, fn)
	q.waiting++
	q.high = max(q.high, q.waiting)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// postResult is what postLimited did.
type postResult int

const (
	posted      postResult = iota // fn was queued
	postClosed                    // the queue was closed: fn was not queued
	postFull                      // fn was refused: the queue first reached its bound now
	postRefused                   // fn was refused: the queue reached its bound before
)

// postLimited queues fn unless limit functions wait already. The first
// refusal makes every later postLimited refuse too, however far the queue
// drains, so that what runs is always a prefix of what was posted, never a
// sequence with a hole. post still queues, past the bound.
func (q *serialQueue) postLimited(fn func(), limit int) postResult {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return postClosed
	case q.full:
		q.refused++
		q.mu.Unlock()
		return postRefused
	case q.waiting >= limit:
		q.full = true
		q.refused++
		q.mu.Unlock()
		return postFull
	}
	q.pushLocked(fn)
	return posted
}

// refusedCount returns how many functions postLimited refused.
func (q *serialQueue) refusedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.refused
}

// close makes the queue run what was posted before it and then stop.
func (q *serialQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// closeAndWait closes the queue and waits until its goroutine is gone,
// unless it is called from that goroutine (a function of the queue closing
// it), which then ends as soon as that function returns.
func (q *serialQueue) closeAndWait() {
	q.close()
	if q.onQueue() {
		return
	}
	<-q.done
}

// discardAndWait drops what was posted and not yet run, closes the queue and
// waits for its goroutine to end.
func (q *serialQueue) discardAndWait() {
	q.mu.Lock()
	q.waiting -= len(q.items)
	q.items = nil
	q.mu.Unlock()
	q.closeAndWait()
}

// highWater returns the most functions that waited at once to run.
func (q *serialQueue) highWater() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high
}

// onQueue reports whether the caller runs on the queue's goroutine.
func (q *serialQueue) onQueue() bool {
	return curGoroutineID() == q.goid
}

func (q *serialQueue) run() {
	defer close(q.done)
	q.goid = curGoroutineID()
	close(q.started)
	var batch []func()
	for {
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		closed := q.closed
		q.mu.Unlock()
		for i, fn := range batch {
			fn()
			batch[i] = nil
			q.mu.Lock()
			q.waiting--
			q.mu.Unlock()
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-q.wake
		}
	}
}

// curGoroutineID returns the running goroutine's id, read from its stack
// header ("goroutine 18 [running]:"). It is used only to tell whether a call
// comes from inside a callback, never on a per-packet path.
func curGoroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
