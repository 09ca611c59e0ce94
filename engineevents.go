package lksdk

import (
	"context"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// handleResponse applies one signal response; it runs on the engine loop.
// The engine takes its part (negotiation, pending requests, the token) and
// passes the response on to its handler; the v0.10 callback fields are
// called on the way.
func (e *RTCEngine) handleResponse(res *livekit.SignalResponse) {
	dispatchSignal(res, e)
}

// handleData delivers a data packet that arrived on a data channel; done
// releases what it takes of the bounds of received data.
func (e *RTCEngine) handleData(dp *livekit.DataPacket, done func()) {
	e.handler.dataPacket(dp, done)
	if user := dp.GetUser(); user != nil && e.OnDataReceived != nil {
		e.OnDataReceived(user)
	}
}

func (e *RTCEngine) onAnswer(sd *livekit.SessionDescription) {
	if pub := e.transport(livekit.SignalTarget_PUBLISHER); pub != nil {
		if err := pub.SetRemoteDescription(FromProtoSessionDescription(sd)); err != nil {
			e.logger().Error(err, "could not apply the publisher answer")
		}
	}
}

// onOffer answers a subscriber offer.
func (e *RTCEngine) onOffer(offer *livekit.SessionDescription) {
	sub := e.transport(livekit.SignalTarget_SUBSCRIBER)
	if sub == nil {
		return
	}
	sd := FromProtoSessionDescription(offer)
	if err := sub.SetRemoteDescription(sd); err != nil {
		e.logger().Error(err, "could not apply the subscriber offer")
		return
	}
	e.handler.subscriberOffer(sd, sub.pc.GetTransceivers())
	answer, err := sub.CreateAnswer()
	if err != nil {
		e.logger().Error(err, "could not answer the subscriber offer")
		return
	}
	if err := e.client.sendSDP(answer, offer.Id, false); err != nil {
		e.logger().V(1).Info("could not send answer", "error", err)
	}
}

func (e *RTCEngine) onTrickle(t *livekit.TrickleRequest) {
	if tr := e.transport(t.Target); tr != nil {
		if err := tr.AddICECandidate(FromProtoTrickle(t)); err != nil {
			e.logger().V(1).Info("could not add ICE candidate", "error", err)
		}
	}
}

func (e *RTCEngine) onTrackPublished(res *livekit.TrackPublishedResponse) {
	e.resolveTrack(res.Cid, res.Track)
	select {
	case e.trackPublishedCh <- res:
	default:
	}
	e.handler.onTrackPublished(res)
}

func (e *RTCEngine) onRequestResponse(res *livekit.RequestResponse) {
	e.resolveRequest(res)
	e.handler.onRequestResponse(res)
}

func (e *RTCEngine) onRefreshToken(token string) {
	e.mu.Lock()
	e.token = token
	e.mu.Unlock()
	e.handler.onRefreshToken(token)
}

func (e *RTCEngine) onParticipantUpdate(ps []*livekit.ParticipantInfo) {
	callIfSet(e.OnParticipantUpdate, ps)
	e.handler.onParticipantUpdate(ps)
}

func (e *RTCEngine) onSpeakersChanged(ss []*livekit.SpeakerInfo) {
	callIfSet(e.OnSpeakersChanged, ss)
	e.handler.onSpeakersChanged(ss)
}

func (e *RTCEngine) onConnectionQuality(qs []*livekit.ConnectionQualityInfo) {
	callIfSet(e.OnConnectionQuality, qs)
	e.handler.onConnectionQuality(qs)
}

func (e *RTCEngine) onRoomUpdate(room *livekit.Room) {
	callIfSet(e.OnRoomUpdate, room)
	e.handler.onRoomUpdate(room)
}

func (e *RTCEngine) onTrackUnpublished(res *livekit.TrackUnpublishedResponse) {
	e.handler.onTrackUnpublished(res)
}

func (e *RTCEngine) onMute(req *livekit.MuteTrackRequest) { e.handler.onMute(req) }

func (e *RTCEngine) onLeave(req *livekit.LeaveRequest) { e.handler.onLeave(req) }

func (e *RTCEngine) onTrackSubscribed(res *livekit.TrackSubscribed) {
	e.handler.onTrackSubscribed(res)
}

func (e *RTCEngine) onSubscriptionResponse(res *livekit.SubscriptionResponse) {
	e.handler.onSubscriptionResponse(res)
}

// post runs fn on the engine's loop, after what is queued; it reports false
// once the engine is closed.
func (e *RTCEngine) post(fn func()) bool {
	e.mu.Lock()
	loop := e.loop
	e.mu.Unlock()
	return loop != nil && loop.post(fn)
}

// sendRequest sends a request to the server on the current signal
// connection.
func (e *RTCEngine) sendRequest(req *livekit.SignalRequest) error {
	return e.client.SendRequest(req)
}

// syncStateBase is the engine's part of the state sent after a resume: the
// subscriber's answer and the publisher's data channels. It runs on the
// engine loop, where the subscriber's description changes.
func (e *RTCEngine) syncStateBase() *livekit.SyncState {
	st := &livekit.SyncState{}
	if sub := e.transport(livekit.SignalTarget_SUBSCRIBER); sub != nil {
		if ld := sub.pc.LocalDescription(); ld != nil {
			st.Answer = ToProtoSessionDescription(*ld)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, dc := range []*webrtc.DataChannel{e.reliableDC, e.lossyDC} {
		if dc != nil && dc.ID() != nil {
			st.DataChannels = append(st.DataChannels, &livekit.DataChannelInfo{Label: dc.Label(), Id: uint32(*dc.ID()), Target: livekit.SignalTarget_PUBLISHER})
		}
	}
	return st
}

// peerConnection returns the peer connection of target, for the v0.10
// accessors of LocalParticipant; nil when there is none.
func (e *RTCEngine) peerConnection(target livekit.SignalTarget) *webrtc.PeerConnection {
	if t := e.transport(target); t != nil {
		return t.pc
	}
	return nil
}

// publisherIsConnected reports whether the publisher connection is up.
func (e *RTCEngine) publisherIsConnected() bool { return e.publisherConnected.isSet() }

// waitPublisherConnected waits until the publisher connection is up.
func (e *RTCEngine) waitPublisherConnected(ctx context.Context) error {
	return e.publisherConnected.wait(ctx)
}

// simulateSignalLoss drops the signal connection as a network failure
// would.
func (e *RTCEngine) simulateSignalLoss() { e.client.dropConnection() }

// sendLeave tells the server the participant leaves, and why.
func (e *RTCEngine) sendLeave(reason DisconnectReason) error { return e.client.sendLeave(reason) }
