package lksdk

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// ErrInvalidResponse: the server sent a signal message that lacks what the
// SDK needs to use it (a join without a participant, an update naming no
// one). During a join it ends the join with a *ConnectError; later the
// message is logged, counted and dropped.
var ErrInvalidResponse = errors.New("lksdk: invalid signal response")

// invalid returns an error wrapping ErrInvalidResponse that names what is
// wrong with a message of kind.
func invalid(kind, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidResponse, kind, fmt.Sprintf(format, args...))
}

// validateJoin reports what makes join unusable: every join names the room
// and the participant it admitted, and every participant and track in it
// has a session id.
func validateJoin(join *livekit.JoinResponse) error {
	const kind = "join"
	switch {
	case join == nil:
		return invalid(kind, "empty")
	case join.Room == nil:
		return invalid(kind, "no room")
	case join.Room.Name == "" && join.Room.Sid == "":
		return invalid(kind, "room has neither name nor sid")
	case join.Participant == nil:
		return invalid(kind, "no participant")
	case join.Participant.Sid == "" || join.Participant.Identity == "":
		return invalid(kind, "participant without sid or identity")
	}
	if err := validateParticipant(kind, join.Participant); err != nil {
		return err
	}
	return validateParticipants(kind, join.OtherParticipants)
}

// validateParticipants checks each participant of a join or an update.
func validateParticipants(kind string, ps []*livekit.ParticipantInfo) error {
	for i, p := range ps {
		if p == nil || p.Sid == "" {
			return invalid(kind, "participant %d has no sid", i)
		}
		if err := validateParticipant(kind, p); err != nil {
			return err
		}
	}
	return nil
}

func validateParticipant(kind string, p *livekit.ParticipantInfo) error {
	for i, t := range p.Tracks {
		if t == nil || t.Sid == "" {
			return invalid(kind, "participant %s: track %d has no sid", p.Sid, i)
		}
	}
	return nil
}

// validateResponse reports what makes a signal response unusable, or nil.
// A message the SDK does not act on (including kinds newer than the
// protocol module, which decode to no message) is never invalid.
func validateResponse(res *livekit.SignalResponse) error {
	if res == nil {
		return invalid("response", "empty")
	}
	switch m := res.Message.(type) {
	case *livekit.SignalResponse_Join:
		return validateJoin(m.Join)
	case *livekit.SignalResponse_Reconnect:
		if m.Reconnect == nil {
			return invalid("reconnect", "empty")
		}
	case *livekit.SignalResponse_Answer:
		return validateSDP("answer", m.Answer)
	case *livekit.SignalResponse_Offer:
		return validateSDP("offer", m.Offer)
	case *livekit.SignalResponse_Trickle:
		switch {
		case m.Trickle == nil || (m.Trickle.CandidateInit == "" && !m.Trickle.Final):
			return invalid("trickle", "no candidate")
		case m.Trickle.CandidateInit != "" && !json.Valid([]byte(m.Trickle.CandidateInit)):
			return invalid("trickle", "candidate is not JSON")
		}
	case *livekit.SignalResponse_Update:
		if m.Update == nil {
			return invalid("participant update", "empty")
		}
		return validateParticipants("participant update", m.Update.Participants)
	case *livekit.SignalResponse_TrackPublished:
		if m.TrackPublished == nil || m.TrackPublished.Track == nil || m.TrackPublished.Track.Sid == "" {
			return invalid("track published", "no track sid")
		}
	case *livekit.SignalResponse_TrackUnpublished:
		if m.TrackUnpublished == nil || m.TrackUnpublished.TrackSid == "" {
			return invalid("track unpublished", "no track sid")
		}
	case *livekit.SignalResponse_SpeakersChanged:
		for i, s := range m.SpeakersChanged.GetSpeakers() {
			if s == nil || s.Sid == "" {
				return invalid("speakers changed", "speaker %d has no sid", i)
			}
		}
	case *livekit.SignalResponse_ConnectionQuality:
		for i, q := range m.ConnectionQuality.GetUpdates() {
			if q == nil || q.ParticipantSid == "" {
				return invalid("connection quality", "update %d has no participant sid", i)
			}
		}
	case *livekit.SignalResponse_RoomUpdate:
		if m.RoomUpdate.GetRoom() == nil {
			return invalid("room update", "no room")
		}
	case *livekit.SignalResponse_Mute:
		if m.Mute == nil || m.Mute.Sid == "" {
			return invalid("mute", "no track sid")
		}
	case *livekit.SignalResponse_RefreshToken:
		if m.RefreshToken == "" {
			return invalid("refresh token", "empty")
		}
	case *livekit.SignalResponse_Leave:
		if m.Leave == nil {
			return invalid("leave", "empty")
		}
	case *livekit.SignalResponse_TrackSubscribed:
		if m.TrackSubscribed == nil || m.TrackSubscribed.TrackSid == "" {
			return invalid("track subscribed", "no track sid")
		}
	case *livekit.SignalResponse_SubscriptionResponse:
		if m.SubscriptionResponse == nil || m.SubscriptionResponse.TrackSid == "" {
			return invalid("subscription response", "no track sid")
		}
	case *livekit.SignalResponse_RequestResponse:
		if m.RequestResponse == nil {
			return invalid("request response", "empty")
		}
	}
	return nil
}

func validateSDP(kind string, sd *livekit.SessionDescription) error {
	if sd == nil || sd.Sdp == "" {
		return invalid(kind, "no session description")
	}
	return nil
}

// DroppedSignalResponses returns how many signal responses the room's
// connection dropped because they were invalid (each also logged). A
// well-behaved server never causes one.
func (r *Room) DroppedSignalResponses() uint64 {
	r.lock.RLock()
	e := r.engine
	r.lock.RUnlock()
	if e == nil {
		return 0
	}
	return e.client.InvalidResponses()
}
