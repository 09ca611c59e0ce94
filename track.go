package lksdk

import (
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// TrackKind is the kind of a track: audio or video.
type TrackKind string

// The track kinds.
const (
	TrackKindVideo TrackKind = "video"
	TrackKindAudio TrackKind = "audio"
)

// String returns "audio" or "video".
func (k TrackKind) String() string { return string(k) }

// RTPType returns the kind as pion's codec type.
func (k TrackKind) RTPType() webrtc.RTPCodecType {
	return webrtc.NewRTPCodecType(string(k))
}

// ProtoType returns the kind as the signalling protocol's track type.
func (k TrackKind) ProtoType() livekit.TrackType {
	if k == TrackKindVideo {
		return livekit.TrackType_VIDEO
	}
	return livekit.TrackType_AUDIO
}

// KindFromRTPType returns the TrackKind of pion's codec type.
func KindFromRTPType(rt webrtc.RTPCodecType) TrackKind {
	return TrackKind(rt.String())
}

func kindFromProto(t livekit.TrackType) TrackKind {
	if t == livekit.TrackType_VIDEO {
		return TrackKindVideo
	}
	return TrackKindAudio
}

// Track is a local or remote media track: a webrtc.TrackLocal (such as a
// LocalSampleTrack) or a *webrtc.TrackRemote.
type Track interface {
	ID() string
}
