package recorder

import (
	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// AV1 OBU types (AV1 specification section 6.2.2).
const (
	av1OBUSequenceHeader     = 1
	av1OBUTemporalDelimiter  = 2
	av1OBUTileList           = 8
	av1OBUHasSizeField       = 0x02
	av1OBUExtensionFlag      = 0x04
	av1TemporalDelimiterByte = av1OBUTemporalDelimiter<<3 | av1OBUHasSizeField
)

// av1Depacketizer turns AV1 RTP payloads (AV1 RTP payload specification,
// section 4: an aggregation header, then OBU elements, the first and last of
// which may be fragments of OBUs continued in neighbouring packets) into a
// temporal unit in the low overhead bitstream format (AV1 specification
// section 5.2) that IVF stores: a temporal delimiter OBU, then every OBU
// with obu_has_size_field set and its leb128 size. Temporal delimiter and
// tile list OBUs received are dropped, as the payload specification says.
//
// A temporal unit is taken as a keyframe when it holds a sequence header
// OBU: WebRTC encoders send one with every keyframe (and the payload
// specification's N bit marks the same packets).
type av1Depacketizer struct {
	frag       []byte // OBU element continued in the next packet
	fragActive bool
	seqHdr     bool
	seqStart   int // offset in the frame of the sequence header's payload
	seqEnd     int
}

func (d *av1Depacketizer) appendPayload(frame, payload []byte, first bool) ([]byte, error) {
	if len(payload) < 1 {
		return frame, errMalformed
	}
	agg := payload[0]
	z := agg&0x80 != 0 // first element continues an OBU of the previous packet
	y := agg&0x40 != 0 // last element continues in the next packet
	w := int(agg>>4) & 3
	if first {
		d.fragActive, d.seqHdr = false, false
		d.frag = d.frag[:0]
		if z {
			return frame, errNotFrameStart
		}
		if len(frame)+2 > maxFrameSize {
			return frame, errFrameTooLarge
		}
		frame = append(frame, av1TemporalDelimiterByte, 0)
	}
	if z != d.fragActive {
		// A continuation without a fragment, or a fragment not continued.
		return frame, errMalformed
	}
	p := payload[1:]
	var err error
	for i := 0; len(p) > 0; i++ {
		if w != 0 && i >= w {
			return frame, errMalformed
		}
		var elem []byte
		if w == 0 || i < w-1 {
			size, n, ok := codec.ReadLEB128(p)
			if !ok || size > uint64(len(p)-n) {
				return frame, errMalformed
			}
			elem, p = p[n:n+int(size)], p[n+int(size):]
		} else {
			elem, p = p, nil
		}
		last := len(p) == 0
		switch {
		case i == 0 && z:
			if len(d.frag)+len(elem) > maxFrameSize {
				return frame, errFrameTooLarge
			}
			d.frag = append(d.frag, elem...)
			if last && y {
				continue // still not complete
			}
			d.fragActive = false
			frame, err = d.appendOBU(frame, d.frag)
			d.frag = d.frag[:0]
		case last && y:
			if len(elem) > maxFrameSize {
				return frame, errFrameTooLarge
			}
			d.frag = append(d.frag[:0], elem...)
			d.fragActive = true
		default:
			frame, err = d.appendOBU(frame, elem)
		}
		if err != nil {
			return frame, err
		}
	}
	if y && !d.fragActive {
		// Y set but the packet carried no element to continue.
		return frame, errMalformed
	}
	return frame, nil
}

// appendOBU appends one complete OBU to the temporal unit, with its size
// field.
func (d *av1Depacketizer) appendOBU(frame, obu []byte) ([]byte, error) {
	if len(obu) == 0 {
		return frame, nil
	}
	h := obu[0]
	if h&0x80 != 0 { // obu_forbidden_bit
		return frame, errMalformed
	}
	typ := h >> 3 & 0x0f
	hdrLen := 1
	if h&av1OBUExtensionFlag != 0 {
		hdrLen = 2
	}
	if len(obu) < hdrLen {
		return frame, errMalformed
	}
	payload := obu[hdrLen:]
	if h&av1OBUHasSizeField != 0 {
		// Senders should not set it; when they do, trust it only as far as
		// the element goes.
		size, n, ok := codec.ReadLEB128(payload)
		if !ok || size > uint64(len(payload)-n) {
			return frame, errMalformed
		}
		payload = payload[n : n+int(size)]
	}
	if typ == av1OBUTemporalDelimiter || typ == av1OBUTileList {
		return frame, nil
	}
	if len(frame)+hdrLen+8+len(payload) > maxFrameSize {
		return frame, errFrameTooLarge
	}
	frame = append(frame, h|av1OBUHasSizeField)
	if hdrLen == 2 {
		frame = append(frame, obu[1])
	}
	frame = codec.AppendLEB128(frame, uint64(len(payload)))
	if typ == av1OBUSequenceHeader && !d.seqHdr {
		d.seqHdr = true
		d.seqStart = len(frame)
		d.seqEnd = len(frame) + len(payload)
	}
	return append(frame, payload...), nil
}

func (d *av1Depacketizer) finish(frame []byte, wantSize bool) ([]byte, frameInfo, error) {
	if d.fragActive {
		return frame, frameInfo{}, errIncomplete
	}
	if len(frame) <= 2 { // nothing but the temporal delimiter
		return frame, frameInfo{}, errMalformed
	}
	info := frameInfo{key: d.seqHdr, picID: -1}
	if info.key && wantSize {
		info.width, info.height = av1SequenceSize(frame[d.seqStart:d.seqEnd])
	}
	return frame, info, nil
}

// av1SequenceSize parses a sequence header OBU payload (AV1 specification
// section 5.5.1) up to max_frame_width_minus_1 and max_frame_height_minus_1
// and returns the maximum frame size, or zeros if it cannot be parsed.
func av1SequenceSize(p []byte) (width, height int) {
	b := bitReader{mediaparse.NewBitReader(p)}
	b.Bits(3)     // seq_profile
	b.Bits(1)     // still_picture
	if b.Flag() { // reduced_still_picture_header
		b.Bits(5) // seq_level_idx[0]
	} else {
		decoderModelInfo := false
		bufferDelayLen := 0
		if b.Flag() { // timing_info_present_flag
			b.Bits(32)    // num_units_in_display_tick
			b.Bits(32)    // time_scale
			if b.Flag() { // equal_picture_interval
				b.uvlc() // num_ticks_per_picture_minus_1
			}
			decoderModelInfo = b.Flag()
			if decoderModelInfo {
				bufferDelayLen = int(b.Bits(5)) + 1
				b.Bits(32) // num_units_in_decoding_tick
				b.Bits(5)  // buffer_removal_time_length_minus_1
				b.Bits(5)  // frame_presentation_time_length_minus_1
			}
		}
		initialDisplayDelay := b.Flag()
		ops := int(b.Bits(5)) + 1
		for i := 0; i < ops && !b.Failed(); i++ {
			b.Bits(12) // operating_point_idc
			if b.Bits(5) > 7 {
				b.Bits(1) // seq_tier
			}
			if decoderModelInfo && b.Flag() {
				b.Bits(bufferDelayLen) // decoder_buffer_delay
				b.Bits(bufferDelayLen) // encoder_buffer_delay
				b.Bits(1)              // low_delay_mode_flag
			}
			if initialDisplayDelay && b.Flag() {
				b.Bits(4) // initial_display_delay_minus_1
			}
		}
	}
	wBits := int(b.Bits(4)) + 1
	hBits := int(b.Bits(4)) + 1
	width = int(b.Bits(wBits)) + 1
	height = int(b.Bits(hBits)) + 1
	if b.Failed() {
		return 0, 0
	}
	return width, height
}
