package lksdk

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
)

// TrackPublication is a track a participant published: a
// *LocalTrackPublication or a *RemoteTrackPublication.
type TrackPublication interface {
	Name() string
	SID() string
	Source() livekit.TrackSource
	Kind() TrackKind
	MimeType() string
	IsMuted() bool
	IsSubscribed() bool
	TrackInfo() *livekit.TrackInfo
	// Track is either a webrtc.TrackLocal or a *webrtc.TrackRemote.
	Track() Track
}

// trackPublicationBase is what local and remote publications share.
type trackPublicationBase struct {
	mu    sync.RWMutex
	kind  TrackKind
	track Track
	sid   string
	name  string
	muted bool
	info  *livekit.TrackInfo
}

// Name returns the name the publisher gave the track.
func (p *trackPublicationBase) Name() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.name
}

// SID returns the track's server id (TR_...).
func (p *trackPublicationBase) SID() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sid
}

// Kind returns audio or video.
func (p *trackPublicationBase) Kind() TrackKind {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.kind
}

// Track returns the media track: a webrtc.TrackLocal for a local
// publication, the *webrtc.TrackRemote of a subscribed remote one, or nil.
func (p *trackPublicationBase) Track() Track {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.track
}

// MimeType returns the track's codec, such as "video/VP8".
func (p *trackPublicationBase) MimeType() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.info != nil {
		return p.info.MimeType
	}
	return ""
}

// Source returns what the track is from: camera, microphone, screen share.
func (p *trackPublicationBase) Source() livekit.TrackSource {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.info != nil {
		return p.info.Source
	}
	return livekit.TrackSource_UNKNOWN
}

// IsMuted reports whether the track is muted.
func (p *trackPublicationBase) IsMuted() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.muted
}

// Encryption returns how the track's frames are encrypted end to end, as
// its publisher announced (livekit.Encryption_NONE when they are not):
// a subscriber decrypts frames only when it is not NONE.
func (p *trackPublicationBase) Encryption() livekit.Encryption_Type {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.info.GetEncryption()
}

// TrackInfo returns the server's last description of the track.
func (p *trackPublicationBase) TrackInfo() *livekit.TrackInfo {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.info
}

// updateInfo records info and reports whether its muted state changed.
func (p *trackPublicationBase) updateInfo(info *livekit.TrackInfo) (muteChanged bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.info = info
	p.sid, p.name = info.Sid, info.Name
	p.kind = kindFromProto(info.Type)
	muteChanged = p.muted != info.Muted
	p.muted = info.Muted
	return muteChanged
}

// RemoteTrackPublication is a track published by a remote participant.
type RemoteTrackPublication struct {
	trackPublicationBase
	participant *RemoteParticipant

	// guarded by trackPublicationBase.mu
	receiver    *webrtc.RTPReceiver
	remote      *webrtc.TrackRemote
	subscribed  bool // the SDK holds the track
	disabled    bool
	width       uint32
	height      uint32
	quality     livekit.VideoQuality
	qualitySet  bool
	onRTCP      func(rtcp.Packet)
	rtcpStarted bool
	intent      subscriptionIntent
	denied      bool // the publisher does not allow this participant to subscribe
}

// subscriptionIntent is what the user asked of a remote track, kept to be
// asked again after a reconnect.
type subscriptionIntent int

const (
	intentNone subscriptionIntent = iota
	intentSubscribe
	intentUnsubscribe
)

func (p *RemoteTrackPublication) subscriptionIntent() subscriptionIntent {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.intent
}

// TrackRemote returns the subscribed track, or nil.
func (p *RemoteTrackPublication) TrackRemote() *webrtc.TrackRemote {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.remote
}

// Receiver returns the subscribed track's receiver, or nil.
func (p *RemoteTrackPublication) Receiver() *webrtc.RTPReceiver {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.receiver
}

// IsSubscribed reports whether the track is subscribed and its media is
// being received.
func (p *RemoteTrackPublication) IsSubscribed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.subscribed
}

// IsEnabled reports whether the server forwards the track (see SetEnabled).
func (p *RemoteTrackPublication) IsEnabled() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return !p.disabled
}

// SetSubscribed subscribes to the track or unsubscribes from it.
// OnTrackSubscribed or OnTrackUnsubscribed follows when the server has done
// it.
func (p *RemoteTrackPublication) SetSubscribed(subscribed bool) error {
	room := p.participant.room
	if room == nil {
		return ErrNotConnected
	}
	p.mu.Lock()
	p.intent = intentUnsubscribe
	if subscribed {
		p.intent = intentSubscribe
	}
	p.mu.Unlock()
	sid, psid := p.SID(), p.participant.SID()
	return room.engine.sendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{
		Subscription: &livekit.UpdateSubscription{
			TrackSids: []string{sid},
			Subscribe: subscribed,
			ParticipantTracks: []*livekit.ParticipantTracks{{
				ParticipantSid: psid,
				TrackSids:      []string{sid},
			}},
		},
	}})
}

