package lksdk

import (
	"fmt"
	"sort"
	"strings"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
)

// The room's part of the engine's events: each runs on the engine loop, in
// the order the events happened, and queues the callbacks it causes.

func (r *Room) onParticipantUpdate(ps []*livekit.ParticipantInfo) { r.applyParticipants(ps) }
func (r *Room) onRoomUpdate(room *livekit.Room)                   { r.applyRoom(room) }
func (r *Room) onSpeakersChanged(ss []*livekit.SpeakerInfo)       { r.applySpeakers(ss) }
func (r *Room) onConnectionQuality(qs []*livekit.ConnectionQualityInfo) {
	r.applyQuality(qs)
}
func (r *Room) onMute(req *livekit.MuteTrackRequest) { r.applyServerMute(req) }
func (r *Room) onLeave(req *livekit.LeaveRequest)    { r.handleLeave(req) }

func (r *Room) onTrackSubscribed(res *livekit.TrackSubscribed) {
	local := r.LocalParticipant
	if pub, _ := local.getPublication(res.GetTrackSid()).(*LocalTrackPublication); pub != nil && !pub.subscribed.isSet() {
		pub.subscribed.set()
		r.emit(func(cb *RoomCallback) { cb.OnLocalTrackSubscribed(pub, local) })
	}
}

// onTrackUnpublished obeys the server's unpublishing of a local track. The
// unpublish waits for the track's writer, so it never runs on the loop.
func (r *Room) onTrackUnpublished(res *livekit.TrackUnpublishedResponse) {
	sid := res.GetTrackSid()
	r.goroutines.start(func() { _ = r.LocalParticipant.UnpublishTrack(sid) })
}

func (r *Room) onSubscriptionResponse(res *livekit.SubscriptionResponse) {
	r.subscriptionFailed(res.GetTrackSid())
}

func (r *Room) subscriberOffer(offer webrtc.SessionDescription, transceivers []*webrtc.RTPTransceiver) {
	r.checkUnsubscribed(offer, transceivers)
}

func (r *Room) mediaTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	r.handleTrack(track, receiver)
}

func (r *Room) applyRoom(room *livekit.Room) {
	r.lock.Lock()
	old := r.metadata
	r.metadata = room.GetMetadata()
	if room.GetSid() != "" {
		r.sid = room.GetSid()
	}
	r.lock.Unlock()
	if old != room.GetMetadata() {
		md := room.GetMetadata()
		r.emit(func(cb *RoomCallback) { cb.OnRoomMetadataChanged(md) })
	}
}

func (r *Room) applyParticipants(infos []*livekit.ParticipantInfo) {
	local := r.LocalParticipant
	for _, pi := range infos {
		if pi.Sid == local.SID() || pi.Identity == local.Identity() {
			if pi.Sid == local.SID() {
				r.applyLocalInfo(pi)
			}
			continue
		}
		r.lock.RLock()
		rp := r.participants[pi.Sid]
		r.lock.RUnlock()

		if pi.State == livekit.ParticipantInfo_DISCONNECTED {
			if rp != nil {
				rp.applyInfo(pi) // its last word: why it left
				r.removeParticipant(rp)
			} else {
				r.dataParticipantLeft(pi.Identity) // gone before it was announced
			}
			continue
		}
		isNew := rp == nil
		if isNew {
			// A new session of an identity replaces the old one.
			if old := r.GetParticipantByIdentity(pi.Identity); old != nil {
				r.removeParticipant(old)
			}
			rp = newRemoteParticipant(r)
		}
		changes, ok := rp.applyInfo(pi)
		if !ok {
			continue
		}
		if isNew {
			r.lock.Lock()
			r.participants[pi.Sid] = rp
			r.lock.Unlock()
			r.emit(func(cb *RoomCallback) { cb.OnParticipantConnected(rp) })
			r.releaseData(pi.Identity)
		}
		r.emitInfoChanges(changes, rp)
		tracks := rp.applyTracks(pi)
		for _, pub := range tracks.published {
			r.emit(func(cb *RoomCallback) { cb.OnTrackPublished(pub, rp) })
			r.resolvePendingTrack(pub)
		}
		for _, pub := range tracks.muted {
			muted := pub.IsMuted()
			r.emit(func(cb *RoomCallback) {
				if muted {
					cb.OnTrackMuted(pub, rp)
				} else {
					cb.OnTrackUnmuted(pub, rp)
				}
			})
		}
		for _, pub := range tracks.unpublished {
			r.unpublished(pub, rp)
		}
	}
}

