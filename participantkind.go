package lksdk

import "github.com/livekit/protocol/livekit"

// ParticipantKind is what kind of participant joins or is in a room: a
// person's client, an agent, a SIP call, an ingress or an egress.
type ParticipantKind int

// The kinds of participant the server tells apart.
const (
	ParticipantStandard = ParticipantKind(livekit.ParticipantInfo_STANDARD)
	ParticipantIngress  = ParticipantKind(livekit.ParticipantInfo_INGRESS)
	ParticipantEgress   = ParticipantKind(livekit.ParticipantInfo_EGRESS)
	ParticipantSIP      = ParticipantKind(livekit.ParticipantInfo_SIP)
	ParticipantAgent    = ParticipantKind(livekit.ParticipantInfo_AGENT)
)

// String returns the kind's protocol name (STANDARD, AGENT, ...).
func (k ParticipantKind) String() string { return livekit.ParticipantInfo_Kind(k).String() }

// Proto returns the kind as the protocol's enum.
func (k ParticipantKind) Proto() livekit.ParticipantInfo_Kind { return livekit.ParticipantInfo_Kind(k) }
