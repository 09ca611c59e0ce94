package lksdk

import (
	"time"

	"github.com/livekit/protocol/livekit"
)

// dataPacket is the engine telling the room of a data packet; done releases
// what the packet takes of the room's bounds, once the room is through
// with it.
func (r *Room) dataPacket(dp *livekit.DataPacket, done func()) { r.handleData(dp, done) }

// heldDataTimeout bounds how long data from a participant the room does
// not know yet waits for the participant's arrival. The server announces
// participants that publish nothing in batches, every 3 s.
const heldDataTimeout = 5 * time.Second

// heldState is the data held for senders the room does not know yet, under
// the room's lock. At most MaxHeldDataPackets are held, of all senders
// together, and each sender's hold has one timer, stopped when it ends.
type heldState struct {
	bySender          map[string]*heldSender // by identity
	count, high       int
	expired, overflow uint64
}

// heldSender is the data held for one sender.
type heldSender struct {
	packets []heldPacket
	timer   *time.Timer
}

type heldPacket struct {
	dp   *livekit.DataPacket
	done func()
}

// Why held data is delivered.
type heldRelease int

const (
	heldKnown    heldRelease = iota // the sender was announced
	heldExpired                     // heldDataTimeout passed
	heldOverflow                    // MaxHeldDataPackets were held
	heldClosing                     // the room is closing
)

// handleData delivers a data packet. User data from a sender the room does
// not know yet is held until the sender is known (or heldDataTimeout), so
// that callbacks get the sender, and in order. It runs on the engine loop.
func (r *Room) handleData(dp *livekit.DataPacket, done func()) {
	if dp.GetUser() == nil {
		r.handleNonUserData(dp, done)
		return
	}
	identity := senderIdentity(dp)
	if identity == "" {
		r.deliverData(dp, nil, done)
		return
	}
	r.lock.Lock()
	h, holding := r.held.bySender[identity]
	if !holding && r.participantByIdentityLocked(identity) != nil {
		r.lock.Unlock()
		r.deliverData(dp, r.GetParticipantByIdentity(identity), done)
		return
	}
	if r.held.count >= MaxHeldDataPackets {
		r.held.overflow++
		r.lock.Unlock()
		r.logHeldOverflow(identity)
		// Deliver what this sender has held first, to keep its order.
		r.releaseHeld(identity, nil, heldOverflow)
		r.deliverData(dp, nil, done)
		return
	}
	if !holding {
		h = &heldSender{}
		r.held.bySender[identity] = h
		e := r.engine
		h.timer = time.AfterFunc(heldDataTimeout, func() {
			e.post(func() { r.releaseHeld(identity, h, heldExpired) })
		})
	}
	h.packets = append(h.packets, heldPacket{dp: dp, done: done})
	r.held.count++
	r.held.high = max(r.held.high, r.held.count)
	r.lock.Unlock()
}

// releaseData delivers the data held for identity, whose sender is now
// known.
func (r *Room) releaseData(identity string) { r.releaseHeld(identity, nil, heldKnown) }

// releaseHeld ends the hold of identity's data, if it is only's (any hold
// when only is nil), and delivers the data.
func (r *Room) releaseHeld(identity string, only *heldSender, why heldRelease) {
	r.lock.Lock()
	h := r.held.bySender[identity]
	if h == nil || (only != nil && h != only) {
		r.lock.Unlock()
		return
	}
	delete(r.held.bySender, identity)
	h.timer.Stop()
	n := len(h.packets)
	r.held.count -= n
	switch why {
	case heldExpired:
		r.held.expired += uint64(n)
	case heldOverflow:
		r.held.overflow += uint64(n)
	}
	rp := r.participantByIdentityLocked(identity)
	r.lock.Unlock()
	for _, p := range h.packets {
		r.deliverData(p.dp, rp, p.done)
	}
}

// releaseAllHeld delivers everything held, without senders: the room is
// closing, and reliable data is not dropped.
func (r *Room) releaseAllHeld() {
	r.lock.RLock()
	ids := make([]string, 0, len(r.held.bySender))
	for id := range r.held.bySender {
		ids = append(ids, id)
	}
	r.lock.RUnlock()
	for _, id := range ids {
		r.releaseHeld(id, nil, heldClosing)
	}
}

// logHeldOverflow says, at most once per logInterval, that held data is
// delivered early.
func (r *Room) logHeldOverflow(identity string) {
	if ok, more := r.heldLog.allow(); ok {
		r.logger().Info("too much data held for senders not yet known; delivering it without its sender",
			"bound", MaxHeldDataPackets, "sender", identity, "alsoSince", more)
	}
}

func senderIdentity(dp *livekit.DataPacket) string {
	if dp.ParticipantIdentity != "" {
		return dp.ParticipantIdentity
	}
	return dp.GetUser().GetParticipantIdentity()
}

func (r *Room) deliverData(dp *livekit.DataPacket, rp *RemoteParticipant, done func()) {
	user := dp.GetUser()
	params := DataReceiveParams{Sender: rp, SenderIdentity: senderIdentity(dp), Topic: user.GetTopic(), Kind: dp.Kind}
	payload := user.Payload
	r.emitData(func(cb *RoomCallback) {
		cb.OnDataReceived(payload, rp)
		cb.OnDataPacket(payload, params)
		cb.OnTypedDataPacket(&UserDataPacket{Payload: payload, Topic: params.Topic}, params)
	}, done)
}

// emitData queues a data callback for the dispatcher; done is called when
// it has run (or could not be queued).
func (r *Room) emitData(fn func(cb *RoomCallback), done func()) {
	cb := r.callback
	if !r.post(func() {
		defer done()
		fn(cb)
	}) {
		done()
	}
}
