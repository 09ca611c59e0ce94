package recorder

import (
	"encoding/base64"
	"encoding/binary"
	"strings"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// h264MaxCache is the largest SPS or PPS kept for reuse.
const h264MaxCache = 1024

// h264Depacketizer turns RTP payloads (RFC 6184: single NAL unit, STAP-A
// and FU-A packets) into an Annex-B access unit, each NAL unit preceded by
// the start code 00 00 00 01.
//
// It remembers the last SPS and PPS seen (or given by the SDP's
// sprop-parameter-sets) and puts them in front of an IDR access unit that
// lacks them, so that the file can be decoded from its first frame.
type h264Depacketizer struct {
	fuActive bool // inside an FU-A fragmented NAL unit
	fuStart  int  // offset in the frame of that NAL unit's header
	hasIDR   bool
	hasSPS   bool
	hasPPS   bool

	sps, pps []byte // last parameter sets seen
	out      []byte // the access unit with parameter sets added
}

// newH264Depacketizer returns a depacketizer primed with the parameter sets
// of the fmtp line's sprop-parameter-sets, if any.
func newH264Depacketizer(fmtp string) *h264Depacketizer {
	d := &h264Depacketizer{}
	for _, p := range strings.Split(fmtp, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(k, "sprop-parameter-sets") {
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if nal, err := base64.StdEncoding.DecodeString(s); err == nil {
				d.noteParameterSet(nal)
			}
		}
	}
	return d
}

// noteParameterSet keeps a copy of nal if it is an SPS or PPS.
func (d *h264Depacketizer) noteParameterSet(nal []byte) {
	if len(nal) == 0 || len(nal) > h264MaxCache {
		return
	}
	switch codec.NALType(nal[0]) {
	case codec.NALSPS:
		d.sps = append(d.sps[:0], nal...)
	case codec.NALPPS:
		d.pps = append(d.pps[:0], nal...)
	}
}

// appendNAL appends one complete NAL unit with its start code.
func (d *h264Depacketizer) appendNAL(frame, nal []byte) ([]byte, error) {
	if len(nal) == 0 {
		return frame, nil
	}
	if nal[0]&0x80 != 0 { // forbidden_zero_bit
		return frame, errMalformed
	}
	if len(frame)+len(codec.StartCode)+len(nal) > maxFrameSize {
		return frame, errFrameTooLarge
	}
	d.noteNAL(nal)
	frame = append(frame, codec.StartCode...)
	return append(frame, nal...), nil
}

// noteNAL records the type of a complete NAL unit of the access unit.
func (d *h264Depacketizer) noteNAL(nal []byte) {
	switch codec.NALType(nal[0]) {
	case codec.NALIDR:
		d.hasIDR = true
	case codec.NALSPS:
		d.hasSPS = true
		d.noteParameterSet(nal)
	case codec.NALPPS:
		d.hasPPS = true
		d.noteParameterSet(nal)
	}
}

func (d *h264Depacketizer) appendPayload(frame, payload []byte, first bool) ([]byte, error) {
	if len(payload) == 0 {
		return frame, errMalformed
	}
	typ := codec.NALType(payload[0])
	if first {
		d.fuActive, d.hasIDR, d.hasSPS, d.hasPPS = false, false, false, false
		if typ == codec.NALFUA && (len(payload) < 2 || payload[1]&0x80 == 0) {
			return frame, errNotFrameStart
		}
	}
	if d.fuActive && typ != codec.NALFUA {
		return frame, errIncomplete
	}
	switch {
	case typ >= 1 && typ <= 23:
		return d.appendNAL(frame, payload)
	case typ == codec.NALSTAPA:
		p := payload[1:]
		for len(p) > 0 {
			if len(p) < 2 {
				return frame, errMalformed
			}
			n := int(binary.BigEndian.Uint16(p))
			p = p[2:]
			if n > len(p) {
				return frame, errMalformed
			}
			var err error
			if frame, err = d.appendNAL(frame, p[:n]); err != nil {
				return frame, err
			}
			p = p[n:]
		}
		return frame, nil
	case typ == codec.NALFUA:
		if len(payload) < 2 {
			return frame, errMalformed
		}
		ind, hdr := payload[0], payload[1]
		start, end := hdr&0x80 != 0, hdr&0x40 != 0
		data := payload[2:]
		if start {
			if d.fuActive {
				return frame, errIncomplete
			}
			if len(frame)+len(codec.StartCode)+1 > maxFrameSize {
				return frame, errFrameTooLarge
			}
			frame = append(frame, codec.StartCode...)
			d.fuStart = len(frame)
			// The NAL header: F and NRI from the indicator, type from the
			// FU header.
			frame = append(frame, ind&0xe0|codec.NALType(hdr))
			d.fuActive = true
		} else if !d.fuActive {
			return frame, errMalformed
		}
		frame, err := appendChecked(frame, data)
		if err != nil {
			return frame, err
		}
		if end {
			d.fuActive = false
			d.noteNAL(frame[d.fuStart:])
		}
		return frame, nil
	default:
		// STAP-B, MTAP and FU-B belong to the interleaved mode, which
		// WebRTC does not use; 0 and 30-31 are reserved.
		return frame, errUnsupportedPkt
	}
}

func (d *h264Depacketizer) finish(frame []byte, wantSize bool) ([]byte, frameInfo, error) {
	if d.fuActive {
		return frame, frameInfo{}, errIncomplete
	}
	if len(frame) == 0 {
		return frame, frameInfo{}, errMalformed
	}
	info := frameInfo{picID: -1}
	// An IDR picture is a keyframe when its parameter sets are known.
	info.key = d.hasIDR && (d.hasSPS || len(d.sps) > 0) && (d.hasPPS || len(d.pps) > 0)
	if info.key && (!d.hasSPS || !d.hasPPS) {
		out := d.out[:0]
		if !d.hasSPS {
			out = append(append(out, codec.StartCode...), d.sps...)
		}
		if !d.hasPPS {
			out = append(append(out, codec.StartCode...), d.pps...)
		}
		out = append(out, frame...)
		d.out = out
		frame = out
	}
	if info.key && wantSize && len(d.sps) > 0 {
		if sps, err := mediaparse.ParseSPS(d.sps); err == nil {
			info.width, info.height = sps.Width, sps.Height
		}
	}
	return frame, info, nil
}
