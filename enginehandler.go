package lksdk

import (
	"context"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// engineHandler is what an engine tells the one it serves (a Room): the
// only way up from the engine. The engine hands out no peer connection,
// socket or lock; the room calls down through a few methods (sendRequest,
// post, addTransceiver, removeTrack, writeSubscriberRTCP, syncStateBase).
//
// The signalEvents methods get the responses that concern the room, after
// the engine has applied its own part. Unless said otherwise, every method
// is called on the engine's loop, in the order of events, and must not
// block on the network.
type engineHandler interface {
	signalEvents

	// joined applies a session's join response before any other response
	// of that session; rejoined does so for the new session of a full
	// reconnect.
	joined(join *livekit.JoinResponse)
	rejoined(join *livekit.JoinResponse)
	// subscriberOffer sees a server offer, applied and about to be
	// answered, with the subscriber's transceivers.
	subscriberOffer(offer webrtc.SessionDescription, transceivers []*webrtc.RTPTransceiver)
	mediaTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver)
	// dataPacket takes a data packet; done releases what the packet takes
	// of the engine's bounds of received data, and must be called once the
	// handler is through with it.
	dataPacket(dp *livekit.DataPacket, done func())
	// syncState is what the client has, for the server after a resume.
	syncState() *livekit.SyncState

	// Recovery of a lost connection, called on the recovery goroutine.
	reconnecting()
	reconnected()
	// failed ends the room: recovery ran out of time, or is off.
	failed(reason DisconnectReason)
	// republish publishes the local tracks again on a new session.
	republish(ctx context.Context) error
	// freshToken mints a join token for a full reconnect; "" when the
	// handler cannot (the join's token is used again).
	freshToken() (string, error)
	// beforeCloseTransports runs before the peer connections are closed.
	beforeCloseTransports()
}

// noHandler serves an engine used on its own, through its v0.10 callback
// fields only.
type noHandler struct{ ignoreSignals }

func (noHandler) joined(*livekit.JoinResponse)                                        {}
func (noHandler) rejoined(*livekit.JoinResponse)                                      {}
func (noHandler) subscriberOffer(webrtc.SessionDescription, []*webrtc.RTPTransceiver) {}
func (noHandler) mediaTrack(*webrtc.TrackRemote, *webrtc.RTPReceiver)                 {}
func (noHandler) dataPacket(_ *livekit.DataPacket, done func())                       { done() }
func (noHandler) syncState() *livekit.SyncState                                       { return &livekit.SyncState{} }
func (noHandler) reconnecting()                                                       {}
func (noHandler) reconnected()                                                        {}
func (noHandler) failed(DisconnectReason)                                             {}
func (noHandler) republish(context.Context) error                                     { return nil }
func (noHandler) freshToken() (string, error)                                         { return "", nil }
func (noHandler) beforeCloseTransports()                                              {}
