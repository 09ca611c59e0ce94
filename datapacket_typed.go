package lksdk

import (
	"context"
	"errors"
	"time"

	"github.com/livekit/protocol/livekit"
)

// DataPacket is a typed data packet, sent with
// LocalParticipant.PublishTypedDataPacket and received by
// RoomCallback.OnTypedDataPacket: a *UserDataPacket, *SipDTMF,
// *ChatMessage or *Transcription.
type DataPacket interface {
	// ToProto returns the packet as it goes on the wire.
	ToProto() *livekit.DataPacket
}

// UserDataPacket is an application's own data, as PublishData sends it.
type UserDataPacket struct {
	Payload []byte
	// Topic lets receivers tell kinds of data apart.
	Topic string
}

// UserData returns a user packet carrying data.
func UserData(data []byte) *UserDataPacket { return &UserDataPacket{Payload: data} }

// ToProto returns the packet as it goes on the wire.
func (p *UserDataPacket) ToProto() *livekit.DataPacket {
	up := &livekit.UserPacket{Payload: p.Payload}
	if p.Topic != "" {
		topic := p.Topic
		up.Topic = &topic
	}
	return &livekit.DataPacket{Value: &livekit.DataPacket_User{User: up}}
}

// SipDTMF is a telephone keypad tone, sent to or received from a SIP
// participant.
type SipDTMF struct {
	// Code is the DTMF event code (0-9, 10 for *, 11 for #, 12-15 for A-D).
	Code uint32
	// Digit is the key: "0"-"9", "*", "#", "A"-"D".
	Digit string
}

// ToProto returns the packet as it goes on the wire.
func (p *SipDTMF) ToProto() *livekit.DataPacket {
	return &livekit.DataPacket{Value: &livekit.DataPacket_SipDtmf{SipDtmf: &livekit.SipDTMF{Code: p.Code, Digit: p.Digit}}}
}

// ChatMessage is a chat message, as LiveKit's chat components send them.
type ChatMessage struct {
	// ID identifies the message; an edit or deletion repeats it.
	ID string
	// Timestamp is when the message was first sent.
	Timestamp time.Time
	// EditTimestamp is set when the message is an edit of an earlier one.
	EditTimestamp *time.Time
	Message       string
	// Deleted asks receivers to remove the message ID.
	Deleted bool
	// Generated is set when an agent transcribed the message from speech.
	Generated bool
}

// ToProto returns the packet as it goes on the wire.
func (p *ChatMessage) ToProto() *livekit.DataPacket {
	cm := &livekit.ChatMessage{
		Id: p.ID, Timestamp: p.Timestamp.UnixMilli(), Message: p.Message, Deleted: p.Deleted, Generated: p.Generated,
	}
	if p.EditTimestamp != nil {
		ts := p.EditTimestamp.UnixMilli()
		cm.EditTimestamp = &ts
	}
	return &livekit.DataPacket{Value: &livekit.DataPacket_ChatMessage{ChatMessage: cm}}
}

// Transcription is text transcribed from a participant's speech, as agents
// send it. The server relays transcriptions from agents only.
type Transcription struct {
	// ParticipantIdentity is the participant whose speech this is.
	ParticipantIdentity string
	// TrackID is the sid of the transcribed track.
	TrackID  string
	Segments []*TranscriptionSegment
}

// TranscriptionSegment is a piece of a transcription.
type TranscriptionSegment struct {
	// ID identifies the segment; later versions of it repeat the id.
	ID       string
	Text     string
	Language string
	// StartTime and EndTime place the segment in the track, in the
	// sender's units (milliseconds for LiveKit's agents).
	StartTime uint64
	EndTime   uint64
	// Final is set once the segment will not change.
	Final bool
}

// ToProto returns the packet as it goes on the wire.
func (p *Transcription) ToProto() *livekit.DataPacket {
	t := &livekit.Transcription{TranscribedParticipantIdentity: p.ParticipantIdentity, TrackId: p.TrackID}
	for _, s := range p.Segments {
		t.Segments = append(t.Segments, &livekit.TranscriptionSegment{
			Id: s.ID, Text: s.Text, Language: s.Language, StartTime: s.StartTime, EndTime: s.EndTime, Final: s.Final,
		})
	}
	return &livekit.DataPacket{Value: &livekit.DataPacket_Transcription{Transcription: t}}
}

