package recorder

import (
	"errors"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// Errors of the depacketizers. They make the frame being assembled
// incomplete; they are never returned to the user.
var (
	errNotFrameStart  = errors.New("recorder: first packet does not start a frame")
	errMalformed      = errors.New("recorder: malformed payload")
	errIncomplete     = errors.New("recorder: frame ends inside a fragment")
	errUnsupportedPkt = errors.New("recorder: unsupported packetization")
	errFrameTooLarge  = errors.New("recorder: frame too large")
)

// maxFrameSize caps the size of one assembled frame; a larger frame is
// dropped as incomplete.
const maxFrameSize = 16 << 20

// frameInfo is what a depacketizer tells about an assembled frame.
type frameInfo struct {
	// key: the frame can be decoded without earlier frames.
	key bool
	// width and height of the picture, when asked for, the frame is a
	// keyframe and the codec states them; 0 otherwise.
	width, height int
	// picID is the frame's picture ID (VP8, VP9), or -1 when it has none;
	// picIDBits is its width (7 or 15).
	picID     int32
	picIDBits uint8
}

// depacketizer turns the RTP payloads of one frame into the codec's
// bitstream, as its file format stores it.
type depacketizer interface {
	// appendPayload depacketizes one RTP payload, appending the media data
	// to frame. first says it is the first packet of a frame; such a packet
	// must start a frame (errNotFrameStart otherwise) and resets the
	// per-frame state.
	appendPayload(frame, payload []byte, first bool) ([]byte, error)
	// finish completes the frame and describes it. The returned slice is
	// frame or a buffer of the depacketizer, valid until the next call.
	// wantSize asks for the picture size of a keyframe.
	finish(frame []byte, wantSize bool) ([]byte, frameInfo, error)
}

// frameTransformed is implemented by depacketizers that keep per-frame
// state about the reassembled bytes: transformed is called, before finish,
// with the frame a FrameTransformer made of them, and fails when the
// depacketizer cannot follow the change.
type frameTransformed interface {
	transformed(frame []byte) error
}

// appendChecked appends data to frame unless that would pass maxFrameSize.
func appendChecked(frame, data []byte) ([]byte, error) {
	if len(frame)+len(data) > maxFrameSize {
		return frame, errFrameTooLarge
	}
	return append(frame, data...), nil
}

// opusDepacketizer passes Opus payloads through (RFC 7587: one Opus packet
// per RTP packet, no payload header).
type opusDepacketizer struct{}

func (opusDepacketizer) appendPayload(frame, payload []byte, _ bool) ([]byte, error) {
	return appendChecked(frame, payload)
}

func (opusDepacketizer) finish(frame []byte, _ bool) ([]byte, frameInfo, error) {
	return frame, frameInfo{key: true, picID: -1}, nil
}

// bitReader is mediaparse's bit reader with AV1's uvlc.
type bitReader struct{ mediaparse.BitReader }

// uvlc reads the AV1 variable length code uvlc() (AV1 specification 4.10.3).
func (b *bitReader) uvlc() uint32 {
	zeros := 0
	for !b.Failed() && !b.Flag() {
		zeros++
		if zeros >= 32 {
			b.SetFailed()
			return 0
		}
	}
	if zeros == 0 {
		return 0
	}
	return b.Bits(zeros) + (1<<zeros - 1)
}