func (r *Room) emitInfoChanges(ch infoChanges, p Participant) {
	if ch.metadataChanged {
		old := ch.oldMetadata
		r.emit(func(cb *RoomCallback) { cb.OnMetadataChanged(old, p) })
	}
	if ch.nameChanged {
		old := ch.oldName
		r.emit(func(cb *RoomCallback) { cb.OnNameChanged(old, p) })
	}
	if len(ch.attributes) > 0 {
		attrs := ch.attributes
		r.emit(func(cb *RoomCallback) { cb.OnAttributesChanged(attrs, p) })
	}
	if ch.permissionSet {
		old := ch.oldPermission
		r.emit(func(cb *RoomCallback) { cb.OnPermissionsChanged(old, p) })
	}
}

func (r *Room) applyLocalInfo(pi *livekit.ParticipantInfo) {
	local := r.LocalParticipant
	changes, ok := local.applyInfo(pi)
	if !ok {
		return
	}
	r.emitInfoChanges(changes, local)
	for _, ti := range pi.Tracks {
		if pub, _ := local.getPublication(ti.Sid).(*LocalTrackPublication); pub != nil {
			pub.setInfo(ti)
		}
	}
}

func (r *Room) removeParticipant(rp *RemoteParticipant) {
	r.lock.Lock()
	delete(r.participants, rp.SID())
	r.lock.Unlock()
	for _, pub := range rp.removeAllTracks() {
		r.unpublished(pub, rp)
	}
	r.dataParticipantLeft(rp.Identity())
	r.emit(func(cb *RoomCallback) { cb.OnParticipantDisconnected(rp) })
}

// unpublished reports a remote track gone: unsubscribed first if it was.
func (r *Room) unpublished(pub *RemoteTrackPublication, rp *RemoteParticipant) {
	r.unsubscribed(pub, rp)
	r.emit(func(cb *RoomCallback) { cb.OnTrackUnpublished(pub, rp) })
}

func (r *Room) unsubscribed(pub *RemoteTrackPublication, rp *RemoteParticipant) {
	if track := pub.clearReceiver(); track != nil {
		r.emit(func(cb *RoomCallback) { cb.OnTrackUnsubscribed(track, pub, rp) })
	}
}

// handleTrack matches a received media track to its publication: its stream
// id is "PA_participant|TR_track" and its id the track's sid.
func (r *Room) handleTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	psid, _, _ := strings.Cut(track.StreamID(), "|")
	rp := r.GetParticipant(psid)
	var pub *RemoteTrackPublication
	if rp != nil {
		pub = rp.GetTrackPublication(track.ID())
	}
	if pub == nil {
		r.lock.Lock()
		r.pendingTracks[track.ID()] = pendingTrack{track: track, receiver: receiver}
		r.lock.Unlock()
		return
	}
	r.subscribed(pub, rp, track, receiver)
}

func (r *Room) resolvePendingTrack(pub *RemoteTrackPublication) {
	r.lock.Lock()
	pt, ok := r.pendingTracks[pub.SID()]
	delete(r.pendingTracks, pub.SID())
	r.lock.Unlock()
	if ok {
		r.subscribed(pub, pub.participant, pt.track, pt.receiver)
	}
}

func (r *Room) subscribed(pub *RemoteTrackPublication, rp *RemoteParticipant, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	pub.setReceiver(track, receiver)
	r.emit(func(cb *RoomCallback) { cb.OnTrackSubscribed(track, pub, rp) })
}

// checkUnsubscribed reports the subscribed tracks whose media section the
// server's new offer made inactive: the server stopped sending them.
func (r *Room) checkUnsubscribed(offer webrtc.SessionDescription, transceivers []*webrtc.RTPTransceiver) {
	sending := sendingMids(offer.SDP)
	byReceiver := map[*webrtc.RTPReceiver]string{}
	for _, t := range transceivers {
		if t.Receiver() != nil {
			byReceiver[t.Receiver()] = t.Mid()
		}
	}
	for _, rp := range r.GetParticipants() {
		for _, pub := range rp.TrackPublications() {
			receiver := pub.Receiver()
			if receiver == nil {
				continue
			}
			if mid, ok := byReceiver[receiver]; ok && !sending[mid] {
				r.unsubscribed(pub, rp)
			}
		}
	}
}

