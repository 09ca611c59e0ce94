package lksdk

import (
	"context"

	"github.com/livekit/protocol/livekit"
)

// syncState is what the client has, for the server after a resume. It
// reads the subscriber's local description, so it runs on the engine loop,
// where that description is changed.
func (r *Room) syncState() *livekit.SyncState {
	st := r.engine.syncStateBase()
	sub := r.subscriptionState()
	st.Subscription, st.TrackSidsDisabled = sub.Subscription, sub.TrackSidsDisabled
	for _, pub := range r.LocalParticipant.TrackPublications() {
		st.PublishTracks = append(st.PublishTracks, &livekit.TrackPublishedResponse{Cid: pub.cid(), Track: pub.TrackInfo()})
	}
	return st
}

// subscriptionState is what was asked of the remote tracks: the
// subscriptions made by hand, or the unsubscriptions when auto-subscribing.
func (r *Room) subscriptionState() *livekit.SyncState {
	st := &livekit.SyncState{Subscription: &livekit.UpdateSubscription{Subscribe: !r.params.AutoSubscribe}}
	for _, rp := range r.GetParticipants() {
		pt := &livekit.ParticipantTracks{ParticipantSid: rp.SID()}
		for _, pub := range rp.TrackPublications() {
			intent := pub.subscriptionIntent()
			// With auto-subscribe the server needs what was unsubscribed;
			// without, what was subscribed.
			if (r.params.AutoSubscribe && intent == intentUnsubscribe) ||
				(!r.params.AutoSubscribe && intent == intentSubscribe) {
				pt.TrackSids = append(pt.TrackSids, pub.SID())
				st.Subscription.TrackSids = append(st.Subscription.TrackSids, pub.SID())
			}
			if !pub.IsEnabled() {
				st.TrackSidsDisabled = append(st.TrackSidsDisabled, pub.SID())
			}
		}
		if len(pt.TrackSids) > 0 {
			st.Subscription.ParticipantTracks = append(st.Subscription.ParticipantTracks, pt)
		}
	}
	return st
}

// applyRejoin applies the join response of a new session (a full
// reconnect): the old session's tracks are gone, participants who left
// meanwhile are removed, the others updated. It runs on the engine loop.
func (r *Room) rejoined(join *livekit.JoinResponse) {
	for _, rp := range r.GetParticipants() {
		for _, pub := range rp.TrackPublications() {
			r.unsubscribed(pub, rp)
		}
	}
	r.lock.Lock()
	r.pendingTracks = map[string]pendingTrack{}
	r.sid, r.name, r.metadata = join.Room.GetSid(), join.Room.GetName(), join.Room.GetMetadata()
	r.serverInfo = join.ServerInfo
	r.sifTrailer = join.SifTrailer
	r.lock.Unlock()
	r.LocalParticipant.applyInfo(join.Participant)
	present := map[string]bool{}
	for _, pi := range join.OtherParticipants {
		present[pi.Sid] = true
	}
	for _, rp := range r.GetParticipants() {
		if !present[rp.SID()] {
			r.removeParticipant(rp)
		}
	}
	r.applyParticipants(join.OtherParticipants)
}

// restoreSubscriptions asks again for what was asked before a full
// reconnect: the subscriptions made by hand, or the unsubscriptions.
func (r *Room) restoreSubscriptions() {
	st := r.subscriptionState()
	if len(st.Subscription.TrackSids) == 0 {
		return
	}
	_ = r.engine.sendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{Subscription: st.Subscription}})
}

// The room's part in recovering a lost connection; see engineHandler.

func (r *Room) republish(ctx context.Context) error { return r.LocalParticipant.republish(ctx) }

func (r *Room) failed(reason DisconnectReason) { r.beginClose(reason, false) }

func (r *Room) beforeCloseTransports() { r.LocalParticipant.stopRTCPReaders() }

func (r *Room) freshToken() (string, error) {
	r.lock.RLock()
	source := r.tokenSource
	r.lock.RUnlock()
	if source == nil {
		return "", nil
	}
	return source()
}
