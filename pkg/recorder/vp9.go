package recorder

import (
	"github.com/pion/rtp/codecs"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// maxVP9Layers is the most frames a VP9 superframe can hold.
const maxVP9Layers = 8

// vp9Depacketizer strips the VP9 payload descriptor
// (draft-ietf-payload-vp9 / RFC 9628 section 4.2) and assembles a picture.
// A picture of several spatial layers carries one frame per layer, each
// from a packet with B set to one with E set; such a picture is written as
// a superframe (VP9 bitstream specification Annex B) so that the IVF file
// has one entry per picture.
type vp9Depacketizer struct {
	pkt       codecs.VP9Packet
	picID     int32
	picIDBits uint8

	inLayer    bool // between a packet with B and one with E
	layerStart int  // offset in the frame of the layer being assembled
	layers     [maxVP9Layers]int
	nLayers    int
	overflow   bool
}

func (d *vp9Depacketizer) appendPayload(frame, payload []byte, first bool) ([]byte, error) {
	// VP9Packet appends to these slices without resetting them.
	d.pkt.PDiff = d.pkt.PDiff[:0]
	d.pkt.PGTID = d.pkt.PGTID[:0]
	d.pkt.PGU = d.pkt.PGU[:0]
	data, err := d.pkt.Unmarshal(payload)
	if err != nil {
		return frame, errMalformed
	}
	if first {
		if !d.pkt.B {
			return frame, errNotFrameStart
		}
		d.inLayer, d.nLayers, d.overflow = false, 0, false
		d.picID, d.picIDBits = -1, 0
		if d.pkt.I {
			d.picID = int32(d.pkt.PictureID)
			d.picIDBits = 7
			if payload[1]&0x80 != 0 {
				d.picIDBits = 15
			}
		}
	}
	if d.pkt.B {
		if d.inLayer {
			return frame, errMalformed
		}
		d.inLayer = true
		d.layerStart = len(frame)
	} else if !d.inLayer {
		return frame, errMalformed
	}
	frame, err = appendChecked(frame, data)
	if err != nil {
		return frame, err
	}
	if d.pkt.E {
		d.inLayer = false
		if d.nLayers == maxVP9Layers {
			return frame, errMalformed
		}
		d.layers[d.nLayers] = len(frame) - d.layerStart
		d.nLayers++
	}
	return frame, nil
}

// transformed follows a frame a transformer rewrote (see
// frameTransformed): the layer sizes were the reassembled frame's, so only
// a frame of one layer can be followed.
func (d *vp9Depacketizer) transformed(frame []byte) error {
	n := d.nLayers
	if d.inLayer {
		n++
	}
	if n != 1 {
		return errUnsupportedPkt
	}
	d.inLayer, d.nLayers = false, 1
	d.layers[0] = len(frame)
	return nil
}

func (d *vp9Depacketizer) finish(frame []byte, wantSize bool) ([]byte, frameInfo, error) {
	if d.inLayer {
		// The last layer frame has no E: take the frame as ending here,
		// as senders that do not set E on the last packet rely on the
		// marker bit alone.
		d.inLayer = false
		if d.nLayers < maxVP9Layers {
			d.layers[d.nLayers] = len(frame) - d.layerStart
			d.nLayers++
		}
	}
	if d.nLayers == 0 || len(frame) == 0 {
		return frame, frameInfo{}, errMalformed
	}
	info := frameInfo{picID: d.picID, picIDBits: d.picIDBits}
	info.key, info.width, info.height = vp9KeyframeInfo(frame[:d.layers[0]])
	if !wantSize {
		info.width, info.height = 0, 0
	}
	if d.nLayers > 1 {
		frame = appendSuperframeIndex(frame, d.layers[:d.nLayers])
		if len(frame) > maxFrameSize {
			return frame, frameInfo{}, errFrameTooLarge
		}
	}
	return frame, info, nil
}

// appendSuperframeIndex appends the VP9 superframe index for frames of the
// given sizes: a marker byte 0b110mmfff (bytes per size minus 1, frames
// minus 1), the sizes little-endian, and the marker again.
func appendSuperframeIndex(frame []byte, sizes []int) []byte {
	largest := 0
	for _, s := range sizes {
		largest = max(largest, s)
	}
	mag := 1
	for mag < 4 && largest >= 1<<(8*mag) {
		mag++
	}
	marker := byte(0xc0 | (mag-1)<<3 | (len(sizes) - 1))
	frame = append(frame, marker)
	for _, s := range sizes {
		for i := 0; i < mag; i++ {
			frame = append(frame, byte(s>>(8*i)))
		}
	}
	return append(frame, marker)
}

// vp9KeyframeInfo parses the start of a VP9 uncompressed header
// (VP9 bitstream specification section 6.2) and reports whether the frame
// is a keyframe and, if so, its size.
func vp9KeyframeInfo(frame []byte) (key bool, width, height int) {
	b := bitReader{mediaparse.NewBitReader(frame)}
	if b.Bits(2) != 2 { // frame_marker
		return false, 0, 0
	}
	profile := b.Bits(1)
	profile |= b.Bits(1) << 1
	if profile == 3 {
		b.Bits(1) // reserved_zero
	}
	if b.Flag() { // show_existing_frame
		return false, 0, 0
	}
	if b.Flag() { // frame_type: 1 is NON_KEY_FRAME
		return false, 0, 0
	}
	b.Bits(2) // show_frame, error_resilient_mode
	if b.Bits(24) != 0x498342 {
		return false, 0, 0
	}
	// color_config
	if profile >= 2 {
		b.Bits(1) // ten_or_twelve_bit
	}
	if b.Bits(3) != 7 { // color_space is not CS_RGB
		b.Bits(1) // color_range
		if profile == 1 || profile == 3 {
			b.Bits(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		b.Bits(1) // reserved_zero
	}
	width = int(b.Bits(16)) + 1
	height = int(b.Bits(16)) + 1
	if b.Failed() {
		return false, 0, 0
	}
	return true, width, height
}
