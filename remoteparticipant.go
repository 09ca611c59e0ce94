package lksdk

import (
	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
)

// RemoteParticipant is another participant of the room.
type RemoteParticipant struct {
	baseParticipant
	room *Room
}

func newRemoteParticipant(room *Room) *RemoteParticipant {
	rp := &RemoteParticipant{room: room}
	rp.init()
	return rp
}

// TrackPublications returns the participant's publications.
func (p *RemoteParticipant) TrackPublications() []*RemoteTrackPublication {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*RemoteTrackPublication, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t.(*RemoteTrackPublication))
	}
	return out
}

// GetTrackPublication returns the publication of the track sid, or nil.
func (p *RemoteParticipant) GetTrackPublication(sid string) *RemoteTrackPublication {
	pub, _ := p.getPublication(sid).(*RemoteTrackPublication)
	return pub
}

// WritePLI asks the publisher of the track received with ssrc for a
// keyframe.
func (p *RemoteParticipant) WritePLI(ssrc webrtc.SSRC) {
	if err := p.room.engine.writeSubscriberRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
		p.room.logger().V(1).Info("could not send PLI", "error", err)
	}
}

// trackChanges is what a ParticipantInfo changed of a participant's tracks.
type trackChanges struct {
	published   []*RemoteTrackPublication
	unpublished []*RemoteTrackPublication
	muted       []*RemoteTrackPublication // mute state changed
}

// applyTracks brings the publications in line with the tracks of pi.
func (p *RemoteParticipant) applyTracks(pi *livekit.ParticipantInfo) (ch trackChanges) {
	seen := make(map[string]bool, len(pi.Tracks))
	for _, ti := range pi.Tracks {
		seen[ti.Sid] = true
		pub := p.GetTrackPublication(ti.Sid)
		if pub == nil {
			pub = &RemoteTrackPublication{participant: p}
			pub.updateInfo(ti)
			p.mu.Lock()
			p.tracks[ti.Sid] = pub
			p.mu.Unlock()
			ch.published = append(ch.published, pub)
			continue
		}
		if pub.updateInfo(ti) {
			ch.muted = append(ch.muted, pub)
		}
	}
	p.mu.Lock()
	for sid, t := range p.tracks {
		if !seen[sid] {
			delete(p.tracks, sid)
			ch.unpublished = append(ch.unpublished, t.(*RemoteTrackPublication))
		}
	}
	p.mu.Unlock()
	return ch
}

// removeAllTracks drops every publication and returns them.
func (p *RemoteParticipant) removeAllTracks() []*RemoteTrackPublication {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*RemoteTrackPublication, 0, len(p.tracks))
	for sid, t := range p.tracks {
		out = append(out, t.(*RemoteTrackPublication))
		delete(p.tracks, sid)
	}
	return out
}
