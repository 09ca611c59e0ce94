package lksdk

import (
	"time"

	"github.com/livekit/protocol/livekit"
)

// dataPacket is the engine telling the room of a data packet.
func (r *Room) dataPacket(dp *livekit.DataPacket) { r.handleData(dp) }

const (
	// heldDataTimeout bounds how long data from a participant the room does
	// not know yet waits for the participant's arrival. The server announces
	// participants that publish nothing in batches, every 3 s.
	heldDataTimeout = 5 * time.Second
	heldDataMax     = 4096
)

// handleData delivers a user data packet. Data from a sender the room does
// not know yet is held until the sender is known (or heldDataTimeout), so
// that callbacks always get the sender, and in order.
func (r *Room) handleData(dp *livekit.DataPacket) {
	if dp.GetUser() == nil {
		r.handleNonUserData(dp)
		return
	}
	identity := senderIdentity(dp)
	if identity != "" {
		r.lock.Lock()
		held, holding := r.heldData[identity]
		if holding || r.participantByIdentityLocked(identity) == nil {
			if len(held) < heldDataMax {
				r.heldData[identity] = append(held, dp)
				if !holding {
					r.heldTimers = append(r.heldTimers, time.AfterFunc(heldDataTimeout, func() {
						r.engine.post(func() { r.releaseData(identity) })
					}))
				}
				r.lock.Unlock()
				return
			}
			r.lock.Unlock()
			r.releaseData(identity) // too much held: deliver it as it is
			r.deliverData(dp, nil)
			return
		}
		r.lock.Unlock()
	}
	r.deliverData(dp, r.GetParticipantByIdentity(identity))
}

// releaseData delivers the data held for identity.
func (r *Room) releaseData(identity string) {
	r.lock.Lock()
	held := r.heldData[identity]
	delete(r.heldData, identity)
	rp := r.participantByIdentityLocked(identity)
	r.lock.Unlock()
	for _, dp := range held {
		r.deliverData(dp, rp)
	}
}

func senderIdentity(dp *livekit.DataPacket) string {
	if dp.ParticipantIdentity != "" {
		return dp.ParticipantIdentity
	}
	return dp.GetUser().GetParticipantIdentity()
}

func (r *Room) deliverData(dp *livekit.DataPacket, rp *RemoteParticipant) {
	user := dp.GetUser()
	params := DataReceiveParams{Sender: rp, SenderIdentity: senderIdentity(dp), Topic: user.GetTopic(), Kind: dp.Kind}
	payload := user.Payload
	r.emit(func(cb *RoomCallback) {
		cb.OnDataReceived(payload, rp)
		cb.OnDataPacket(payload, params)
		cb.OnTypedDataPacket(&UserDataPacket{Payload: payload, Topic: params.Topic}, params)
	})
}
