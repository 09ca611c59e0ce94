package mediaparse

import "time"

// maxOpusPacketDuration is the longest an Opus packet may last (RFC 6716
// section 3.2.5).
const maxOpusPacketDuration = 120 * time.Millisecond

// opusFrameSizes gives the frame duration of each TOC configuration number
// (RFC 6716 section 3.1, table 2).
var opusFrameSizes = [32]time.Duration{
	// SILK-only, NB, MB, WB: 10, 20, 40, 60 ms.
	10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond,
	// Hybrid, SWB, FB: 10, 20 ms.
	10 * time.Millisecond, 20 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond,
	// CELT-only, NB, WB, SWB, FB: 2.5, 5, 10, 20 ms.
	2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
}

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
	toc := packet[0]
	frame := opusFrameSizes[toc>>3]
	var frames int
	switch toc & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	case 3:
		if len(packet) < 2 {
			return 0, corruptf("opus: code 3 packet without frame count")
		}
		frames = int(packet[1] & 0x3f)
		if frames == 0 {
			return 0, corruptf("opus: code 3 packet with 0 frames")
		}
	}
	d := time.Duration(frames) * frame
	if d > maxOpusPacketDuration {
		return 0, corruptf("opus: packet of %d frames of %v lasts over %v", frames, frame, maxOpusPacketDuration)
	}
	return d, nil
}
