package codec

// OpusClockRate is Opus's RTP clock rate, whatever the audio's rate (RFC
// 7587), and the rate of Ogg Opus granule positions.
const OpusClockRate = 48000

// OpusMaxPacketSamples is the longest an Opus packet may last, 120 ms, in
// 48 kHz samples (RFC 6716 section 3.2.5).
const OpusMaxPacketSamples = 5760

// opusFrameSamples gives the frame duration, in 48 kHz samples, of each TOC
// configuration number (RFC 6716 section 3.1, table 2).
var opusFrameSamples = [32]int{
	// SILK-only, NB, MB, WB: 10, 20, 40, 60 ms.
	480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
	// Hybrid, SWB, FB: 10, 20 ms.
	480, 960, 480, 960,
	// CELT-only, NB, WB, SWB, FB: 2.5, 5, 10, 20 ms.
	120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
}

// OpusFrameSamples returns the duration, in 48 kHz samples, of one frame of
// the configuration the TOC byte names.
func OpusFrameSamples(toc byte) int { return opusFrameSamples[toc>>3] }

// OpusFrameCount returns the number of frames of an Opus packet from its
// TOC byte's frame count code (RFC 6716 section 3.2): 1 for code 0, 2 for
// codes 1 and 2, and for code 3 the count in the low 6 bits of the second
// byte. ok is false for an empty packet or a code 3 packet without its
// count byte.
func OpusFrameCount(packet []byte) (frames int, ok bool) {
	if len(packet) == 0 {
		return 0, false
	}
	switch packet[0] & 3 {
	case 0:
		return 1, true
	case 1, 2:
		return 2, true
	}
	if len(packet) < 2 {
		return 0, false
	}
	return int(packet[1] & 0x3f), true
}
