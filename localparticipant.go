package lksdk

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"google.golang.org/protobuf/proto"
)

const (
	defaultPublishTimeout = 15 * time.Second
	defaultRequestTimeout = 10 * time.Second
)

// LocalParticipant is this program's participant in a room.
type LocalParticipant struct {
	baseParticipant
	room   *Room
	engine *RTCEngine

	subscriptionPermission *livekit.SubscriptionPermission // guarded by mu; nil: never set
}

func newLocalParticipant(room *Room) *LocalParticipant {
	p := &LocalParticipant{room: room}
	p.init()
	return p
}

// TrackPublicationOptions describe a track to publish.
type TrackPublicationOptions struct {
	// Name of the track, shown to other participants.
	Name string
	// Source of the track. When unset, video tracks are published as the
	// camera and audio tracks as the microphone.
	Source livekit.TrackSource
	// VideoWidth and VideoHeight are the video's dimensions.
	VideoWidth  int
	VideoHeight int
	// DisableDTX turns off Opus discontinuous transmission.
	DisableDTX bool
	// Stereo marks an audio track as stereo.
	Stereo bool
	// Stream groups tracks that belong together (such as a camera and its
	// microphone) under one name.
	Stream string
	// Encryption announces that the track's frames are encrypted end to
	// end (livekit.Encryption_GCM, as pkg/e2ee seals them), so that
	// subscribers know to decrypt them. It does not encrypt anything: the
	// track's frames must be sealed, such as by a LocalSampleTrack made
	// WithFrameTransformer, or by a room joined WithEncryption (which sets
	// it for the sample tracks it encrypts). An encrypted audio track is published without
	// RED, whose redundant copies a receiver could not decrypt.
	Encryption livekit.Encryption_Type
}

// PublishTrack publishes track to the room and returns its publication once
// the server has accepted it (15 s at most). Media flows as soon as the
// publisher connection is up.
func (p *LocalParticipant) PublishTrack(track webrtc.TrackLocal, opts *TrackPublicationOptions) (*LocalTrackPublication, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultPublishTimeout)
	defer cancel()
	return p.PublishTrackWithContext(ctx, track, opts)
}

// PublishTrackWithContext is PublishTrack bounded by ctx.
func (p *LocalParticipant) PublishTrackWithContext(ctx context.Context, track webrtc.TrackLocal, opts *TrackPublicationOptions) (*LocalTrackPublication, error) {
	if p.engine == nil {
		return nil, ErrNotConnected
	}
	if opts == nil {
		opts = &TrackPublicationOptions{}
	}
	opts, err := p.encryptPublication(opts, track)
	if err != nil {
		return nil, err
	}
	kind := KindFromRTPType(track.Kind())
	req := &livekit.AddTrackRequest{
		Cid:        track.ID(),
		Name:       opts.Name,
		Type:       kind.ProtoType(),
		Source:     opts.Source,
		Width:      uint32(opts.VideoWidth),
		Height:     uint32(opts.VideoHeight),
		DisableDtx: opts.DisableDTX,
		Stereo:     opts.Stereo,
		Stream:     opts.Stream,
		Encryption: opts.Encryption,
		DisableRed: kind == TrackKindAudio && opts.Encryption != livekit.Encryption_NONE,
	}
	req.AudioFeatures = audioFeatures(track, opts)
	for _, f := range req.AudioFeatures {
		switch f {
		case livekit.AudioTrackFeature_TF_NO_DTX:
			req.DisableDtx = true
		case livekit.AudioTrackFeature_TF_STEREO:
			req.Stereo = true
		}
	}
	if req.Source == livekit.TrackSource_UNKNOWN {
		req.Source = livekit.TrackSource_MICROPHONE
		if kind == TrackKindVideo {
			req.Source = livekit.TrackSource_CAMERA
		}
	}
	pub := NewLocalTrackPublication(kind, track, opts.Name, p.engine.client)
	pub.opts, pub.req = *opts, req
	if err := p.publish(ctx, pub, true); err != nil {
		return nil, err
	}
	return pub, nil
}

// AudioFeaturesTrack is a track that says how it must be published, such
// as the PCM tracks of pkg/media, which send silence rather than nothing
// (no DTX) and may be stereo. PublishTrack adds its features to those the
// publication options ask for.
type AudioFeaturesTrack interface {
	webrtc.TrackLocal
	AudioFeatures() []livekit.AudioTrackFeature
}

