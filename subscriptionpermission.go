package lksdk

import (
	"fmt"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// SetSubscriptionPermission sets who may subscribe to the local
// participant's tracks: everyone (AllParticipants), or the participants
// (by identity or SID) and tracks that sp's TrackPermissions list. Until it
// is called everyone may. A participant that is no longer allowed is
// unsubscribed by the server. The setting is sent again after a full
// reconnect.
func (p *LocalParticipant) SetSubscriptionPermission(sp *livekit.SubscriptionPermission) error {
	if sp == nil {
		return fmt.Errorf("lksdk: a subscription permission is needed")
	}
	for i, tp := range sp.TrackPermissions {
		if tp.GetParticipantIdentity() == "" && tp.GetParticipantSid() == "" {
			return fmt.Errorf("lksdk: track permission %d names no participant (identity or SID)", i)
		}
	}
	if p.engine == nil {
		return ErrNotConnected
	}
	sp = proto.Clone(sp).(*livekit.SubscriptionPermission)
	p.mu.Lock()
	p.subscriptionPermission = sp
	p.mu.Unlock()
	return p.engine.sendRequest(&livekit.SignalRequest{
		Message: &livekit.SignalRequest_SubscriptionPermission{SubscriptionPermission: sp},
	})
}

// resendSubscriptionPermission sends the permission set last, if any, on a
// new session.
func (p *LocalParticipant) resendSubscriptionPermission() {
	p.mu.RLock()
	sp := p.subscriptionPermission
	p.mu.RUnlock()
	if sp == nil {
		return
	}
	err := p.engine.sendRequest(&livekit.SignalRequest{
		Message: &livekit.SignalRequest_SubscriptionPermission{SubscriptionPermission: sp},
	})
	if err != nil {
		p.room.logger().V(1).Info("could not send the subscription permission again", "error", err)
	}
}

// IsSubscriptionAllowed reports whether the publisher allows this
// participant to subscribe to the track (see
// LocalParticipant.SetSubscriptionPermission); true until the server says
// otherwise.
func (p *RemoteTrackPublication) IsSubscriptionAllowed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return !p.denied
}

// setAllowed records whether the publisher allows the subscription and
// reports whether that changed.
func (p *RemoteTrackPublication) setAllowed(allowed bool) (changed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed = p.denied == allowed
	p.denied = !allowed
	return changed
}

func (e *RTCEngine) onSubscriptionPermissionUpdate(u *livekit.SubscriptionPermissionUpdate) {
	e.handler.onSubscriptionPermissionUpdate(u)
}

// onSubscriptionPermissionUpdate records a publisher's answer to whether
// this participant may subscribe to its track; a refusal is reported as a
// failed subscription.
func (r *Room) onSubscriptionPermissionUpdate(u *livekit.SubscriptionPermissionUpdate) {
	rp := r.GetParticipant(u.GetParticipantSid())
	if rp == nil {
		return
	}
	pub := rp.GetTrackPublication(u.GetTrackSid())
	if pub == nil || !pub.setAllowed(u.GetAllowed()) || u.GetAllowed() {
		return
	}
	sid := u.GetTrackSid()
	r.emit(func(cb *RoomCallback) { cb.OnTrackSubscriptionFailed(sid, rp) })
}
