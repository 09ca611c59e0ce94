package recorder

import (
	"encoding/binary"
	"io"
	"math/rand/v2"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// Ogg page layout (RFC 3533 section 6) and Ogg Opus mapping (RFC 7845).
const (
	oggPageHeaderSize = 27
	oggMaxSegments    = 255
	oggFlagBOS        = 0x02
	oggFlagEOS        = 0x04
	// oggMaxPacket is the largest packet that fits on one page.
	oggMaxPacket = oggMaxSegments*255 - 1
	// oggPageDuration is how much audio, in 48 kHz samples, a page collects
	// before it is written.
	oggPageDuration = 48000
	// oggPageBytes is how many bytes of packets a page collects at most.
	oggPageBytes = 16 << 10
	// opusSampleRate is the rate of Ogg Opus granule positions.
	opusSampleRate = codec.OpusClockRate
	// opusPreSkip is the pre-skip written in OpusHead. It is 0 so that the
	// decoded audio lines up with the RTP timeline (a recording usually
	// starts in the middle of the stream, where the encoder's start-up
	// delay is not at the start of the audio).
	opusPreSkip = 0
	opusVendor  = "lksdk recorder"
)

// oggOpusWriter writes Opus packets as an Ogg Opus stream (RFC 7845): a page
// with OpusHead, a page with OpusTags, then pages of audio packets, each
// collecting up to a second of audio, the last flagged end-of-stream.
//
// Granule positions follow the RTP timestamps. When the timestamps jump
// forward by up to maxFill samples (lost packets, discontinuous
// transmission, a short mute), the gap is filled with packets of empty Opus
// frames, which decoders treat as lost frames and conceal, so that granule
// positions stay the sum of the packets' durations (from their TOC bytes),
// as decoders expect. A packet's end is then within half a frame of its RTP
// timestamp, relative to the first packet's, plus its duration; exactly so
// when the sender's timestamps advance by the packets' durations, as Opus
// senders' do. A longer jump is not filled: it is recorded as a
// discontinuity, the page before it ending where the audio stopped and the
// granule positions after it jumping ahead by the gap, so that the file
// stays small whatever timestamps a sender sends.
type oggOpusWriter struct {
	w        io.Writer
	serial   uint32
	seq      uint32
	channels int

	begun   bool
	body    []byte // packets of the pending page
	lacing  []byte // lacing values of the pending page
	granule int64  // end, in samples, of the last packet on the pending page
	pageBeg int64  // granule position at the start of the pending page
	end     int64  // end of the last packet written
	lastTOC byte
	haveTOC bool
	filler  [2]byte
	maxFill int64 // longest gap filled, in samples; longer ones are jumps

	discontinuities int // gaps recorded as granule jumps
	hdr             [oggPageHeaderSize + oggMaxSegments]byte
}

// newOggOpusWriter returns a writer of an Ogg Opus stream with the given
// channel count (clamped to 1 or 2) and a random serial number, filling
// gaps of up to maxFill samples.
func newOggOpusWriter(w io.Writer, channels int, maxFill int64) *oggOpusWriter {
	return &oggOpusWriter{
		w:        w,
		serial:   rand.Uint32(),
		channels: min(max(channels, 1), 2),
		lacing:   make([]byte, 0, oggMaxSegments),
		maxFill:  max(maxFill, 0),
	}
}

func (ow *oggOpusWriter) begin(int, int) error {
	if ow.begun {
		return nil
	}
	ow.begun = true
	// OpusHead (RFC 7845 section 5.1): version 1, channels, pre-skip,
	// input sample rate, output gain 0, channel mapping family 0.
	head := make([]byte, 19)
	copy(head, "OpusHead")
	head[8] = 1
	head[9] = byte(ow.channels)
	binary.LittleEndian.PutUint16(head[10:], opusPreSkip)
	binary.LittleEndian.PutUint32(head[12:], opusSampleRate)
	if err := ow.writePage(oggFlagBOS, 0, head, []byte{19}); err != nil {
		return err
	}
	// OpusTags (section 5.2): vendor string, no comments.
	tags := make([]byte, 0, 8+4+len(opusVendor)+4)
	tags = append(tags, "OpusTags"...)
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(opusVendor)))
	tags = append(tags, opusVendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	return ow.writePage(0, 0, tags, []byte{byte(len(tags))})
}

