package lksdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
)

// roomState is where a room is in its life. It only moves forward, except
// between connected and reconnecting:
//
//	new → connecting → connected ⇄ reconnecting → closing → closed
//	new → closed (Disconnect before Join)
//	connecting → closing → closed (a failed or cancelled join)
//
// Every change goes through Room.transition.
type roomState int

const (
	stateNew roomState = iota
	stateConnecting
	stateConnected
	stateReconnecting
	stateClosing
	stateClosed
)

func (s roomState) String() string {
	return [...]string{"new", "connecting", "connected", "reconnecting", "closing", "closed"}[s]
}

// allowed lists the transitions of the room's state machine.
var allowed = map[roomState][]roomState{
	stateNew:          {stateConnecting, stateClosed},
	stateConnecting:   {stateConnected, stateClosing},
	stateConnected:    {stateReconnecting, stateClosing},
	stateReconnecting: {stateConnected, stateClosing},
	stateClosing:      {stateClosed},
}

// ErrRoomClosed: the room was disconnected (or its join failed) and cannot
// be used again; create another.
var ErrRoomClosed = errors.New("lksdk: the room is closed")

// errJoinOnce: Join was called on a room that joined already.
var errJoinOnce = errors.New("lksdk: a Room joins once; create another")

// transition moves the room to state to if the state machine allows it from
// where it is, and returns the state it was in. On entering closing, reason
// is recorded (the first reason wins); on entering closed, Done is closed.
func (r *Room) transition(to roomState, reason DisconnectReason) (from roomState, ok bool) {
	r.lock.Lock()
	defer r.lock.Unlock()
	from = r.state
	for _, s := range allowed[from] {
		if s == to {
			ok = true
		}
	}
	if !ok {
		return from, false
	}
	r.state = to
	switch to {
	case stateClosing:
		r.reason, r.closingFrom = reason, from
	case stateClosed:
		if from == stateNew {
			r.reason = reason
		}
		r.markLeftLocked()
		close(r.done)
	}
	return from, true
}

// markLeft records that the server has been told the participant left (or
// that there is nothing to tell it): those waiting in Disconnect on one of
// the room's own goroutines return.
func (r *Room) markLeft() {
	r.lock.Lock()
	defer r.lock.Unlock()
	r.markLeftLocked()
}

func (r *Room) markLeftLocked() {
	if !r.leftDone {
		r.leftDone = true
		close(r.left)
	}
}

func (r *Room) currentState() roomState {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.state
}

// Disconnect leaves the room and returns when every goroutine of the room is
// gone and OnDisconnected has been called. It may be called in any state,
// any number of times, from any goroutine: before Join it closes the room,
// during Join it cancels the join.
//
// Whoever calls it, the server has been told before it returns: the
// reliable data published before the call is given the time to reach the
// server that [LeaveFlushTimeout] and [LeaveFlushLimit] bound (none when
// there is none), then the leave is written to the signal connection.
// A program may therefore exit right after Disconnect returns. Called from
// inside anything the SDK calls (a callback, OnWriteComplete, an RTCP
// handler), it returns once the leave is written, and the room finishes
// closing (its goroutines end, OnDisconnected is called) after that function
// returns; [Room.Done] is closed then.
func (r *Room) Disconnect() {
	r.DisconnectWithReason(livekit.DisconnectReason_CLIENT_INITIATED)
}

// DisconnectWithReason is Disconnect telling the server why.
func (r *Room) DisconnectWithReason(reason DisconnectReason) {
	r.beginClose(reason, true)
	if !r.calledFromRoom() {
		<-r.done
		return
	}
	if r.engineLoopJoining() {
		// The join being cancelled waits for this loop before it fails and
		// sends the leave itself.
		return
	}
	<-r.left
}

// engineLoopJoining reports whether the caller runs on the engine's loop of
// a room whose join was cancelled.
func (r *Room) engineLoopJoining() bool {
	r.lock.RLock()
	e, joining := r.engine, r.closingFrom == stateConnecting
	r.lock.RUnlock()
	return joining && e != nil && e.onLoop()
}

