package lksdk

import (
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// MaxPendingCallbacks is how many callbacks (of every kind, data included)
// may wait at once for the room's dispatcher. The events behind them are
// applied to the room's state on its event loop, which never waits for a
// callback (a callback may itself wait for the loop); a callback that does
// not return while the server keeps sending lets them pile up.
//
// Events are not dropped silently. The event that finds the bound reached
// is refused, and so is every event after it; the room then closes with
// reason livekit.DisconnectReason_STATE_MISMATCH (telling the server so),
// because its callbacks can no longer be kept in step with its state. The
// callbacks already queued still run, in order, followed by
// OnDisconnected. Counted in RoomStats.CallbackOverflows and
// RoomStats.CallbacksRefused, and logged.
//
// Data callbacks are bounded much earlier by MaxPendingLossyPackets and
// MaxPendingReliablePackets, so data alone never reaches this bound.
const MaxPendingCallbacks = 65536

// callbackOverflowReason is the reason a room closes with when its
// callbacks fall MaxPendingCallbacks behind.
const callbackOverflowReason = livekit.DisconnectReason_STATE_MISMATCH

// errCallbacksBehind is what the room logs when it closes for that.
var errCallbacksBehind = fmt.Errorf("%d callbacks waiting for the room's dispatcher: a callback does not return", MaxPendingCallbacks)

// post queues a callback for the dispatcher within MaxPendingCallbacks; it
// reports whether it was queued. The first refusal closes the room.
func (r *Room) post(fn func()) bool {
	switch r.dispatcher.postLimited(fn, MaxPendingCallbacks) {
	case posted:
		return true
	case postFull:
		r.callbacksBehind()
	}
	return false
}

// callbacksBehind closes the room because its callbacks fell too far
// behind. It runs the close on the engine loop, never on the caller, which
// may be running a step of the room that the close would wait for. When
// the loop has closed, the room is closing already.
func (r *Room) callbacksBehind() {
	r.logger().Error(errCallbacksBehind, "closing the room: its callbacks are too far behind",
		"room", r.Name(), "reason", callbackOverflowReason.String())
	r.lock.RLock()
	e := r.engine
	r.lock.RUnlock()
	if e != nil {
		e.post(func() { r.beginClose(callbackOverflowReason, true) })
	}
}
