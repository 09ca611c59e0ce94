package mediaparse

import (
	"bytes"

	"github.com/livekit/server-sdk-go/internal/codec"
)

// IsVP8Keyframe reports whether frame is a VP8 keyframe: bit 0 of its 3-byte
// frame tag (RFC 6386 section 9.1) is 0. It reports false for data shorter
// than the frame tag.
func IsVP8Keyframe(frame []byte) bool {
	return len(frame) >= 3 && frame[0]&1 == 0
}

// VP8Dimensions returns the picture size a VP8 keyframe's header states
// (RFC 6386 section 9.1: 14-bit width and height after the start code
// 9d 01 2a; the top two bits of each are the scaling mode). ok is false for
// an inter frame, a truncated header, a wrong start code or a zero size.
func VP8Dimensions(frame []byte) (width, height int, ok bool) {
	if len(frame) < 10 || !IsVP8Keyframe(frame) {
		return 0, 0, false
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	width = int(uint16(frame[6])|uint16(frame[7])<<8) & 0x3fff
	height = int(uint16(frame[8])|uint16(frame[9])<<8) & 0x3fff
	if width == 0 || height == 0 {
		return 0, 0, false
	}
	return width, height, true
}

// IsVP9Keyframe reports whether frame starts with the uncompressed header of
// a VP9 keyframe (VP9 bitstream specification section 6.2): frame_marker 2,
// the profile bits (and, for profile 3, the reserved zero bit),
// show_existing_frame 0, frame_type 0 (KEY_FRAME), then show_frame,
// error_resilient_mode and the frame sync code 49 83 42. For a superframe the
// first frame is examined.
func IsVP9Keyframe(frame []byte) bool {
	b := NewBitReader(frame)
	_, key, ok := vp9HeaderStart(&b)
	return key && ok
}

// vp9HeaderStart reads a VP9 uncompressed header up to a keyframe's frame
// sync code: the profile, and whether the frame is a keyframe; ok is false
// when the header is malformed or truncated.
func vp9HeaderStart(b *BitReader) (profile uint32, key, ok bool) {
	if b.Bits(2) != 2 { // frame_marker
		return 0, false, false
	}
	low := b.Bits(1)
	profile = b.Bits(1)<<1 | low
	if profile == 3 && b.Bits(1) != 0 { // reserved_zero
		return 0, false, false
	}
	if b.Flag() { // show_existing_frame
		b.Bits(3)
		return profile, false, !b.Failed()
	}
	if b.Bits(1) != 0 { // frame_type: a non-key frame
		b.Bits(2) // show_frame, error_resilient_mode
		return profile, false, !b.Failed()
	}
	// show_frame and error_resilient_mode, then frame_sync_code.
	b.Bits(2)
	if b.Bits(24) != 0x498342 {
		return profile, false, false
	}
	return profile, true, !b.Failed()
}

// VP9FrameHeader reads what an RTP payload descriptor (RFC 9628) needs of a
// VP9 frame's uncompressed header (VP9 bitstream specification section
// 6.2): whether it is a keyframe, and a keyframe's size. A frame that
// shows an existing one is not a keyframe. ok is false when the header is
// malformed or truncated. For a superframe the first frame is read.
func VP9FrameHeader(frame []byte) (key bool, width, height int, ok bool) {
	b := NewBitReader(frame)
	profile, key, ok := vp9HeaderStart(&b)
	if !key || !ok {
		return false, 0, 0, ok
	}
	// color_config
	if profile >= 2 {
		b.Bits(1) // ten_or_twelve_bit
	}
	if b.Bits(3) != 7 { // color_space, not CS_RGB
		b.Bits(1) // color_range
		if profile == 1 || profile == 3 {
			b.Bits(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		b.Bits(1) // reserved_zero
	}
	width = int(b.Bits(16)) + 1 // frame_width_minus_1
	height = int(b.Bits(16)) + 1
	if b.Failed() {
		return false, 0, 0, false
	}
	return true, width, height, true
}

// AV1 OBU types (AV1 specification section 6.2.2).
const av1OBUSequenceHeader = 1

// IsAV1Keyframe reports whether the AV1 temporal unit (OBUs in the low
// overhead bitstream format, as IVF stores them) holds a sequence header OBU.
// Encoders send a sequence header with every keyframe, so this is an
// acceptable heuristic for a random access point. The OBU headers and their
// leb128 sizes are checked; malformed data gives false.
func IsAV1Keyframe(temporalUnit []byte) bool {
	p := temporalUnit
	for len(p) > 0 {
		h := p[0]
		if h&0x80 != 0 { // obu_forbidden_bit
			return false
		}
		typ := h >> 3 & 0x0f
		hasExt := h&0x04 != 0
		hasSize := h&0x02 != 0
		n := 1
		if hasExt {
			n++
		}
		if len(p) < n {
			return false
		}
		if typ == av1OBUSequenceHeader {
			return true
		}
		p = p[n:]
		if !hasSize {
			// The OBU runs to the end of the data.
			return false
		}
		size, used, ok := codec.ReadLEB128(p)
		if !ok || size > uint64(len(p)-used) {
			return false
		}
		p = p[used+int(size):]
	}
	return false
}

// IsH264Keyframe reports whether the Annex-B data au (start codes of 3 or 4
// bytes) holds an IDR slice, NAL unit type 5.
func IsH264Keyframe(au []byte) bool {
	for {
		i := bytes.Index(au, startCode3)
		if i < 0 || i+3 >= len(au) {
			return false
		}
		au = au[i+3:]
		if au[0]&0x9f == codec.NALIDR { // forbidden_zero_bit 0, nal_unit_type 5
			return true
		}
	}
}

var startCode3 = []byte{0, 0, 1}