// logger returns the room's logger: the one given WithLogger, or the
// package's (SetLogger) when there is none.
func (r *Room) logger() logr.Logger {
	r.lock.RLock()
	defer r.lock.RUnlock()
	if r.log.GetSink() == nil {
		return getLogger()
	}
	return r.log
}

// ownLogger returns the logger given WithLogger, or nil.
func (r *Room) ownLogger() *logr.Logger {
	r.lock.RLock()
	defer r.lock.RUnlock()
	if r.log.GetSink() == nil {
		return nil
	}
	l := r.log
	return &l
}

// calledFromRoom reports whether the caller runs on one of the room's own
// goroutines, which closing the room waits for.
func (r *Room) calledFromRoom() bool {
	r.lock.RLock()
	d, e := r.dispatcher, r.engine
	r.lock.RUnlock()
	if d != nil && d.onQueue() {
		return true
	}
	if e != nil && e.onLoop() {
		return true
	}
	return r.goroutines.isMember()
}

// Done returns a channel closed once the room is disconnected and all its
// goroutines have ended.
func (r *Room) Done() <-chan struct{} {
	return r.done
}

// DisconnectReason returns why the room was disconnected, once it was.
func (r *Room) DisconnectReason() DisconnectReason {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.reason
}

// ConnectionState returns where the room's connection stands.
func (r *Room) ConnectionState() ConnectionState {
	r.lock.RLock()
	state, e := r.state, r.engine
	r.lock.RUnlock()
	switch state {
	case stateConnected:
		return ConnectionStateConnected
	case stateReconnecting:
		if s := e.ConnectionState(); s == ConnectionStateReconnecting {
			return s
		}
		return ConnectionStateResuming
	}
	return ConnectionStateDisconnected
}

// beginClose starts closing the room, once, and returns without waiting.
func (r *Room) beginClose(reason DisconnectReason, sendLeave bool) {
	if _, ok := r.transition(stateClosed, reason); ok {
		return // never joined: nothing runs
	}
	from, ok := r.transition(stateClosing, reason)
	if !ok {
		return // closing or closed already
	}
	r.lock.RLock()
	cancelJoin, e := r.cancelJoin, r.engine
	r.lock.RUnlock()
	if from == stateConnecting {
		// The join returns with an error and finishes the closing.
		cancelJoin()
		return
	}
	e.stopRecovering()
	go r.close(reason, sendLeave)
}

// Leaving a room first lets the server take the reliable data published
// before [Room.Disconnect], then sends the leave. It waits while the server
// keeps taking that data, for at most LeaveFlushTimeout with none taken (a
// connection that is gone costs no more than that) and at most
// LeaveFlushLimit in all (publishing waits once 1 MiB is unsent, so on a
// working connection the data left is small). Data still unsent then is
// lost, and the loss is logged.
const (
	LeaveFlushTimeout = time.Second
	LeaveFlushLimit   = 5 * time.Second
)

// close stops everything the room runs; it is the end of a room that was
// connected.
func (r *Room) close(reason DisconnectReason, sendLeave bool) {
	r.logger().Info("leaving room", "room", r.Name(), "reason", reason.String())
	r.closeDataExt()
	if sendLeave {
		r.engine.drainReliable(LeaveFlushTimeout, LeaveFlushLimit) // the server closes the connection on leave
		if err := r.engine.sendLeave(reason); err != nil {
			r.logger().V(1).Info("could not tell the server of the leave", "error", err.Error())
		}
	}
	r.markLeft()
	r.shutdown()
	cb := r.callback
	r.dispatcher.post(func() { // past MaxPendingCallbacks too: the room's last word
		cb.OnDisconnected()
		cb.OnDisconnectedWithReason(reason)
	})
	r.dispatcher.closeAndWait()
	r.transition(stateClosed, reason)
}