// audioFeatures are the features the add-track request announces: those of
// opts (DisableDTX, Stereo) and those track has.
func audioFeatures(track webrtc.TrackLocal, opts *TrackPublicationOptions) []livekit.AudioTrackFeature {
	var fs []livekit.AudioTrackFeature
	add := func(f livekit.AudioTrackFeature) {
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	if opts.Stereo {
		add(livekit.AudioTrackFeature_TF_STEREO)
	}
	if opts.DisableDTX {
		add(livekit.AudioTrackFeature_TF_NO_DTX)
	}
	if t, ok := track.(AudioFeaturesTrack); ok {
		for _, f := range t.AudioFeatures() {
			add(f)
		}
	}
	return fs
}

// publish asks the server for pub's track, adds it to the publisher
// connection and records it; announce queues OnLocalTrackPublished. A full
// reconnect runs it again for every publication, unannounced.
func (p *LocalParticipant) publish(ctx context.Context, pub *LocalTrackPublication, announce bool) error {
	pub.setLogger(p.room.ownLogger())
	req := proto.Clone(pub.req).(*livekit.AddTrackRequest)
	req.Muted = pub.IsMuted()
	info, err := p.engine.addTrack(ctx, req)
	if err != nil {
		return err
	}
	pub.updateInfo(info)
	first, more := pub.senderTracks()
	transceiver, err := p.engine.addTransceiver(first, more)
	if err != nil {
		return err
	}
	pub.setBinding(p.bindTrack(pub, transceiver))
	// Recorded and announced at once: the loop, which looks the track up
	// to announce its first subscriber, cannot announce that first.
	p.mu.Lock()
	p.tracks[info.Sid] = pub
	if announce {
		p.room.emit(func(cb *RoomCallback) { cb.OnLocalTrackPublished(pub, p) })
	}
	p.mu.Unlock()
	return nil
}

// republish publishes every local track again, with all its options, on a
// new session.
func (p *LocalParticipant) republish(ctx context.Context) error {
	p.resendSubscriptionPermission()
	pubs := p.TrackPublications()
	p.mu.Lock()
	p.tracks = map[string]TrackPublication{}
	p.mu.Unlock()
	for _, pub := range pubs {
		if err := p.publish(ctx, pub, false); err != nil {
			// Keep every publication for the next attempt.
			p.mu.Lock()
			for _, q := range pubs {
				p.tracks[q.SID()] = q
			}
			p.mu.Unlock()
			return err
		}
	}
	return nil
}

// PublishSimulcastTrack publishes the layers of one video as a simulcast
// track: each a LocalSampleTrack made WithSimulcast, with the same
// simulcast id and a different quality. Subscribers get the layer that fits
// them.
func (p *LocalParticipant) PublishSimulcastTrack(tracks []*LocalSampleTrack, opts *TrackPublicationOptions) (*LocalTrackPublication, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultPublishTimeout)
	defer cancel()
	return p.PublishSimulcastTrackWithContext(ctx, tracks, opts)
}

// PublishSimulcastTrackWithContext is PublishSimulcastTrack bounded by ctx.
func (p *LocalParticipant) PublishSimulcastTrackWithContext(ctx context.Context, tracks []*LocalSampleTrack, opts *TrackPublicationOptions) (*LocalTrackPublication, error) {
	if p.engine == nil {
		return nil, ErrNotConnected
	}
	if len(tracks) == 0 {
		return nil, ErrInvalidSimulcastTrack
	}
	if opts == nil {
		opts = &TrackPublicationOptions{}
	}
	layers := make([]*LocalSampleTrack, 0, len(tracks))
	seen := map[livekit.VideoQuality]bool{}
	for _, t := range tracks {
		if t == nil || t.layer == nil {
			return nil, ErrInvalidSimulcastTrack
		}
		if t.Kind() != webrtc.RTPCodecTypeVideo {
			return nil, ErrUnsupportedSimulcastKind
		}
		if seen[t.layer.Quality] || t.ID() != tracks[0].ID() {
			return nil, fmt.Errorf("%w: layers need distinct qualities and one simulcast id", ErrInvalidSimulcastTrack)
		}
		seen[t.layer.Quality] = true
		layers = append(layers, t)
	}
	encOpts, err := p.encryptPublication(opts, asTrackLocals(layers)...)
	if err != nil {
		return nil, err
	}
	opts = encOpts
	// The order of the encodings tells the server which is which: lowest
	// first.
	sort.Slice(layers, func(i, j int) bool { return layers[i].layer.Quality < layers[j].layer.Quality })
	top := layers[len(layers)-1].layer
	req := &livekit.AddTrackRequest{
		Cid:        layers[0].ID(),
		Name:       opts.Name,
		Type:       livekit.TrackType_VIDEO,
		Source:     opts.Source,
		Width:      top.Width,
		Height:     top.Height,
		Stream:     opts.Stream,
		Encryption: opts.Encryption,
	}
	if req.Source == livekit.TrackSource_UNKNOWN {
		req.Source = livekit.TrackSource_CAMERA
	}
	for _, t := range layers {
		req.Layers = append(req.Layers, t.layer)
	}
	pub := NewLocalTrackPublication(TrackKindVideo, layers[0], opts.Name, p.engine.client)
	pub.opts, pub.req, pub.layers = *opts, req, layers
	pub.simulcast = map[livekit.VideoQuality]*LocalSampleTrack{}
	for _, t := range layers {
		pub.simulcast[t.layer.Quality] = t
	}
	if err := p.publish(ctx, pub, true); err != nil {
		return nil, err
	}
	return pub, nil
}

// stopRTCPReaders stops the RTCP readers of every publication, before the
// publisher connection is closed.
func (p *LocalParticipant) stopRTCPReaders() {
	for _, pub := range p.TrackPublications() {
		pub.stopRTCPReaders()
	}
}