// writePage writes one page holding body, split by the lacing values.
func (ow *oggOpusWriter) writePage(flags byte, granule int64, body, lacing []byte) error {
	h := ow.hdr[:oggPageHeaderSize+len(lacing)]
	copy(h[0:4], "OggS")
	h[4] = 0 // stream structure version
	h[5] = flags
	binary.LittleEndian.PutUint64(h[6:], uint64(granule))
	binary.LittleEndian.PutUint32(h[14:], ow.serial)
	binary.LittleEndian.PutUint32(h[18:], ow.seq)
	binary.LittleEndian.PutUint32(h[22:], 0)
	h[26] = byte(len(lacing))
	copy(h[oggPageHeaderSize:], lacing)
	crc := mediaparse.OggCRC(mediaparse.OggCRC(0, h), body)
	binary.LittleEndian.PutUint32(h[22:], crc)
	ow.seq++
	if _, err := ow.w.Write(h); err != nil {
		return err
	}
	_, err := ow.w.Write(body)
	return err
}

// flushPage writes the pending page.
func (ow *oggOpusWriter) flushPage(flags byte) error {
	err := ow.writePage(flags, ow.granule, ow.body, ow.lacing)
	ow.body = ow.body[:0]
	ow.lacing = ow.lacing[:0]
	ow.pageBeg = ow.granule
	return err
}

// addPacket puts packet, which ends at sample end, on the pending page,
// writing the page first if the packet does not fit or the page is full.
func (ow *oggOpusWriter) addPacket(packet []byte, end int64) error {
	segs := len(packet)/255 + 1
	if len(ow.lacing) > 0 && (len(ow.lacing)+segs > oggMaxSegments ||
		len(ow.body)+len(packet) > oggPageBytes || ow.granule-ow.pageBeg >= oggPageDuration) {
		if err := ow.flushPage(0); err != nil {
			return err
		}
	}
	for n := len(packet); ; n -= 255 {
		if n < 255 {
			ow.lacing = append(ow.lacing, byte(n))
			break
		}
		ow.lacing = append(ow.lacing, 255)
	}
	ow.body = append(ow.body, packet...)
	ow.granule = end
	ow.end = end
	return nil
}

func (ow *oggOpusWriter) writeFrame(packet []byte, pts int64) error {
	if len(packet) == 0 || len(packet) > oggMaxPacket {
		return nil // cannot be stored; the caller bounds sizes already
	}
	if ow.haveTOC {
		if err := ow.fill(pts); err != nil {
			return err
		}
	}
	ow.lastTOC, ow.haveTOC = packet[0], true
	return ow.addPacket(packet, ow.end+int64(opusPacketSamples(packet)))
}

// fill covers a gap between the end of the last packet and pts: with
// filler packets of empty frames (decoded as lost frames), as many frames
// as fit in it to the nearest frame, when it is at most maxFill samples;
// otherwise with a jump of the granule position.
func (ow *oggOpusWriter) fill(pts int64) error {
	gap := pts - ow.end
	frame := int64(codec.OpusFrameSamples(ow.lastTOC))
	if gap <= frame/2 {
		return nil
	}
	if gap > ow.maxFill {
		// A discontinuity: end the page where the audio stopped, so that
		// its granule position is right, and start the next one later.
		if len(ow.lacing) > 0 {
			if err := ow.flushPage(0); err != nil {
				return err
			}
		}
		ow.end, ow.granule, ow.pageBeg = pts, pts, pts
		ow.discontinuities++
		return nil
	}
	n := (gap + frame/2) / frame
	// Each filler has the last packet's configuration, code 3 (RFC 6716
	// section 3.2.5): a frame count byte for up to 120 ms of frames, all
	// of length 0 (constant bitrate, no bytes left).
	perPacket := codec.OpusMaxPacketSamples / frame
	ow.filler[0] = ow.lastTOC | 0x03
	for n > 0 {
		k := min(n, perPacket)
		ow.filler[1] = byte(k)
		if err := ow.addPacket(ow.filler[:], ow.end+k*frame); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// pending counts the page being collected (its header, lacing and body)
// with the packet's lacing and bytes; gap filler is not foreseen.
func (ow *oggOpusWriter) pending(n int) int {
	return oggPageHeaderSize + len(ow.lacing) + len(ow.body) + n/255 + 1 + n
}

func (ow *oggOpusWriter) finish() error {
	if err := ow.begin(0, 0); err != nil {
		return err
	}
	return ow.flushPage(oggFlagEOS)
}

// opusPacketSamples returns the duration, in 48 kHz samples, of an Opus
// packet from its TOC byte and, for code 3, its frame count byte (RFC 6716
// section 3.2). It returns 0 for a packet too short to tell.
func opusPacketSamples(packet []byte) int {
	frames, ok := codec.OpusFrameCount(packet)
	if !ok {
		return 0
	}
	return min(frames*codec.OpusFrameSamples(packet[0]), codec.OpusMaxPacketSamples)
}