// shutdown stops the engine, the local tracks and every goroutine of the
// room.
func (r *Room) shutdown() {
	r.engine.Close()
	for _, pub := range r.LocalParticipant.TrackPublications() {
		pub.closeTracks()
	}
	r.releaseAllHeld()
	r.goroutines.closeAndWait()
}

// startJoin moves a new room to connecting; cancel ends the join when the
// room is disconnected meanwhile.
func (r *Room) startJoin(cancel context.CancelFunc) error {
	r.lock.Lock()
	if r.state == stateNew {
		r.cancelJoin = cancel // read only while connecting
	}
	r.lock.Unlock()
	from, ok := r.transition(stateConnecting, 0)
	if ok {
		return nil
	}
	if from == stateClosing || from == stateClosed {
		return ErrRoomClosed
	}
	return errJoinOnce
}

// finishJoin ends a join: connected, or (on err, or when the room was
// disconnected meanwhile) closed with nothing left running.
func (r *Room) finishJoin(err error) error {
	if err == nil {
		if _, ok := r.transition(stateConnected, 0); ok {
			r.logger().Info("joined room", "room", r.Name(), "participant", r.LocalParticipant.Identity())
			return nil
		}
		err = fmt.Errorf("%w: disconnected while joining", ErrRoomClosed)
		_ = r.engine.sendLeave(r.DisconnectReason())
	}
	if _, ok := r.transition(stateClosing, livekit.DisconnectReason_JOIN_FAILURE); !ok {
		// Disconnect came first and cancelled the join.
		if !errors.Is(err, ErrRoomClosed) {
			err = fmt.Errorf("%w: disconnected while joining: %w", ErrRoomClosed, err)
		}
	}
	r.logger().V(1).Info("join failed", "error", err.Error())
	// The engine told the server as it failed; a Disconnect waiting on one
	// of the room's goroutines returns before they are waited for.
	r.markLeft()
	// Nothing of a failed join reaches the callbacks.
	r.dispatcher.discardAndWait()
	r.shutdown()
	r.transition(stateClosed, 0)
	return err
}

// reconnecting and reconnected follow the engine's recovery of a lost
// connection.
func (r *Room) reconnecting() {
	if _, ok := r.transition(stateReconnecting, 0); ok {
		r.emit(func(cb *RoomCallback) { cb.OnReconnecting() })
	}
}

func (r *Room) reconnected() {
	if _, ok := r.transition(stateConnected, 0); !ok {
		return
	}
	r.restoreSubscriptions()
	r.emit(func(cb *RoomCallback) { cb.OnReconnected() })
}

// goroutineGroup owns goroutines that must end before the room is closed,
// and knows which goroutines are its own.
type goroutineGroup struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
	ids    map[uint64]struct{}
}

// start runs f on a goroutine of the group, unless the group is closing; it
// reports whether it did.
func (g *goroutineGroup) start(f func()) bool {
	return g.startMember(f) != nil
}

// groupMember is one goroutine of a group.
type groupMember struct {
	g    *goroutineGroup
	once sync.Once
}

// detach stops the group from waiting for the goroutine: it is stuck in
// code the SDK cannot interrupt and ends on its own. It still counts as the
// group's for isMember.
func (m *groupMember) detach() { m.once.Do(m.g.wg.Done) }

// startMember is start returning the goroutine's membership, or nil.
func (g *goroutineGroup) startMember(f func()) *groupMember {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.wg.Add(1)
	m := &groupMember{g: g}
	go func() {
		id := curGoroutineID()
		g.mu.Lock()
		if g.ids == nil {
			g.ids = map[uint64]struct{}{}
		}
		g.ids[id] = struct{}{}
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			delete(g.ids, id)
			g.mu.Unlock()
			m.detach()
		}()
		f()
	}()
	return m
}

// isMember reports whether the caller runs on a goroutine of the group.
func (g *goroutineGroup) isMember() bool {
	g.mu.Lock()
	n := len(g.ids)
	g.mu.Unlock()
	if n == 0 {
		return false
	}
	id := curGoroutineID()
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.ids[id]
	return ok
}

func (g *goroutineGroup) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
