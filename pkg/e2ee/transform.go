package e2ee

import (
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

// The frame cryptors plug into the SDK's frame transformer seam.
var (
	_ lksdk.FrameTransformer = (*FrameEncryptor)(nil)
	_ lksdk.FrameTransformer = (*FrameDecryptor)(nil)
)

// NewTrackEncryptor returns the encryptor of the frames of a track of
// codec mimeType ("video/VP8", "audio/opus", ...) sent by identity ("" for
// the shared key only). Give it to the track with
// lksdk.WithFrameTransformer, and publish the track with
// TrackPublicationOptions.Encryption set to livekit.Encryption_GCM. AV1 is
// refused (ErrTrackCodecNotEncryptable).
func NewTrackEncryptor(kp *ExternalKeyProvider, identity, mimeType string) (*FrameEncryptor, error) {
	codec, err := CodecFromMimeType(mimeType)
	if err != nil {
		return nil, err
	}
	if codec == CodecAV1 {
		return nil, fmt.Errorf("%w: %s", ErrTrackCodecNotEncryptable, mimeType)
	}
	return NewFrameEncryptor(kp, identity, codec)
}

// ErrTrackCodecNotEncryptable is returned for a track whose codec cannot be
// sent encrypted: AV1, whose RTP packetization reads the OBU headers that
// LiveKit's frame format encrypts (nothing of an AV1 frame stays in
// clear), so that most encrypted frames would be dropped or mangled on
// the way. livekit-client refuses AV1 for the same reason.
var ErrTrackCodecNotEncryptable = errors.New("e2ee: frames of this codec cannot be sent encrypted")

// TransformFrame encrypts frame (EncryptFrame): a FrameEncryptor is the
// lksdk.FrameTransformer of a track whose frames are encrypted end to end.
// Each frame, a replayed one too, is sealed under an IV of its own. The
// encryptor's codec must be the track's.
func (e *FrameEncryptor) TransformFrame(frame []byte, _ lksdk.FrameInfo) ([]byte, error) {
	return e.EncryptFrame(frame)
}

// TransformFrame decrypts frame (DecryptFrame), for a receive path that
// takes an lksdk.FrameTransformer. A frame the server injected in clear is
// returned as it is to be used, without an error; any other failure is an
// error, and the frame must be dropped.
func (d *FrameDecryptor) TransformFrame(frame []byte, _ lksdk.FrameInfo) ([]byte, error) {
	out, err := d.DecryptFrame(frame)
	if errors.Is(err, ErrServerInjectedFrame) {
		return out, nil
	}
	return out, err
}

// NewTrackDecryptor returns the decryptor of the frames of a track of codec
// mimeType sent by identity; sifTrailer is the room's server-injected-frame
// trailer (lksdk.Room.SifTrailer; nil if unknown). Give it to a receive path that takes an
// lksdk.FrameTransformer, such as pkg/recorder's WithFrameTransformer.
func NewTrackDecryptor(kp *ExternalKeyProvider, identity, mimeType string, sifTrailer []byte) (*FrameDecryptor, error) {
	codec, err := CodecFromMimeType(mimeType)
	if err != nil {
		return nil, err
	}
	return NewFrameDecryptor(kp, identity, codec, sifTrailer)
}

// TrackDecryptors returns a function that gives each subscribed track the
// decryptor of its frames with kp's keys when its publication is
// encrypted, and nil (frames as they are) when it is not: it has the type
// of pkg/recorder's TransformerFunc, so
//
//	recorder.NewRoomRecorder(dir, recorder.WithFrameTransformerFunc(e2ee.TrackDecryptors(kp, nil)))
//
// records a room's encrypted tracks decrypted.
func TrackDecryptors(kp *ExternalKeyProvider, sifTrailer []byte) func(*webrtc.TrackRemote, *lksdk.RemoteTrackPublication, *lksdk.RemoteParticipant) (lksdk.FrameTransformer, error) {
	sif := append([]byte(nil), sifTrailer...)
	return func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) (lksdk.FrameTransformer, error) {
		if pub.Encryption() == livekit.Encryption_NONE {
			return nil, nil
		}
		d, err := NewTrackDecryptor(kp, rp.Identity(), track.Codec().MimeType, sif)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}

// NewEncryptionOptions returns the options that turn end-to-end encryption
// on for a room with kp's keys (lksdk.WithEncryption): the frames of every
// sample track it publishes are encrypted with NewTrackEncryptor, the
// tracks are announced as livekit.Encryption_GCM, and its data packets go
// through NewDataCryptor.
//
//	opts, err := e2ee.NewEncryptionOptions(keys)
//	room, err := lksdk.ConnectToRoom(url, info, cb, lksdk.WithEncryption(opts))
func NewEncryptionOptions(kp *ExternalKeyProvider) (lksdk.EncryptionOptions, error) {
	data, err := NewDataCryptor(kp)
	if err != nil {
		return lksdk.EncryptionOptions{}, err
	}
	return lksdk.EncryptionOptions{
		Type: livekit.Encryption_GCM,
		FrameEncryptor: func(identity, mime string) (lksdk.FrameTransformer, error) {
			return NewTrackEncryptor(kp, identity, mime)
		},
		Data: data,
	}, nil
}
