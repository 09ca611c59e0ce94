package lksdk

import (
	"errors"
	"fmt"

	"github.com/pion/webrtc/v3"

	"github.com/livekit/protocol/livekit"
)

// EncryptionOptions turn end-to-end encryption on for what a room sends
// (WithEncryption). pkg/e2ee's NewEncryptionOptions makes them from a key
// provider.
type EncryptionOptions struct {
	// Type is the encryption publications announce; livekit.Encryption_GCM
	// when unset.
	Type livekit.Encryption_Type
	// FrameEncryptor returns the FrameTransformer that encrypts the frames
	// of a sample track of codec mime published by identity. Required.
	FrameEncryptor func(identity, mime string) (FrameTransformer, error)
	// Data seals and opens the room's data packets (see WithDataCryptor);
	// nil leaves data in clear.
	Data DataCryptor
}

// WithEncryption turns end-to-end encryption on for the room: every
// LocalSampleTrack it publishes (PublishTrack, PublishSimulcastTrack, and
// tracks built on one, such as pkg/media's PCM tracks) has its frames
// encrypted by opts.FrameEncryptor and is announced with opts.Type, and
// data packets go through opts.Data. A track made WithFrameTransformer
// keeps its own transformer. Any other track is refused with
// ErrTrackNotEncrypted, unless its TrackPublicationOptions set Encryption
// (its frames are then the caller's to encrypt). Receiving stays explicit:
// read encrypted tracks with pkg/e2ee's TrackReader, or record them through
// its decryptors.
func WithEncryption(opts EncryptionOptions) ConnectOption {
	return func(p *ConnectParams) {
		o := opts
		if o.Type == livekit.Encryption_NONE {
			o.Type = livekit.Encryption_GCM
		}
		p.engine.encryption = &o
		if o.Data != nil {
			p.engine.dataCryptor = o.Data
		}
	}
}

// WithDataEncryption encrypts the data packets the room sends and decrypts
// those it receives with c; the same as WithDataCryptor.
func WithDataEncryption(c DataCryptor) ConnectOption { return WithDataCryptor(c) }

// ErrTrackNotEncrypted is returned when a room joined WithEncryption is
// asked to publish a track whose frames it cannot encrypt.
var ErrTrackNotEncrypted = errors.New("lksdk: the room encrypts what it publishes and cannot encrypt this track")

// sampleTracker is a LocalSampleTrack, or a track built on one (embedding
// it), whose frames the room can encrypt.
type sampleTracker interface {
	localSampleTrack() *LocalSampleTrack
}

func (s *LocalSampleTrack) localSampleTrack() *LocalSampleTrack { return s }

// encryptPublication applies the room's encryption (WithEncryption) to a
// publication of tracks: each sample track without a transformer gets the
// room's frame encryptor, and the options announce the encryption. It
// returns the options to publish with.
func (p *LocalParticipant) encryptPublication(opts *TrackPublicationOptions, tracks ...webrtc.TrackLocal) (*TrackPublicationOptions, error) {
	enc := p.engine.opts.encryption
	if enc == nil {
		return opts, nil
	}
	for _, t := range tracks {
		st, ok := t.(sampleTracker)
		if !ok {
			if opts.Encryption != livekit.Encryption_NONE {
				continue // the caller encrypts this track
			}
			return nil, fmt.Errorf("%w: a %T (publish it with TrackPublicationOptions.Encryption set if its frames are encrypted)",
				ErrTrackNotEncrypted, t)
		}
		if err := st.localSampleTrack().encryptWith(enc, p.Identity()); err != nil {
			return nil, err
		}
	}
	if opts.Encryption == livekit.Encryption_NONE {
		o := *opts
		o.Encryption = enc.Type
		opts = &o
	}
	return opts, nil
}

// encryptWith gives the track the room's frame encryptor, unless it has a
// transformer already.
func (s *LocalSampleTrack) encryptWith(enc *EncryptionOptions, identity string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.transformer != nil {
		return nil
	}
	if enc.FrameEncryptor == nil {
		return fmt.Errorf("%w: EncryptionOptions.FrameEncryptor is not set", ErrTrackNotEncrypted)
	}
	t, err := enc.FrameEncryptor(identity, s.codec.MimeType)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTrackNotEncrypted, s.codec.MimeType, err)
	}
	if t == nil {
		return fmt.Errorf("%w: %s: no frame encryptor", ErrTrackNotEncrypted, s.codec.MimeType)
	}
	s.transformer = t
	s.isKeyFrame = keyFrameCheck(s.codec.MimeType)
	return nil
}

func asTrackLocals(tracks []*LocalSampleTrack) []webrtc.TrackLocal {
	out := make([]webrtc.TrackLocal, len(tracks))
	for i, t := range tracks {
		out[i] = t
	}
	return out
}