// typedPacketOf returns the typed form of dp, or nil for packets that are
// not of these kinds.
func typedPacketOf(dp *livekit.DataPacket) DataPacket {
	switch v := dp.Value.(type) {
	case *livekit.DataPacket_User:
		return &UserDataPacket{Payload: v.User.GetPayload(), Topic: v.User.GetTopic()}
	case *livekit.DataPacket_SipDtmf:
		return &SipDTMF{Code: v.SipDtmf.GetCode(), Digit: v.SipDtmf.GetDigit()}
	case *livekit.DataPacket_ChatMessage:
		cm := v.ChatMessage
		m := &ChatMessage{
			ID: cm.GetId(), Timestamp: time.UnixMilli(cm.GetTimestamp()), Message: cm.GetMessage(),
			Deleted: cm.GetDeleted(), Generated: cm.GetGenerated(),
		}
		if cm.EditTimestamp != nil {
			ts := time.UnixMilli(cm.GetEditTimestamp())
			m.EditTimestamp = &ts
		}
		return m
	case *livekit.DataPacket_Transcription:
		t := v.Transcription
		out := &Transcription{ParticipantIdentity: t.GetTranscribedParticipantIdentity(), TrackID: t.GetTrackId()}
		for _, s := range t.GetSegments() {
			out.Segments = append(out.Segments, &TranscriptionSegment{
				ID: s.GetId(), Text: s.GetText(), Language: s.GetLanguage(),
				StartTime: s.GetStartTime(), EndTime: s.GetEndTime(), Final: s.GetFinal(),
			})
		}
		return out
	}
	return nil
}

// handleTypedPacket delivers a DTMF, chat or transcription packet to the
// callbacks, in order with the room's other events. It runs on the engine
// loop; done is called once the packet's callbacks have run.
func (r *Room) handleTypedPacket(dp *livekit.DataPacket, done func()) {
	pkt := typedPacketOf(dp)
	if pkt == nil {
		done()
		return
	}
	sender := r.GetParticipantByIdentity(dp.ParticipantIdentity)
	params := DataReceiveParams{Sender: sender, SenderIdentity: dp.ParticipantIdentity, Kind: dp.Kind}
	r.emitData(func(cb *RoomCallback) { cb.OnTypedDataPacket(pkt, params) }, done)
	t, ok := pkt.(*Transcription)
	if !ok {
		return
	}
	var p Participant
	var pub TrackPublication
	if t.ParticipantIdentity == r.LocalParticipant.Identity() {
		p = r.LocalParticipant
		pub = r.LocalParticipant.getPublication(t.TrackID)
	} else if rp := r.GetParticipantByIdentity(t.ParticipantIdentity); rp != nil {
		p = rp
		if tp := rp.GetTrackPublication(t.TrackID); tp != nil {
			pub = tp
		}
	}
	r.emit(func(cb *RoomCallback) { cb.OnTranscriptionReceived(t.Segments, p, pub) })
}

// PublishTypedDataPacket sends a typed packet (UserData(...), &SipDTMF{...},
// &ChatMessage{...}, &Transcription{...}) to the room: reliably and to
// everyone unless options say otherwise (WithDataTopic applies to user
// packets). It waits, bounded by ctx, for the publisher connection.
func (p *LocalParticipant) PublishTypedDataPacket(ctx context.Context, pkt DataPacket, opts ...DataPublishOption) error {
	if pkt == nil {
		return errors.New("lksdk: PublishTypedDataPacket needs a packet")
	}
	var o dataPublishOptions
	for _, opt := range opts {
		opt(&o)
	}
	dp := pkt.ToProto()
	if dp == nil || dp.Value == nil {
		return errors.New("lksdk: the packet has no content")
	}
	dp.Kind = livekit.DataPacket_RELIABLE
	if o.lossy {
		dp.Kind = livekit.DataPacket_LOSSY
	}
	dp.DestinationIdentities = append(dp.DestinationIdentities, o.destinations...)
	if user := dp.GetUser(); user != nil {
		user.DestinationIdentities = dp.DestinationIdentities
		if o.topic != "" {
			topic := o.topic
			user.Topic = &topic
		}
	}
	return p.publishData(ctx, dp)
}

// SendDTMF sends a DTMF tone (code and digit, see SipDTMF) to the room's
// SIP participants, or to those options name.
func (p *LocalParticipant) SendDTMF(ctx context.Context, code uint32, digit string, opts ...DataPublishOption) error {
	return p.PublishTypedDataPacket(ctx, &SipDTMF{Code: code, Digit: digit}, opts...)
}

// SendChatMessage sends a chat message to the room (or to those options
// name) and returns it as sent, with its id and timestamp.
func (p *LocalParticipant) SendChatMessage(ctx context.Context, message string, opts ...DataPublishOption) (*ChatMessage, error) {
	m := &ChatMessage{ID: newUUID(), Timestamp: time.Now(), Message: message}
	if err := p.PublishTypedDataPacket(ctx, m, opts...); err != nil {
		return nil, err
	}
	return m, nil
}
