package lksdk

import (
	"sync"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// Participant is a participant of a room: the LocalParticipant or a
// RemoteParticipant.
type Participant interface {
	SID() string
	Identity() string
	Name() string
	IsSpeaking() bool
	AudioLevel() float32
	Tracks() []TrackPublication
	IsCameraEnabled() bool
	IsMicrophoneEnabled() bool
	IsScreenShareEnabled() bool
	Metadata() string
	GetTrack(source livekit.TrackSource) TrackPublication
}

// baseParticipant is what local and remote participants share.
type baseParticipant struct {
	mu         sync.RWMutex
	sid        string
	identity   string
	name       string
	metadata   string
	attributes map[string]string
	kind       livekit.ParticipantInfo_Kind
	permission *livekit.ParticipantPermission
	info       *livekit.ParticipantInfo
	audioLevel float32
	isSpeaking bool
	quality    livekit.ConnectionQuality
	tracks     map[string]TrackPublication // by track sid
}

func (p *baseParticipant) init() {
	p.tracks = map[string]TrackPublication{}
	p.attributes = map[string]string{}
}

// SID returns the participant's session id (PA_...).
func (p *baseParticipant) SID() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sid
}

// Identity returns the participant's identity, unique in the room.
func (p *baseParticipant) Identity() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.identity
}

// Name returns the participant's display name.
func (p *baseParticipant) Name() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.name
}

// Metadata returns the participant's metadata.
func (p *baseParticipant) Metadata() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.metadata
}

// Attributes returns a copy of the participant's attributes.
func (p *baseParticipant) Attributes() map[string]string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]string, len(p.attributes))
	for k, v := range p.attributes {
		out[k] = v
	}
	return out
}

// Kind returns what kind of participant this is (standard, agent, SIP, ...),
// as the server reports it.
func (p *baseParticipant) Kind() ParticipantKind {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return ParticipantKind(p.kind)
}

// Permissions returns what the server lets the participant do (publish,
// subscribe, publish data, ...), as it last reported; nil before the
// participant is known. The result must not be changed.
func (p *baseParticipant) Permissions() *livekit.ParticipantPermission {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.permission
}

// ParticipantInfo returns the server's last description of the participant.
func (p *baseParticipant) ParticipantInfo() *livekit.ParticipantInfo {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.info
}

// IsSpeaking reports whether the server counts the participant among the
// active speakers.
func (p *baseParticipant) IsSpeaking() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.isSpeaking
}

// AudioLevel returns the participant's last audio level, 0 (silent) to 1.
func (p *baseParticipant) AudioLevel() float32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.audioLevel
}

// ConnectionQuality returns the server's last estimate of the participant's
// connection quality.
func (p *baseParticipant) ConnectionQuality() livekit.ConnectionQuality {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.quality
}

// Tracks returns the participant's track publications.
func (p *baseParticipant) Tracks() []TrackPublication {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]TrackPublication, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t)
	}
	return out
}

// GetTrack returns the publication of the given source, or nil.
func (p *baseParticipant) GetTrack(source livekit.TrackSource) TrackPublication {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, t := range p.tracks {
		if t.Source() == source {
			return t
		}
	}
	return nil
}

// IsCameraEnabled reports whether a camera track is published and unmuted.
func (p *baseParticipant) IsCameraEnabled() bool {
	return p.isSourceEnabled(livekit.TrackSource_CAMERA)
}

// IsMicrophoneEnabled reports whether a microphone track is published and
// unmuted.
func (p *baseParticipant) IsMicrophoneEnabled() bool {
	return p.isSourceEnabled(livekit.TrackSource_MICROPHONE)
}

// IsScreenShareEnabled reports whether a screen share track is published and
// unmuted.
func (p *baseParticipant) IsScreenShareEnabled() bool {
	return p.isSourceEnabled(livekit.TrackSource_SCREEN_SHARE)
}

func (p *baseParticipant) isSourceEnabled(source livekit.TrackSource) bool {
	pub := p.GetTrack(source)
	return pub != nil && !pub.IsMuted()
}

func (p *baseParticipant) getPublication(sid string) TrackPublication {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.tracks[sid]
}

// infoChanges is what a ParticipantInfo changed of a participant.
type infoChanges struct {
	oldMetadata     string
	metadataChanged bool
	oldName         string
	nameChanged     bool
	attributes      map[string]string // changed keys; "" for removed ones
	oldPermission   *livekit.ParticipantPermission
	permissionSet   bool // the permissions changed
}

// applyInfo records pi (unless it is older than what is known) and returns
// what changed; ok is false for a stale update.
func (p *baseParticipant) applyInfo(pi *livekit.ParticipantInfo) (ch infoChanges, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.info != nil && p.info.Sid == pi.Sid && pi.Version < p.info.Version {
		return ch, false
	}
	first := p.info == nil
	p.info = pi
	p.sid, p.identity, p.kind = pi.Sid, pi.Identity, pi.Kind
	if pi.Metadata != p.metadata {
		ch.oldMetadata, ch.metadataChanged = p.metadata, !first
		p.metadata = pi.Metadata
	}
	if !proto.Equal(pi.Permission, p.permission) {
		ch.oldPermission, ch.permissionSet = p.permission, !first
		p.permission = pi.Permission
	}
	if pi.Name != p.name {
		ch.oldName, ch.nameChanged = p.name, !first
		p.name = pi.Name
	}
	for k, v := range pi.Attributes {
		if p.attributes[k] != v {
			if ch.attributes == nil {
				ch.attributes = map[string]string{}
			}
			ch.attributes[k] = v
			p.attributes[k] = v
		}
	}
	for k := range p.attributes {
		if _, kept := pi.Attributes[k]; !kept {
			if ch.attributes == nil {
				ch.attributes = map[string]string{}
			}
			ch.attributes[k] = ""
			delete(p.attributes, k)
		}
	}
	if first {
		ch.attributes = nil
	}
	return ch, true
}

func (p *baseParticipant) setSpeaking(level float32, active bool) (changed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.audioLevel = level
	changed = p.isSpeaking != active
	p.isSpeaking = active
	return changed
}

func (p *baseParticipant) setQuality(q livekit.ConnectionQuality) {
	p.mu.Lock()
	p.quality = q
	p.mu.Unlock()
}
