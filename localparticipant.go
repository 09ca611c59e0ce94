package lksdk

import (
	"context"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
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
	}
	if req.Source == livekit.TrackSource_UNKNOWN {
		req.Source = livekit.TrackSource_MICROPHONE
		if kind == TrackKindVideo {
			req.Source = livekit.TrackSource_CAMERA
		}
	}
	info, err := p.engine.addTrack(ctx, req)
	if err != nil {
		return nil, err
	}
	pub := NewLocalTrackPublication(kind, track, opts.Name, p.engine.client)
	pub.opts = *opts
	pub.updateInfo(info)

	publisher := p.engine.transport(livekit.SignalTarget_PUBLISHER)
	transceiver, err := publisher.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("lksdk: adding track to the publisher: %w", err)
	}
	pub.mu.Lock()
	pub.transceiver, pub.sender = transceiver, transceiver.Sender()
	pub.mu.Unlock()
	p.readSenderRTCP(transceiver.Sender())

	p.mu.Lock()
	p.tracks[info.Sid] = pub
	p.mu.Unlock()
	p.engine.negotiatePublisher()
	publisher.Negotiate()
	return pub, nil
}

// readSenderRTCP reads the RTCP the server sends about a published track, as
// pion needs for its interceptors (NACK, reports) to work.
func (p *LocalParticipant) readSenderRTCP(sender *webrtc.RTPSender) {
	if !p.room.goroutines.add() {
		return
	}
	go func() {
		defer p.room.goroutines.done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
}

// UnpublishTrack stops publishing the track sid.
func (p *LocalParticipant) UnpublishTrack(sid string) error {
	pub, _ := p.getPublication(sid).(*LocalTrackPublication)
	if pub == nil {
		return fmt.Errorf("%w: %s", ErrCannotFindTrack, sid)
	}
	p.mu.Lock()
	delete(p.tracks, sid)
	p.mu.Unlock()
	pub.mu.RLock()
	sender := pub.sender
	pub.mu.RUnlock()
	publisher := p.engine.transport(livekit.SignalTarget_PUBLISHER)
	if sender != nil && publisher != nil {
		if err := publisher.pc.RemoveTrack(sender); err != nil {
			return fmt.Errorf("lksdk: removing track: %w", err)
		}
		publisher.Negotiate()
	}
	return nil
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

func (p *LocalParticipant) publishData(ctx context.Context, dp *livekit.DataPacket) error {
	if p.engine == nil {
		return ErrNotConnected
	}
	return p.engine.publishData(ctx, dp)
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
	if t := p.engine.transport(livekit.SignalTarget_PUBLISHER); t != nil {
		return t.pc
	}
	return nil
}

// GetSubscriberPeerConnection returns the peer connection that receives
// media and data.
func (p *LocalParticipant) GetSubscriberPeerConnection() *webrtc.PeerConnection {
	if t := p.engine.transport(livekit.SignalTarget_SUBSCRIBER); t != nil {
		return t.pc
	}
	return nil
}