// UnpublishTrack stops publishing the track sid.
func (p *LocalParticipant) UnpublishTrack(sid string) error {
	pub, _ := p.getPublication(sid).(*LocalTrackPublication)
	if pub == nil {
		return fmt.Errorf("%w: %s", ErrCannotFindTrack, sid)
	}
	p.mu.Lock()
	_, published := p.tracks[sid]
	delete(p.tracks, sid)
	if published {
		p.room.emit(func(cb *RoomCallback) { cb.OnLocalTrackUnpublished(pub, p) })
	}
	p.mu.Unlock()
	b := pub.setBinding(nil)
	if b == nil {
		return nil
	}
	b.close()
	return p.engine.removeTrack(b.transceiver.Sender())
}

// TrackPublications returns the local participant's publications.
func (p *LocalParticipant) TrackPublications() []*LocalTrackPublication {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*LocalTrackPublication, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t.(*LocalTrackPublication))
	}
	return out
}

// PublishData sends data to the participants with the given SIDs, or to
// everyone when destinationSids is empty, reliably or not as kind says. It
// waits at most 10 s for the publisher connection.
func (p *LocalParticipant) PublishData(data []byte, kind livekit.DataPacket_Kind, destinationSids []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultRequestTimeout)
	defer cancel()
	return p.publishData(ctx, &livekit.DataPacket{
		Kind:  kind,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: data, DestinationSids: destinationSids}},
	})
}

// DataPublishOption is an option of PublishDataPacket.
type DataPublishOption func(*dataPublishOptions)

type dataPublishOptions struct {
	lossy        bool
	topic        string
	destinations []string
}

// WithDataTopic sets the packet's topic, passed to receivers.
func WithDataTopic(topic string) DataPublishOption {
	return func(o *dataPublishOptions) { o.topic = topic }
}

// WithDataDestinations sends the packet only to the participants with these
// identities.
func WithDataDestinations(identities ...string) DataPublishOption {
	return func(o *dataPublishOptions) { o.destinations = append(o.destinations, identities...) }
}

// WithDataReliable chooses reliable (ordered, retransmitted: the default) or
// lossy delivery.
func WithDataReliable(reliable bool) DataPublishOption {
	return func(o *dataPublishOptions) { o.lossy = !reliable }
}

// PublishDataPacket sends data to the room: reliably and to everyone unless
// options say otherwise. It waits, bounded by ctx, for the publisher
// connection and for room in the send buffer. An encoded packet may be at
// most 64 KiB (ErrDataTooLarge).
func (p *LocalParticipant) PublishDataPacket(ctx context.Context, data []byte, opts ...DataPublishOption) error {
	var o dataPublishOptions
	for _, opt := range opts {
		opt(&o)
	}
	dp := &livekit.DataPacket{
		Kind:                  livekit.DataPacket_RELIABLE,
		DestinationIdentities: o.destinations,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{
			Payload:               data,
			DestinationIdentities: o.destinations,
		}},
	}
	if o.topic != "" {
		dp.GetUser().Topic = &o.topic
	}
	if o.lossy {
		dp.Kind = livekit.DataPacket_LOSSY
	}
	return p.publishData(ctx, dp)
}

// SetMetadata changes the participant's metadata. The token must allow it
// (canUpdateOwnMetadata; ConnectToRoom's tokens do).
func (p *LocalParticipant) SetMetadata(metadata string) error {
	return p.updateMetadata(&livekit.UpdateParticipantMetadata{Metadata: metadata})
}

// SetName changes the participant's name, where the token allows it.
func (p *LocalParticipant) SetName(name string) error {
	return p.updateMetadata(&livekit.UpdateParticipantMetadata{Name: name})
}

// SetAttributes sets the given attributes, where the token allows it; an
// empty value removes the attribute.
func (p *LocalParticipant) SetAttributes(attributes map[string]string) error {
	return p.updateMetadata(&livekit.UpdateParticipantMetadata{Attributes: attributes})
}

func (p *LocalParticipant) updateMetadata(req *livekit.UpdateParticipantMetadata) error {
	if p.engine == nil {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultRequestTimeout)
	defer cancel()
	res, err := p.engine.sendRequestAndWait(ctx, func(id uint32) *livekit.SignalRequest {
		req.RequestId = id
		return &livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: req}}
	})
	if err != nil {
		return err
	}
	if res.Reason != livekit.RequestResponse_OK {
		return fmt.Errorf("lksdk: server refused the update: %s: %s", res.Reason, res.Message)
	}
	return nil
}

// GetPublisherPeerConnection returns the peer connection that sends media
// and data.
func (p *LocalParticipant) GetPublisherPeerConnection() *webrtc.PeerConnection {
	if p.engine == nil {
		return nil
	}
	return p.engine.peerConnection(livekit.SignalTarget_PUBLISHER)
}

// GetSubscriberPeerConnection returns the peer connection that receives
// media and data.
func (p *LocalParticipant) GetSubscriberPeerConnection() *webrtc.PeerConnection {
	if p.engine == nil {
		return nil
	}
	return p.engine.peerConnection(livekit.SignalTarget_SUBSCRIBER)
}