// sendingMids returns the mids of the media sections in which the offerer
// sends.
func sendingMids(sdpText string) map[string]bool {
	out := map[string]bool{}
	parsed := &sdp.SessionDescription{}
	if err := parsed.Unmarshal([]byte(sdpText)); err != nil {
		return out
	}
	for _, m := range parsed.MediaDescriptions {
		mid, _ := m.Attribute(sdp.AttrKeyMID)
		if m.MediaName.Port.Value == 0 {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "sendonly" || a.Key == "sendrecv" {
				out[mid] = true
			}
		}
	}
	return out
}

func (r *Room) subscriptionFailed(trackSID string) {
	for _, rp := range r.GetParticipants() {
		if rp.GetTrackPublication(trackSID) != nil {
			r.emit(func(cb *RoomCallback) { cb.OnTrackSubscriptionFailed(trackSID, rp) })
			return
		}
	}
}

func (r *Room) applySpeakers(speakers []*livekit.SpeakerInfo) {
	for _, s := range speakers {
		var p Participant
		var changed bool
		if s.Sid == r.LocalParticipant.SID() {
			changed, p = r.LocalParticipant.setSpeaking(s.Level, s.Active), r.LocalParticipant
		} else if rp := r.GetParticipant(s.Sid); rp != nil {
			changed, p = rp.setSpeaking(s.Level, s.Active), rp
		} else {
			continue
		}
		if changed {
			r.emit(func(cb *RoomCallback) { cb.OnIsSpeakingChanged(p) })
		}
	}
	var active []Participant
	if r.LocalParticipant.IsSpeaking() {
		active = append(active, r.LocalParticipant)
	}
	for _, rp := range r.GetParticipants() {
		if rp.IsSpeaking() {
			active = append(active, rp)
		}
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].AudioLevel() > active[j].AudioLevel() })
	r.lock.Lock()
	r.activeSpeakers = active
	r.lock.Unlock()
	list := append([]Participant(nil), active...)
	r.emit(func(cb *RoomCallback) { cb.OnActiveSpeakersChanged(list) })
}

func (r *Room) applyQuality(updates []*livekit.ConnectionQualityInfo) {
	for _, u := range updates {
		var p Participant
		if u.ParticipantSid == r.LocalParticipant.SID() {
			r.LocalParticipant.setQuality(u.Quality)
			p = r.LocalParticipant
		} else if rp := r.GetParticipant(u.ParticipantSid); rp != nil {
			rp.setQuality(u.Quality)
			p = rp
		} else {
			continue
		}
		r.emit(func(cb *RoomCallback) { cb.OnConnectionQualityChanged(u, p) })
	}
}

// applyServerMute records a mute of a local track asked for by the server.
func (r *Room) applyServerMute(req *livekit.MuteTrackRequest) {
	pub, _ := r.LocalParticipant.getPublication(req.Sid).(*LocalTrackPublication)
	if pub == nil || !pub.setMutedByServer(req.Muted) {
		return
	}
	local := r.LocalParticipant
	r.emit(func(cb *RoomCallback) {
		if req.Muted {
			cb.OnTrackMuted(pub, local)
		} else {
			cb.OnTrackUnmuted(pub, local)
		}
	})
}

// handleLeave obeys the server's LeaveRequest: resume, reconnect, or leave.
// A server shutting down is reconnected to (another node may take over).
func (r *Room) handleLeave(leave *livekit.LeaveRequest) {
	if r.currentState() >= stateClosing {
		return // the server's echo of our own leave
	}
	r.logger().Info("server asked to leave", "reason", leave.Reason, "action", leave.Action)
	cause := fmt.Errorf("server sent leave (%s, %s)", leave.Reason, leave.Action)
	switch {
	case leave.Action == livekit.LeaveRequest_RESUME:
		r.engine.startRecovery(recoverResume, livekit.ReconnectReason_RR_UNKNOWN, cause)
	case leave.Action == livekit.LeaveRequest_RECONNECT, leave.Reason == livekit.DisconnectReason_SERVER_SHUTDOWN,
		leave.Reason == livekit.DisconnectReason_MIGRATION:
		r.engine.startRecovery(recoverRestart, livekit.ReconnectReason_RR_UNKNOWN, cause)
	default:
		r.beginClose(leave.Reason, false)
	}
}
