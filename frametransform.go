package lksdk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v3"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// FrameInfo describes a frame handed to a FrameTransformer.
type FrameInfo struct {
	// MimeType is the track's codec ("video/VP8", "audio/opus", ...).
	MimeType string
	// KeyFrame reports whether a video frame is a keyframe (always false
	// for audio).
	KeyFrame bool
	// Timestamp is the RTP timestamp the frame is sent with.
	Timestamp uint32
	// SSRC is the RTP stream the frame is sent on.
	SSRC uint32
	// Replay reports that the frame is sent again in answer to a keyframe
	// request (KeyFrameReplayer), with a timestamp of its own.
	Replay bool
}

// FrameTransformer rewrites each whole frame a LocalSampleTrack sends (for
// H.264, each Annex-B access unit) before it is packetized into RTP: end-to-
// end encryption (pkg/e2ee) is one. TransformFrame returns the frame to send,
// which may be frame itself or a new slice, and must not keep frame after it
// returns. Replayed frames go through it again, each with its own timestamp.
// A frame it fails on is dropped, never sent untransformed. It is called by
// one writer at a time for a track.
type FrameTransformer interface {
	TransformFrame(frame []byte, info FrameInfo) ([]byte, error)
}

// ErrFrameTransform wraps the error of a FrameTransformer: the frame was
// dropped.
var ErrFrameTransform = errors.New("lksdk: frame transform failed; frame dropped")

// WithFrameTransformer makes the track pass every frame through t before it
// is packetized (see FrameTransformer).
func WithFrameTransformer(t FrameTransformer) LocalSampleTrackOptions {
	return func(s *LocalSampleTrack) { s.transformer = t }
}

// keyFrameCheck returns the keyframe test of a video codec, or nil.
func keyFrameCheck(mime string) func([]byte) bool {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return mediaparse.IsVP8Keyframe
	case strings.ToLower(webrtc.MimeTypeVP9):
		return mediaparse.IsVP9Keyframe
	case strings.ToLower(webrtc.MimeTypeAV1):
		return mediaparse.IsAV1Keyframe
	case strings.ToLower(webrtc.MimeTypeH264):
		return mediaparse.IsH264Keyframe
	}
	return nil
}

// transform passes data through the track's transformer; it runs under
// writeMu. On failure the frame is counted as dropped and the error logged
// at most once per logInterval.
func (s *LocalSampleTrack) transform(data []byte, ts uint32, ssrc webrtc.SSRC, replay bool) ([]byte, error) {
	info := FrameInfo{MimeType: s.codec.MimeType, Timestamp: ts, SSRC: uint32(ssrc), Replay: replay}
	if s.isKeyFrame != nil {
		info.KeyFrame = s.isKeyFrame(data)
	}
	out, err := s.transformer.TransformFrame(data, info)
	if err == nil && len(out) == 0 {
		err = errors.New("empty frame")
	}
	if err != nil {
		s.transformFailed.Add(1)
		if ok, suppressed := s.transformLog.allow(); ok {
			s.logger().Error(err, "frame transform failed; frame dropped", "track", s.id, "suppressed", suppressed)
		}
		return nil, fmt.Errorf("%w: %w", ErrFrameTransform, err)
	}
	return out, nil
}
