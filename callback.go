package lksdk

import (
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// TrackPubCallback is a function called about a track of a remote
// participant.
type TrackPubCallback func(track Track, pub TrackPublication, participant *RemoteParticipant)

// PubCallback is a function called about a publication of a remote
// participant.
type PubCallback func(pub TrackPublication, participant *RemoteParticipant)

// PLIWriter asks the publisher of the stream ssrc for a keyframe.
type PLIWriter func(ssrc webrtc.SSRC)

// ParticipantCallback holds the functions called on events of participants.
// Nil fields are skipped.
//
// Callbacks are called one at a time, in the order the events happened, from
// one goroutine per room, and never while the SDK holds a lock: a callback
// may call any SDK method, including Disconnect. A slow callback delays the
// ones after it, not the SDK's handling of the connection.
type ParticipantCallback struct {
	// For all participants.
	OnTrackMuted               func(pub TrackPublication, p Participant)
	OnTrackUnmuted             func(pub TrackPublication, p Participant)
	OnMetadataChanged          func(oldMetadata string, p Participant)
	OnIsSpeakingChanged        func(p Participant)
	OnConnectionQualityChanged func(update *livekit.ConnectionQualityInfo, p Participant)
	// OnNameChanged is called when a participant's name changes.
	OnNameChanged func(oldName string, p Participant)
	// OnAttributesChanged is called with the attributes that changed (an
	// empty value: removed).
	OnAttributesChanged func(changed map[string]string, p Participant)

	// For remote participants.
	OnTrackSubscribed         func(track *webrtc.TrackRemote, publication *RemoteTrackPublication, rp *RemoteParticipant)
	OnTrackUnsubscribed       func(track *webrtc.TrackRemote, publication *RemoteTrackPublication, rp *RemoteParticipant)
	OnTrackSubscriptionFailed func(sid string, rp *RemoteParticipant)
	OnTrackPublished          func(publication *RemoteTrackPublication, rp *RemoteParticipant)
	OnTrackUnpublished        func(publication *RemoteTrackPublication, rp *RemoteParticipant)
	// OnDataReceived is called with each user data packet. rp is nil for
	// data sent by the server (RoomService.SendData).
	OnDataReceived func(data []byte, rp *RemoteParticipant)
	// OnDataPacket is called with each user data packet and what is known of
	// it: sender, topic, kind. It is called besides OnDataReceived.
	OnDataPacket func(data []byte, params DataReceiveParams)

	// OnPermissionsChanged is called when the server changes what a
	// participant may do (RoomService.UpdateParticipant, for one), with
	// its permissions before; Permissions returns the new ones.
	OnPermissionsChanged func(oldPermissions *livekit.ParticipantPermission, p Participant)

	// For the local participant.

	// OnLocalTrackPublished is called when the server has accepted a
	// track this program publishes (it may run before PublishTrack
	// returns), before any OnLocalTrackSubscribed of it. Tracks published
	// again by a full reconnect are not announced again.
	OnLocalTrackPublished func(publication *LocalTrackPublication, lp *LocalParticipant)
	// OnLocalTrackUnpublished is called when a local track is no longer
	// published: unpublished by this program or by the server.
	OnLocalTrackUnpublished func(publication *LocalTrackPublication, lp *LocalParticipant)
}

// DataReceiveParams describes a received data packet.
type DataReceiveParams struct {
	// Sender is nil for data sent by the server.
	Sender *RemoteParticipant
	// SenderIdentity is the sender's identity, empty for the server.
	SenderIdentity string
	// Topic is the topic the sender gave, if any.
	Topic string
	// Kind says whether it came reliably (ordered, retransmitted) or lossy.
	Kind livekit.DataPacket_Kind
}

// NewParticipantCallback returns a ParticipantCallback whose functions do
// nothing.
func NewParticipantCallback() *ParticipantCallback {
	return &ParticipantCallback{
		OnTrackMuted:               func(TrackPublication, Participant) {},
		OnTrackUnmuted:             func(TrackPublication, Participant) {},
		OnMetadataChanged:          func(string, Participant) {},
		OnIsSpeakingChanged:        func(Participant) {},
		OnConnectionQualityChanged: func(*livekit.ConnectionQualityInfo, Participant) {},
		OnNameChanged:              func(string, Participant) {},
		OnAttributesChanged:        func(map[string]string, Participant) {},
		OnTrackSubscribed:          func(*webrtc.TrackRemote, *RemoteTrackPublication, *RemoteParticipant) {},
		OnTrackUnsubscribed:        func(*webrtc.TrackRemote, *RemoteTrackPublication, *RemoteParticipant) {},
		OnTrackSubscriptionFailed:  func(string, *RemoteParticipant) {},
		OnTrackPublished:           func(*RemoteTrackPublication, *RemoteParticipant) {},
		OnTrackUnpublished:         func(*RemoteTrackPublication, *RemoteParticipant) {},
		OnDataReceived:             func([]byte, *RemoteParticipant) {},
		OnDataPacket:               func([]byte, DataReceiveParams) {},
		OnPermissionsChanged:       func(*livekit.ParticipantPermission, Participant) {},
		OnLocalTrackPublished:      func(*LocalTrackPublication, *LocalParticipant) {},
		OnLocalTrackUnpublished:    func(*LocalTrackPublication, *LocalParticipant) {},
	}
}

// Merge sets in cb every function that other has (non-nil).
func (cb *ParticipantCallback) Merge(other *ParticipantCallback) {
	if other == nil {
		return
	}
	mergeFunc(&cb.OnTrackMuted, other.OnTrackMuted)
	mergeFunc(&cb.OnTrackUnmuted, other.OnTrackUnmuted)
	mergeFunc(&cb.OnMetadataChanged, other.OnMetadataChanged)
	mergeFunc(&cb.OnIsSpeakingChanged, other.OnIsSpeakingChanged)
	mergeFunc(&cb.OnConnectionQualityChanged, other.OnConnectionQualityChanged)
	mergeFunc(&cb.OnNameChanged, other.OnNameChanged)
	mergeFunc(&cb.OnAttributesChanged, other.OnAttributesChanged)
	mergeFunc(&cb.OnTrackSubscribed, other.OnTrackSubscribed)
	mergeFunc(&cb.OnTrackUnsubscribed, other.OnTrackUnsubscribed)
	mergeFunc(&cb.OnTrackSubscriptionFailed, other.OnTrackSubscriptionFailed)
	mergeFunc(&cb.OnTrackPublished, other.OnTrackPublished)
	mergeFunc(&cb.OnTrackUnpublished, other.OnTrackUnpublished)
	mergeFunc(&cb.OnDataReceived, other.OnDataReceived)
	mergeFunc(&cb.OnDataPacket, other.OnDataPacket)
	mergeFunc(&cb.OnPermissionsChanged, other.OnPermissionsChanged)
	mergeFunc(&cb.OnLocalTrackPublished, other.OnLocalTrackPublished)
	mergeFunc(&cb.OnLocalTrackUnpublished, other.OnLocalTrackUnpublished)
}

// RoomCallback holds the functions called on events of a room; participant
// events go to its embedded ParticipantCallback. Nil fields are skipped. See
// ParticipantCallback for how callbacks are called.
type RoomCallback struct {
	// OnDisconnected is called once when the room is left for good: by
	// Disconnect, by the server, or after reconnecting failed.
	OnDisconnected            func()
	OnParticipantConnected    func(*RemoteParticipant)
	OnParticipantDisconnected func(*RemoteParticipant)
	OnActiveSpeakersChanged   func([]Participant)
	OnRoomMetadataChanged     func(metadata string)
	OnReconnecting            func()
	OnReconnected             func()
	// OnDisconnectedWithReason is called with OnDisconnected, with why the
	// room was left.
	OnDisconnectedWithReason func(reason DisconnectReason)

	// Participant events are sent to the room as well.
	ParticipantCallback

	// OnTypedDataPacket is called with each data packet of the kinds
	// DataPacket lists (user data, DTMF, chat, transcriptions), with what
	// is known of its sender (Sender is nil until the server announced
	// it). For user packets it is called besides OnDataReceived and
	// OnDataPacket.
	OnTypedDataPacket func(packet DataPacket, params DataReceiveParams)
	// OnTranscriptionReceived is called with each transcription an agent
	// sends: the segments, the transcribed participant and its track's
	// publication (nil when not known).
	OnTranscriptionReceived func(segments []*TranscriptionSegment, p Participant, publication TrackPublication)

	// OnLocalTrackSubscribed is called when the server reports that a
	// participant subscribed to a local track, the first time it does.
	OnLocalTrackSubscribed func(publication *LocalTrackPublication, lp *LocalParticipant)
	// OnRoomMoved is called when the server has moved this participant to
	// another room (RoomService.MoveParticipant): the Room now stands for
	// the new room, with its name and SID, the participants in it and the
	// local participant's new SID. token is the one the SDK now uses to
	// reconnect.
	OnRoomMoved func(roomName string, token string)
}

// NewRoomCallback returns a RoomCallback whose functions do nothing.
func NewRoomCallback() *RoomCallback {
	return &RoomCallback{
		ParticipantCallback:       *NewParticipantCallback(),
		OnDisconnected:            func() {},
		OnParticipantConnected:    func(*RemoteParticipant) {},
		OnParticipantDisconnected: func(*RemoteParticipant) {},
		OnActiveSpeakersChanged:   func([]Participant) {},
		OnRoomMetadataChanged:     func(string) {},
		OnReconnecting:            func() {},
		OnReconnected:             func() {},
		OnDisconnectedWithReason:  func(DisconnectReason) {},
		OnTypedDataPacket:         func(DataPacket, DataReceiveParams) {},
		OnTranscriptionReceived:   func([]*TranscriptionSegment, Participant, TrackPublication) {},
		OnLocalTrackSubscribed:    func(*LocalTrackPublication, *LocalParticipant) {},
		OnRoomMoved:               func(string, string) {},
	}
}

// Merge sets in cb every function that other has (non-nil).
func (cb *RoomCallback) Merge(other *RoomCallback) {
	if other == nil {
		return
	}
	mergeFunc(&cb.OnDisconnected, other.OnDisconnected)
	mergeFunc(&cb.OnParticipantConnected, other.OnParticipantConnected)
	mergeFunc(&cb.OnParticipantDisconnected, other.OnParticipantDisconnected)
	mergeFunc(&cb.OnActiveSpeakersChanged, other.OnActiveSpeakersChanged)
	mergeFunc(&cb.OnRoomMetadataChanged, other.OnRoomMetadataChanged)
	mergeFunc(&cb.OnReconnecting, other.OnReconnecting)
	mergeFunc(&cb.OnReconnected, other.OnReconnected)
	mergeFunc(&cb.OnDisconnectedWithReason, other.OnDisconnectedWithReason)
	mergeFunc(&cb.OnTypedDataPacket, other.OnTypedDataPacket)
	mergeFunc(&cb.OnTranscriptionReceived, other.OnTranscriptionReceived)
	mergeFunc(&cb.OnLocalTrackSubscribed, other.OnLocalTrackSubscribed)
	mergeFunc(&cb.OnRoomMoved, other.OnRoomMoved)
	cb.ParticipantCallback.Merge(&other.ParticipantCallback)
}

// mergeFunc sets *dst to src when src is not nil.
func mergeFunc[F any](dst *F, src F) {
	if any(src) != nil && !isNilFunc(src) {
		*dst = src
	}
}
