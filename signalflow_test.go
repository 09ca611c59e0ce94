package lksdk

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// admitAsync runs g.admit on a goroutine of its own and returns a channel
// that receives its result, and one closed when it has to wait.
func admitAsync(g *flowGate, size int, stop <-chan struct{}) (<-chan bool, <-chan struct{}) {
	result, paused := make(chan bool, 1), make(chan struct{})
	go func() { result <- g.admit(size, stop, nil, func() { close(paused) }) }()
	return result, paused
}

// The gate admits up to its item bound, then makes the reader wait until
// an item is released, and counts the wait.
func TestFlowGateWaitsAtTheItemBound(t *testing.T) {
	g := newFlowGate(2, 1<<20)
	require.True(t, g.admit(10, nil, nil, nil))
	require.True(t, g.admit(10, nil, nil, nil))
	result, paused := admitAsync(g, 10, nil)
	<-paused
	select {
	case <-result:
		t.Fatal("admitted past the bound")
	default:
	}
	g.release(10)
	require.True(t, <-result)
	now, high, highBytes, pauses := g.counts()
	require.Equal(t, 2, now)
	require.Equal(t, 2, high)
	require.Equal(t, 20, highBytes)
	require.Equal(t, uint64(1), pauses)
}

// The byte bound holds the same way, except that one item is always
// admitted into an empty gate, however big: a single large response is
// never refused for ever.
func TestFlowGateWaitsAtTheByteBound(t *testing.T) {
	g := newFlowGate(100, 1000)
	require.True(t, g.admit(5000, nil, nil, nil), "one item is admitted into an empty gate")
	result, paused := admitAsync(g, 1, nil)
	<-paused
	g.release(5000)
	require.True(t, <-result)
	require.True(t, g.admit(999, nil, nil, nil))
	result, paused = admitAsync(g, 1, nil)
	<-paused
	g.release(1)
	require.True(t, <-result)
}

// A reader waiting at the bound is let go, admitting nothing, when either
// of its stop channels closes.
func TestFlowGateWaitEndsOnStop(t *testing.T) {
	for _, which := range []int{1, 2} {
		g := newFlowGate(1, 1<<20)
		require.True(t, g.admit(1, nil, nil, nil))
		stop := make(chan struct{})
		result, paused := make(chan bool, 1), make(chan struct{})
		go func() {
			if which == 1 {
				result <- g.admit(1, stop, nil, func() { close(paused) })
			} else {
				result <- g.admit(1, nil, stop, func() { close(paused) })
			}
		}()
		<-paused
		close(stop)
		require.False(t, <-result, "stop channel %d", which)
		now, _, _, _ := g.counts()
		require.Equal(t, 1, now, "a stopped wait takes nothing")
	}
}

// postLimited refuses past its bound, and keeps refusing after the queue
// drains, so what runs is a prefix of what was posted; post still queues.
func TestSerialQueuePostLimited(t *testing.T) {
	q := newSerialQueue()
	defer q.closeAndWait()
	hold, running := make(chan struct{}), make(chan struct{})
	require.True(t, q.post(func() { close(running); <-hold }))
	<-running // the queue is empty, its goroutine busy
	var ran []int
	// The running function counts against the bound: 1 + 3 = 4.
	for i := range 3 {
		require.Equal(t, posted, q.postLimited(func() { ran = append(ran, i) }, 4))
	}
	if !assert.Equal(t, postFull, q.postLimited(func() { ran = append(ran, 3) }, 4)) {
		close(hold)
		return
	}
	require.Equal(t, postRefused, q.postLimited(func() { ran = append(ran, 4) }, 4))
	last := make(chan struct{})
	require.True(t, q.post(func() { close(last) }), "post queues past the bound")
	close(hold)
	<-last
	require.Equal(t, postRefused, q.postLimited(func() { ran = append(ran, 5) }, 4), "refusing is for good")
	done := make(chan struct{})
	q.post(func() { close(done) })
	<-done
	require.Equal(t, []int{0, 1, 2}, ran)
	require.Equal(t, uint64(3), q.refusedCount())
	require.Equal(t, 5, q.highWater())
}

// A function of the queue may post to it, limited or not, without
// waiting, even with the queue at its bound.
func TestSerialQueuePostFromItselfNeverWaits(t *testing.T) {
	q := newSerialQueue()
	defer q.closeAndWait()
	done := make(chan []postResult, 1)
	q.post(func() {
		var rs []postResult
		for range 5 {
			rs = append(rs, q.postLimited(func() {}, 3)) // itself and two more
		}
		q.post(func() {})
		done <- rs
	})
	require.Equal(t, []postResult{posted, posted, postFull, postRefused, postRefused}, <-done)
}

// speakersResponse is a small response that the engine applies on its loop.
func speakersResponse() *livekit.SignalResponse {
	return &livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{
		SpeakersChanged: &livekit.SpeakersChanged{Speakers: []*livekit.SpeakerInfo{{Sid: "PA_x", Level: 0.5, Active: true}}},
	}}
}

// The engine's signal reader waits while MaxPendingSignalResponses wait
// for the loop; the loop itself keeps posting to itself meanwhile without
// waiting; and closing the engine ends the reader's wait.
func TestSignalReaderWaitsForTheLoopAndCloseEndsIt(t *testing.T) {
	e := newRTCEngine(engineOptions{}, nil)
	e.loop = newSerialQueue()
	hold := make(chan struct{})
	running := make(chan struct{})
	e.post(func() { close(running); <-hold })
	<-running
	connStop := make(chan struct{})
	for range MaxPendingSignalResponses {
		e.deliverResponse(speakersResponse(), 20, connStop)
	}
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		e.deliverResponse(speakersResponse(), 20, connStop)
	}()
	require.Eventually(t, func() bool {
		_, _, _, pauses := e.signalGate.counts()
		return pauses == 1
	}, 10*time.Second, time.Millisecond, "the reader waits at the bound")

	selfPosted := make(chan bool, 1)
	close(hold)
	e.post(func() { selfPosted <- e.post(func() {}) })
	require.True(t, <-selfPosted, "the loop posts to itself while the reader waits")
	<-reader // the loop drained: the reader got in
	drained := make(chan struct{})
	e.post(func() { close(drained) })
	<-drained
	now, high, _, _ := e.signalGate.counts()
	require.Equal(t, 0, now, "every admitted response was applied and released")
	require.Equal(t, MaxPendingSignalResponses, high)

	// Block the loop again, fill the gate, and close with a reader waiting.
	hold2 := make(chan struct{})
	running2 := make(chan struct{})
	e.post(func() { close(running2); <-hold2 })
	<-running2
	for range MaxPendingSignalResponses {
		e.deliverResponse(speakersResponse(), 20, connStop)
	}
	reader2 := make(chan struct{})
	go func() {
		defer close(reader2)
		e.deliverResponse(speakersResponse(), 20, connStop)
	}()
	require.Eventually(t, func() bool {
		_, _, _, pauses := e.signalGate.counts()
		return pauses == 2
	}, 10*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() { defer close(closed); e.Close() }()
	<-reader2 // Close ends the wait before the loop is let go
	close(hold2)
	<-closed
}
