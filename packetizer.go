package lksdk

import (
	"github.com/pion/rtp"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// packetizer splits a frame into RTP payloads, each handed to the emitter
// while it is valid (the buffer behind it is reused for the next one). The
// ones here do not allocate once their buffers have grown.
type packetizer interface {
	packetize(frame []byte, e emitter)
}

// emitter sends one RTP payload; last marks the end of the frame.
type emitter interface {
	emit(payload []byte, last bool)
}

// pionPacketizer adapts one of pion's payloaders (which allocate).
type pionPacketizer struct{ p rtp.Payloader }

func (pp pionPacketizer) packetize(frame []byte, e emitter) {
	payloads := pp.p.Payload(rtpMTU, frame)
	for i, p := range payloads {
		e.emit(p, i == len(payloads)-1)
	}
}

// opusPacketizer sends each Opus packet as one RTP payload (RFC 7587).
type opusPacketizer struct{}

func (opusPacketizer) packetize(frame []byte, e emitter) {
	e.emit(frame, true)
}

// vp8Packetizer splits a VP8 frame (RFC 7741) behind a payload descriptor
// with a 15-bit picture id.
type vp8Packetizer struct {
	buf       []byte
	pictureID uint16
}

const vp8DescriptorSize = 4

func (v *vp8Packetizer) packetize(frame []byte, e emitter) {
	if v.buf == nil {
		v.buf = make([]byte, rtpMTU)
	}
	chunk := rtpMTU - vp8DescriptorSize
	for first := true; len(frame) > 0; first = false {
		n := min(chunk, len(frame))
		b := v.buf[:vp8DescriptorSize+n]
		b[0] = 0x80 // X: extensions present
		if first {
			b[0] |= 0x10 // S: start of partition 0
		}
		b[1] = 0x80 // I: picture id present
		b[2] = 0x80 | byte(v.pictureID>>8)&0x7f
		b[3] = byte(v.pictureID)
		copy(b[vp8DescriptorSize:], frame[:n])
		frame = frame[n:]
		e.emit(b, len(frame) == 0)
	}
	v.pictureID = (v.pictureID + 1) & 0x7fff
}

// clearHinted is a packetizer whose payload descriptor says something of
// the frame's content, which it reads from the frame. When a
// FrameTransformer rewrites frames (end-to-end encryption), the track hands
// it the frame in clear first; hintClear(nil) ends the hint.
type clearHinted interface {
	hintClear(frame []byte)
}

// vp9Packetizer splits a VP9 frame (RFC 9628) behind a non-flexible payload
// descriptor with a 15-bit picture id; a keyframe's first packet carries
// the scalability structure with its size. It lays packets out as pion's
// VP9Payloader does, but reads keyframe and size from the frame in clear
// when one is hinted: an encrypted frame's header is ciphertext, which
// pion's payloader fails to parse and then sends nothing of.
type vp9Packetizer struct {
	buf       []byte
	pictureID uint16

	hinted        bool
	key           bool
	width, height int
	hintOK        bool
}

const (
	vp9DescriptorSize = 3
	vp9SSSize         = 8 // the scalability structure of one spatial layer
)

func (v *vp9Packetizer) hintClear(frame []byte) {
	v.hinted = frame != nil
	if v.hinted {
		v.key, v.width, v.height, v.hintOK = mediaparse.VP9FrameHeader(frame)
	}
}

func (v *vp9Packetizer) packetize(frame []byte, e emitter) {
	key, width, height, ok := v.key, v.width, v.height, v.hintOK
	if !v.hinted {
		key, width, height, ok = mediaparse.VP9FrameHeader(frame)
	}
	pid := v.pictureID
	v.pictureID = (v.pictureID + 1) & 0x7fff
	if !ok || len(frame) == 0 {
		return // as pion's payloader: a frame without a header is not sent
	}
	if v.buf == nil {
		v.buf = make([]byte, rtpMTU)
	}
	for first := true; len(frame) > 0; first = false {
		size := vp9DescriptorSize
		if key && first {
			size += vp9SSSize
		}
		n := min(rtpMTU-size, len(frame))
		b := v.buf[:size+n]
		b[0] = 0x80 | 0x01 // I: picture id; Z: not a reference for an upper layer
		if !key {
			b[0] |= 0x40 // P: inter-picture predicted
		}
		if first {
			b[0] |= 0x08 // B: start of the frame
		}
		if n == len(frame) {
			b[0] |= 0x04 // E: end of the frame
		}
		b[1] = 0x80 | byte(pid>>8)
		b[2] = byte(pid)
		if key && first {
			b[0] |= 0x02 // V: scalability structure
			ss := b[vp9DescriptorSize:]
			ss[0] = 0x18 // N_S 0 (one layer), Y: sizes, G: a picture group
			ss[1], ss[2] = byte(width>>8), byte(width)
			ss[3], ss[4] = byte(height>>8), byte(height)
			ss[5] = 0x01        // N_G: one picture
			ss[6] = 1<<4 | 1<<2 // TID 0, U: switching up point, R: one reference
			ss[7] = 0x01        // P_DIFF 1
		}
		copy(b[size:], frame[:n])
		frame = frame[n:]
		e.emit(b, len(frame) == 0)
	}
}

// h264Packetizer packetizes an Annex-B access unit (RFC 6184): NAL units
// that fit go alone, larger ones as FU-A fragments, and SPS and PPS together
// in a STAP-A ahead of the picture they precede. AUDs and filler are
// dropped.
type h264Packetizer struct {
	buf      []byte
	sps, pps []byte
	nals     [][]byte
}

func (h *h264Packetizer) packetize(frame []byte, e emitter) {
	if h.buf == nil {
		h.buf = make([]byte, rtpMTU)
	}
	h.nals = codec.SplitAnnexB(frame, h.nals[:0])
	nals := h.nals
	last := len(nals) - 1
	for last >= 0 {
		t := codec.NALType(nals[last][0])
		if t != codec.NALSPS && t != codec.NALPPS && t != codec.NALAUD && t != codec.NALFiller {
			break
		}
		last--
	}
	for i, nal := range nals {
		switch codec.NALType(nal[0]) {
		case codec.NALAUD, codec.NALFiller:
			continue
		case codec.NALSPS:
			h.sps = append(h.sps[:0], nal...)
			continue
		case codec.NALPPS:
			h.pps = append(h.pps[:0], nal...)
			continue
		}
		if len(h.sps) > 0 && len(h.pps) > 0 {
			h.emitParameterSets(e)
		}
		h.emitNAL(nal, i == last, e)
	}
	if last < 0 && len(h.sps) > 0 && len(h.pps) > 0 {
		// Parameter sets alone: send them, marked as the end of the unit.
		e.emit(h.stapA(), true)
		h.sps, h.pps = h.sps[:0], h.pps[:0]
	}
}

func (h *h264Packetizer) emitParameterSets(e emitter) {
	if 1+2+len(h.sps)+2+len(h.pps) <= rtpMTU {
		e.emit(h.stapA(), false)
	} else {
		h.emitNAL(h.sps, false, e)
		h.emitNAL(h.pps, false, e)
	}
	h.sps, h.pps = h.sps[:0], h.pps[:0]
}

func (h *h264Packetizer) stapA() []byte {
	b := h.buf[:1]
	// F=0, NRI = the larger of the two, type 24.
	nri := max(h.sps[0]&0x60, h.pps[0]&0x60)
	b[0] = nri | codec.NALSTAPA
	for _, nal := range [][]byte{h.sps, h.pps} {
		b = append(b, byte(len(nal)>>8), byte(len(nal)))
		b = append(b, nal...)
	}
	return b
}

func (h *h264Packetizer) emitNAL(nal []byte, lastOfAU bool, e emitter) {
	if len(nal) <= rtpMTU {
		e.emit(nal, lastOfAU)
		return
	}
	header := nal[0]
	indicator := header&0xe0 | codec.NALFUA
	data := nal[1:]
	chunk := rtpMTU - 2
	for first := true; len(data) > 0; first = false {
		n := min(chunk, len(data))
		b := h.buf[:2+n]
		b[0] = indicator
		b[1] = codec.NALType(header)
		if first {
			b[1] |= 0x80 // S
		}
		if n == len(data) {
			b[1] |= 0x40 // E
		}
		copy(b[2:], data[:n])
		data = data[n:]
		e.emit(b, lastOfAU && len(data) == 0)
	}
}