// SetEnabled asks the server to pause (false) or resume (true) forwarding the
// track, keeping the subscription.
func (p *RemoteTrackPublication) SetEnabled(enabled bool) {
	p.mu.Lock()
	p.disabled = !enabled
	p.mu.Unlock()
	p.sendSettings()
}

// SetVideoDimensions asks the server for the simulcast layer that best fits
// width × height.
func (p *RemoteTrackPublication) SetVideoDimensions(width uint32, height uint32) {
	p.mu.Lock()
	p.width, p.height, p.qualitySet = width, height, false
	p.mu.Unlock()
	p.sendSettings()
}

// SetVideoQuality asks the server for the simulcast layer of quality q.
func (p *RemoteTrackPublication) SetVideoQuality(q livekit.VideoQuality) error {
	p.mu.Lock()
	p.quality, p.qualitySet = q, true
	p.width, p.height = 0, 0
	if p.info != nil {
		for _, l := range p.info.Layers {
			if l.Quality == q {
				p.width, p.height = l.Width, l.Height
			}
		}
	}
	p.mu.Unlock()
	return p.sendSettings()
}

func (p *RemoteTrackPublication) sendSettings() error {
	room := p.participant.room
	if room == nil {
		return ErrNotConnected
	}
	p.mu.RLock()
	settings := &livekit.UpdateTrackSettings{
		TrackSids: []string{p.sid},
		Disabled:  p.disabled,
		Width:     p.width,
		Height:    p.height,
	}
	if p.qualitySet {
		settings.Quality = p.quality
	}
	p.mu.RUnlock()
	return room.engine.sendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_TrackSetting{TrackSetting: settings}})
}

// OnRTCP sets a function called with each RTCP packet the server sends about
// the subscribed track (sender reports, SDES, ...).
func (p *RemoteTrackPublication) OnRTCP(cb func(rtcp.Packet)) {
	p.mu.Lock()
	p.onRTCP = cb
	p.mu.Unlock()
	p.startRTCP()
}

// startRTCP starts the reader of the receiver's RTCP, once there are both a
// receiver and a function to give packets to.
func (p *RemoteTrackPublication) startRTCP() {
	p.mu.Lock()
	receiver, start := p.receiver, p.receiver != nil && p.onRTCP != nil && !p.rtcpStarted
	if start {
		p.rtcpStarted = true
	}
	p.mu.Unlock()
	room := p.participant.room
	if !start || room == nil {
		return
	}
	room.goroutines.start(func() {
		for {
			pkts, _, err := receiver.ReadRTCP()
			if err != nil {
				return // the receiver stopped
			}
			p.mu.RLock()
			cb := p.onRTCP
			p.mu.RUnlock()
			for _, pkt := range pkts {
				cb(pkt)
			}
		}
	})
}

func (p *RemoteTrackPublication) setReceiver(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	p.mu.Lock()
	p.remote, p.receiver, p.track = track, receiver, track
	p.subscribed = true
	p.rtcpStarted = false
	p.mu.Unlock()
	p.startRTCP()
}

// clearReceiver forgets the track; it returns the track it had, or nil.
func (p *RemoteTrackPublication) clearReceiver() *webrtc.TrackRemote {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.remote
	p.remote, p.receiver, p.track = nil, nil, nil
	p.subscribed = false
	return t
}

// LocalTrackPublication is a track the local participant published.
type LocalTrackPublication struct {
	trackPublicationBase
	client     *SignalClient
	trackLocal webrtc.TrackLocal
	binding    *trackBinding // on the current session; nil when unpublished
	opts       TrackPublicationOptions
	simulcast  map[livekit.VideoQuality]*LocalSampleTrack
	req        *livekit.AddTrackRequest // as first sent, to publish again
	layers     []*LocalSampleTrack      // simulcast layers, lowest first
	// subscribed is set once the server says someone subscribed.
	subscribed *stateFlag
	log        *logr.Logger // the room's, once published
}

// setLogger gives the publication its room's logger (nil: the package's).
func (p *LocalTrackPublication) setLogger(l *logr.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = l
}

// setInfo records the server's latest description of the track.
func (p *LocalTrackPublication) setInfo(info *livekit.TrackInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.info = info
}

