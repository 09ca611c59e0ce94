package recorder

import (
	"encoding/binary"

	"github.com/pion/rtp/codecs"
)

// vp8Depacketizer strips the VP8 payload descriptor (RFC 7741 section 4.2)
// and concatenates the partitions of a frame.
type vp8Depacketizer struct {
	pkt       codecs.VP8Packet
	picID     int32
	picIDBits uint8
}

func (d *vp8Depacketizer) appendPayload(frame, payload []byte, first bool) ([]byte, error) {
	data, err := d.pkt.Unmarshal(payload)
	if err != nil {
		return frame, errMalformed
	}
	if first {
		// RFC 7741: S is 1 and PID 0 on the first packet of a frame.
		if d.pkt.S != 1 || d.pkt.PID != 0 {
			return frame, errNotFrameStart
		}
		d.picID, d.picIDBits = -1, 0
		if d.pkt.I == 1 {
			d.picID = int32(d.pkt.PictureID)
			// The picture ID follows the two descriptor bytes; its first bit
			// (M) says whether it has 15 bits or 7.
			d.picIDBits = 7
			if payload[2]&0x80 != 0 {
				d.picIDBits = 15
			}
		}
	}
	return appendChecked(frame, data)
}

func (d *vp8Depacketizer) finish(frame []byte, wantSize bool) ([]byte, frameInfo, error) {
	if len(frame) < 3 {
		return frame, frameInfo{}, errMalformed
	}
	info := frameInfo{key: frame[0]&1 == 0, picID: d.picID, picIDBits: d.picIDBits}
	if info.key && wantSize {
		info.width, info.height = vp8Size(frame)
	}
	return frame, info, nil
}

// vp8Size returns the picture size stated by a VP8 keyframe header (RFC
// 6386 section 9.1: the 3-byte frame tag, the start code 9d 01 2a, then
// 14-bit width and height, each with 2 bits of scaling), or zeros.
func vp8Size(frame []byte) (width, height int) {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0
	}
	width = int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	return width, height
}
