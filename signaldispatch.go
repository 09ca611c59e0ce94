package lksdk

import (
	"github.com/livekit/protocol/livekit"
)

// signalEvents receives the server's signal responses, one method per kind.
// dispatchSignal is the one place a response's kind is told apart; the
// engine, the room and the v0.10 callback fields all receive responses
// through it.
type signalEvents interface {
	onAnswer(sd *livekit.SessionDescription)
	onOffer(sd *livekit.SessionDescription)
	onTrickle(t *livekit.TrickleRequest)
	onParticipantUpdate(ps []*livekit.ParticipantInfo)
	onTrackPublished(res *livekit.TrackPublishedResponse)
	onTrackUnpublished(res *livekit.TrackUnpublishedResponse)
	onSpeakersChanged(ss []*livekit.SpeakerInfo)
	onConnectionQuality(qs []*livekit.ConnectionQualityInfo)
	onRoomUpdate(room *livekit.Room)
	onMute(req *livekit.MuteTrackRequest)
	onRefreshToken(token string)
	onLeave(req *livekit.LeaveRequest)
	onTrackSubscribed(res *livekit.TrackSubscribed)
	onSubscriptionResponse(res *livekit.SubscriptionResponse)
	onRequestResponse(res *livekit.RequestResponse)
	onSubscriptionPermissionUpdate(u *livekit.SubscriptionPermissionUpdate)
	onRoomMoved(res *livekit.RoomMovedResponse)
}

// dispatchSignal passes res to the method of h for its kind. Kinds the SDK
// does not use are dropped.
func dispatchSignal(res *livekit.SignalResponse, h signalEvents) {
	switch m := res.GetMessage().(type) {
	case *livekit.SignalResponse_Answer:
		h.onAnswer(m.Answer)
	case *livekit.SignalResponse_Offer:
		h.onOffer(m.Offer)
	case *livekit.SignalResponse_Trickle:
		h.onTrickle(m.Trickle)
	case *livekit.SignalResponse_Update:
		h.onParticipantUpdate(m.Update.GetParticipants())
	case *livekit.SignalResponse_TrackPublished:
		h.onTrackPublished(m.TrackPublished)
	case *livekit.SignalResponse_TrackUnpublished:
		h.onTrackUnpublished(m.TrackUnpublished)
	case *livekit.SignalResponse_SpeakersChanged:
		h.onSpeakersChanged(m.SpeakersChanged.GetSpeakers())
	case *livekit.SignalResponse_ConnectionQuality:
		h.onConnectionQuality(m.ConnectionQuality.GetUpdates())
	case *livekit.SignalResponse_RoomUpdate:
		h.onRoomUpdate(m.RoomUpdate.GetRoom())
	case *livekit.SignalResponse_Mute:
		h.onMute(m.Mute)
	case *livekit.SignalResponse_RefreshToken:
		h.onRefreshToken(m.RefreshToken)
	case *livekit.SignalResponse_Leave:
		h.onLeave(m.Leave)
	case *livekit.SignalResponse_TrackSubscribed:
		h.onTrackSubscribed(m.TrackSubscribed)
	case *livekit.SignalResponse_SubscriptionResponse:
		h.onSubscriptionResponse(m.SubscriptionResponse)
	case *livekit.SignalResponse_RequestResponse:
		h.onRequestResponse(m.RequestResponse)
	case *livekit.SignalResponse_SubscriptionPermissionUpdate:
		h.onSubscriptionPermissionUpdate(m.SubscriptionPermissionUpdate)
	case *livekit.SignalResponse_RoomMoved:
		h.onRoomMoved(m.RoomMoved)
	}
}

// ignoreSignals implements signalEvents doing nothing, to embed in a type
// that handles only some kinds.
type ignoreSignals struct{}

func (ignoreSignals) onAnswer(*livekit.SessionDescription)                 {}
func (ignoreSignals) onOffer(*livekit.SessionDescription)                  {}
func (ignoreSignals) onTrickle(*livekit.TrickleRequest)                    {}
func (ignoreSignals) onParticipantUpdate([]*livekit.ParticipantInfo)       {}
func (ignoreSignals) onTrackPublished(*livekit.TrackPublishedResponse)     {}
func (ignoreSignals) onTrackUnpublished(*livekit.TrackUnpublishedResponse) {}
func (ignoreSignals) onSpeakersChanged([]*livekit.SpeakerInfo)             {}
func (ignoreSignals) onConnectionQuality([]*livekit.ConnectionQualityInfo) {}
func (ignoreSignals) onRoomUpdate(*livekit.Room)                           {}
func (ignoreSignals) onMute(*livekit.MuteTrackRequest)                     {}
func (ignoreSignals) onRefreshToken(string)                                {}
func (ignoreSignals) onLeave(*livekit.LeaveRequest)                        {}
func (ignoreSignals) onTrackSubscribed(*livekit.TrackSubscribed)           {}
func (ignoreSignals) onSubscriptionResponse(*livekit.SubscriptionResponse) {}
func (ignoreSignals) onRequestResponse(*livekit.RequestResponse)           {}

func (ignoreSignals) onSubscriptionPermissionUpdate(*livekit.SubscriptionPermissionUpdate) {}
func (ignoreSignals) onRoomMoved(*livekit.RoomMovedResponse)                               {}

// signalClientCallbacks adapts a SignalClient's v0.10 callback fields to
// signalEvents.
type signalClientCallbacks struct {
	ignoreSignals
	c *SignalClient
}

// callIfSet calls f with v, if f is set.
func callIfSet[T any](f func(T), v T) {
	if f != nil {
		f(v)
	}
}

func (a signalClientCallbacks) onAnswer(sd *livekit.SessionDescription) {
	callIfSet(a.c.OnAnswer, FromProtoSessionDescription(sd))
}

func (a signalClientCallbacks) onOffer(sd *livekit.SessionDescription) {
	callIfSet(a.c.OnOffer, FromProtoSessionDescription(sd))
}

func (a signalClientCallbacks) onTrickle(t *livekit.TrickleRequest) {
	if a.c.OnTrickle != nil {
		a.c.OnTrickle(FromProtoTrickle(t), t.Target)
	}
}

func (a signalClientCallbacks) onParticipantUpdate(ps []*livekit.ParticipantInfo) {
	callIfSet(a.c.OnParticipantUpdate, ps)
}

func (a signalClientCallbacks) onTrackPublished(res *livekit.TrackPublishedResponse) {
	callIfSet(a.c.OnLocalTrackPublished, res)
}

func (a signalClientCallbacks) onTrackUnpublished(res *livekit.TrackUnpublishedResponse) {
	callIfSet(a.c.OnLocalTrackUnpublished, res)
}

func (a signalClientCallbacks) onSpeakersChanged(ss []*livekit.SpeakerInfo) {
	callIfSet(a.c.OnSpeakersChanged, ss)
}

func (a signalClientCallbacks) onConnectionQuality(qs []*livekit.ConnectionQualityInfo) {
	callIfSet(a.c.OnConnectionQuality, qs)
}

func (a signalClientCallbacks) onRoomUpdate(room *livekit.Room) { callIfSet(a.c.OnRoomUpdate, room) }

func (a signalClientCallbacks) onMute(req *livekit.MuteTrackRequest) {
	callIfSet(a.c.OnTrackMuted, req)
}

func (a signalClientCallbacks) onRefreshToken(token string) { callIfSet(a.c.OnTokenRefresh, token) }

func (a signalClientCallbacks) onLeave(*livekit.LeaveRequest) {
	if a.c.OnLeave != nil {
		a.c.OnLeave()
	}
}