// senderTracks returns the track a sender is made with (the lowest
// simulcast layer, or the one track) and the further simulcast layers.
func (p *LocalTrackPublication) senderTracks() (first webrtc.TrackLocal, more []*LocalSampleTrack) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.layers) > 0 {
		return p.layers[0], p.layers[1:]
	}
	return p.trackLocal, nil
}

func (p *LocalTrackPublication) logger() logr.Logger {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.log != nil {
		return *p.log
	}
	return getLogger()
}

// WaitForSubscriber returns once the server has reported a subscriber of
// the track, or with ctx's error.
func (p *LocalTrackPublication) WaitForSubscriber(ctx context.Context) error {
	return p.subscribed.wait(ctx)
}

// setBinding replaces the publication's binding and returns the one it had.
func (p *LocalTrackPublication) setBinding(b *trackBinding) *trackBinding {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.binding
	p.binding = b
	return old
}

// stopRTCPReaders stops the RTCP readers of the publication's binding.
func (p *LocalTrackPublication) stopRTCPReaders() {
	p.mu.RLock()
	b := p.binding
	p.mu.RUnlock()
	if b != nil {
		b.stopRTCP()
	}
}

// closeTracks stops the publication's sample tracks: their providers are
// unblocked and their writers stopped.
func (p *LocalTrackPublication) closeTracks() {
	for _, st := range p.sampleTracks() {
		st.close()
	}
}

// cid returns the client id the track was published with.
func (p *LocalTrackPublication) cid() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.req != nil {
		return p.req.Cid
	}
	return ""
}

// NewLocalTrackPublication returns a publication of track, not yet
// published; client is used to tell the server of mutes.
func NewLocalTrackPublication(kind TrackKind, track Track, name string, client *SignalClient) *LocalTrackPublication {
	pub := &LocalTrackPublication{client: client, subscribed: newStateFlag()}
	pub.kind, pub.track, pub.name = kind, track, name
	if tl, ok := track.(webrtc.TrackLocal); ok {
		pub.trackLocal = tl
	}
	return pub
}

// IsSubscribed reports whether the track is published.
func (p *LocalTrackPublication) IsSubscribed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sid != ""
}

// TrackLocal returns the published track.
func (p *LocalTrackPublication) TrackLocal() webrtc.TrackLocal {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.trackLocal
}

// GetSimulcastTrack returns the layer of quality q of a simulcast
// publication, or nil.
func (p *LocalTrackPublication) GetSimulcastTrack(q livekit.VideoQuality) *LocalSampleTrack {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.simulcast[q]
}

// sampleTracks returns the publication's LocalSampleTracks: its layers, or
// its one track.
func (p *LocalTrackPublication) sampleTracks() []*LocalSampleTrack {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.simulcast) > 0 {
		out := make([]*LocalSampleTrack, 0, len(p.simulcast))
		for _, t := range p.simulcast {
			out = append(out, t)
		}
		return out
	}
	switch t := p.trackLocal.(type) {
	case *LocalSampleTrack:
		return []*LocalSampleTrack{t}
	case SampleTrackWrapper:
		return []*LocalSampleTrack{t.SampleTrack()}
	}
	return nil
}

// SampleTrackWrapper is a track built on a LocalSampleTrack, such as the
// PCM track of pkg/media, that is published as it: PublishTrack binds the
// sample track inside (its writer, RTCP and keyframe requests belong to the
// room as a LocalSampleTrack's do).
type SampleTrackWrapper interface {
	webrtc.TrackLocal
	SampleTrack() *LocalSampleTrack
}

// SetMuted mutes or unmutes the track: the server tells subscribers, and a
// muted LocalSampleTrack stops sending.
func (p *LocalTrackPublication) SetMuted(muted bool) {
	p.mu.Lock()
	changed := p.muted != muted
	p.muted = muted
	sid := p.sid
	p.mu.Unlock()
	for _, st := range p.sampleTracks() {
		st.setMuted(muted)
	}
	if !changed || sid == "" || p.client == nil {
		return
	}
	if err := p.client.SendMuteTrack(sid, muted); err != nil {
		p.logger().Info("could not send mute", "track", sid, "error", err)
	}
}

// setMutedByServer records a mute the server asked for; it reports whether
// anything changed.
func (p *LocalTrackPublication) setMutedByServer(muted bool) bool {
	p.mu.Lock()
	changed := p.muted != muted
	p.muted = muted
	p.mu.Unlock()
	for _, st := range p.sampleTracks() {
		st.setMuted(muted)
	}
	return changed
}
