package mediaparse

import (
	"time"

	"github.com/livekit/server-sdk-go/internal/codec"
)

// maxOpusPacketDuration is the longest an Opus packet may last (RFC 6716
// section 3.2.5).
const maxOpusPacketDuration = 120 * time.Millisecond

// OpusPacketDuration returns the duration of an Opus packet from its TOC byte
// (RFC 6716 section 3.1): the configuration number gives the frame size
// (2.5, 5, 10, 20, 40 or 60 ms) and the frame count code the number of
// frames: 1 for code 0, 2 for codes 1 and 2, and for code 3 the count M in
// the low 6 bits of the second byte. It returns an error wrapping ErrCorrupt
// for an empty packet, a code 3 packet without its count byte or with a count
// of 0, and a packet lasting more than 120 ms.
func OpusPacketDuration(packet []byte) (time.Duration, error) {
	if len(packet) == 0 {
		return 0, corruptf("opus: empty packet")
	}
	frames, ok := codec.OpusFrameCount(packet)
	if !ok {
		return 0, corruptf("opus: code 3 packet without frame count")
	}
	if frames == 0 {
		return 0, corruptf("opus: code 3 packet with 0 frames")
	}
	frame := time.Duration(codec.OpusFrameSamples(packet[0])) * time.Second / codec.OpusClockRate
	d := time.Duration(frames) * frame
	if d > maxOpusPacketDuration {
		return 0, corruptf("opus: packet of %d frames of %v lasts over %v", frames, frame, maxOpusPacketDuration)
	}
	return d, nil
}
