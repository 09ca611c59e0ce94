package mediaparse

import (
	"encoding/binary"
	"io"
)

// Ogg page layout (RFC 3533 section 6).
const (
	oggHeaderSize   = 27
	oggMaxSegments  = 255
	oggFlagContinue = 0x01
	oggFlagBOS      = 0x02
	oggFlagEOS      = 0x04
	opusHeadMinSize = 19
)

// oggCRCTable is the table of the Ogg CRC-32: polynomial 0x04c11db7, most
// significant bit first, initial value 0, no final inversion.
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for k := 0; k < 8; k++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// OggCRC continues the Ogg page checksum crc over p (start with 0; the
// checksum field of the page counts as zeros).
func OggCRC(crc uint32, p []byte) uint32 {
	for _, c := range p {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}

// OpusHead is the identification header of an Ogg Opus stream (RFC 7845
// section 5.1).
type OpusHead struct {
	// Channels is the output channel count, 1 to 255.
	Channels int
	// PreSkip is the number of 48 kHz samples to discard from the start of
	// the decoded output.
	PreSkip int
	// SampleRate is the sample rate of the original input, for information
	// only (0 when unknown): Opus is always decoded at 48 kHz.
	SampleRate uint32
}

// OggOpusReader reads the Opus packets of an Ogg Opus stream.
//
// Pages of other logical streams multiplexed in the same file are skipped.
// The stream ends at its end-of-stream page or at the end of the input; a
// chained stream that follows is not read.
type OggOpusReader struct {
	r         io.Reader
	verifyCRC bool
	serial    uint32
	locked    bool // serial is known

	hdr     [oggHeaderSize + oggMaxSegments]byte
	page    []byte // body of the current page
	segs    []byte // lacing values of the current page
	seg     int    // next lacing value
	off     int    // offset in page of the segment seg
	eos     bool   // the current page is the end-of-stream page
	granule int64  // granule position of the last page of the stream

	pkt     []byte // packet being assembled
	partial bool   // pkt continues on the next page
	err     error
}

// NewOggOpusReader reads the OpusHead and OpusTags packets at the start of
// the Ogg stream r and returns a reader positioned at the first audio packet.
// It fails, with an error wrapping ErrCorrupt, for input that is not Ogg or
// whose first logical stream is not Opus.
func NewOggOpusReader(r io.Reader) (*OggOpusReader, *OpusHead, error) {
	return newOggOpusReader(r, true)
}

// newOggOpusReader is NewOggOpusReader with page CRC verification optional,
// so that fuzzing can reach the code past the CRC check.
func newOggOpusReader(r io.Reader, verifyCRC bool) (*OggOpusReader, *OpusHead, error) {
	o := &OggOpusReader{r: r, verifyCRC: verifyCRC}
	head, err := o.readHeaders()
	if err != nil {
		if err == io.EOF {
			err = truncated("ogg: opus headers")
		}
		return nil, nil, err
	}
	return o, head, nil
}

func (o *OggOpusReader) readHeaders() (*OpusHead, error) {
	// The identification header is the only packet of a beginning-of-stream
	// page. In a multiplexed file every stream starts with such a page; take
	// the first one that is Opus.
	for pages := 0; !o.locked; pages++ {
		flags, err := o.readPage()
		if err == io.EOF && pages > 0 {
			return nil, corruptf("ogg: no Opus stream")
		}
		if err != nil {
			return nil, err
		}
		if flags&oggFlagBOS == 0 {
			return nil, corruptf("ogg: no Opus stream")
		}
		if len(o.page) >= 8 && string(o.page[:8]) == "OpusHead" {
			o.serial = binary.LittleEndian.Uint32(o.hdr[14:18])
			o.locked = true
			o.start(flags)
		}
	}
	pkt, err := o.Next()
	if err != nil {
		return nil, err
	}
	if len(pkt) < opusHeadMinSize || string(pkt[:8]) != "OpusHead" {
		return nil, corruptf("ogg: bad OpusHead")
	}
	if pkt[8]&0xf0 != 0 {
		return nil, corruptf("ogg: unsupported OpusHead version %d", pkt[8])
	}
	head := &OpusHead{
		Channels:   int(pkt[9]),
		PreSkip:    int(binary.LittleEndian.Uint16(pkt[10:12])),
		SampleRate: binary.LittleEndian.Uint32(pkt[12:16]),
	}
	if head.Channels == 0 {
		return nil, corruptf("ogg: OpusHead has 0 channels")
	}
	switch family := pkt[18]; {
	case family == 0 && head.Channels > 2:
		return nil, corruptf("ogg: OpusHead mapping family 0 with %d channels", head.Channels)
	case family != 0 && len(pkt) < 21+head.Channels:
		return nil, corruptf("ogg: OpusHead channel mapping table truncated")
	}
	pkt, err = o.Next()
	if err != nil {
		return nil, err
	}
	if len(pkt) < 8 || string(pkt[:8]) != "OpusTags" {
		return nil, corruptf("ogg: OpusTags header missing")
	}
	return head, nil
}

// Next returns the next Opus packet, valid until the next call. Packets may
// span pages: a lacing value of 255 continues a packet, into the next page if
// it is the last of its page. Zero-length packets are skipped.
//
// Next returns io.EOF after the last packet. Input that ends inside a page or
// a packet gives an error wrapping io.ErrUnexpectedEOF; a bad page (wrong
// signature or version, CRC mismatch, continuation mismatch) or a packet over
// 16 MiB an error wrapping ErrCorrupt.
func (o *OggOpusReader) Next() (packet []byte, err error) {
	if o.err != nil {
		return nil, o.err
	}
	packet, err = o.next()
	if err != nil {
		o.err = err
		return nil, err
	}
	return packet, nil
}

func (o *OggOpusReader) next() ([]byte, error) {
	for {
		for o.seg < len(o.segs) {
			n := int(o.segs[o.seg])
			if !o.partial {
				o.pkt = o.pkt[:0]
			}
			if len(o.pkt)+n > maxUnitSize {
				return nil, corruptf("ogg: packet exceeds %d bytes", maxUnitSize)
			}
			o.pkt = append(o.pkt, o.page[o.off:o.off+n]...)
			o.off += n
			o.seg++
			if n == 255 {
				o.partial = true
				continue
			}
			o.partial = false
			if len(o.pkt) > 0 {
				return o.pkt, nil
			}
		}
		if o.eos {
			if o.partial {
				return nil, corruptf("ogg: packet continues past the end-of-stream page")
			}
			return nil, io.EOF
		}
		flags, err := o.readPage()
		if err == io.EOF && o.partial {
			err = truncated("ogg: packet")
		}
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(o.hdr[14:18]) != o.serial {
			continue // a page of another logical stream
		}
		if flags&oggFlagBOS != 0 {
			return nil, corruptf("ogg: beginning-of-stream page inside the stream")
		}
		if continued := flags&oggFlagContinue != 0; continued != o.partial {
			return nil, corruptf("ogg: page continuation flag does not match the packet")
		}
		o.start(flags)
	}
}

// start makes the page just read current.
func (o *OggOpusReader) start(flags byte) {
	o.seg, o.off = 0, 0
	o.eos = flags&oggFlagEOS != 0
	o.granule = int64(binary.LittleEndian.Uint64(o.hdr[6:14]))
}

// readPage reads the next page into hdr, segs and page and returns its header
// flags. It returns io.EOF at a clean end of input.
func (o *OggOpusReader) readPage() (byte, error) {
	h := o.hdr[:oggHeaderSize]
	if _, err := io.ReadFull(o.r, h); err != nil {
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, readErr("ogg page header", err)
	}
	if string(h[0:4]) != "OggS" {
		return 0, corruptf("ogg: bad page signature %q", h[0:4])
	}
	if h[4] != 0 {
		return 0, corruptf("ogg: page version %d", h[4])
	}
	flags := h[5]
	if flags&^(oggFlagContinue|oggFlagBOS|oggFlagEOS) != 0 {
		return 0, corruptf("ogg: page flags 0x%02x", flags)
	}
	nsegs := int(h[26])
	segs := o.hdr[oggHeaderSize : oggHeaderSize+nsegs]
	if _, err := io.ReadFull(o.r, segs); err != nil {
		return 0, readErr("ogg page header", err)
	}
	size := 0
	for _, l := range segs {
		size += int(l)
	}
	body, err := readInto(o.r, o.page, size)
	o.page = body[:0]
	if err != nil {
		return 0, readErr("ogg page", err)
	}
	if o.verifyCRC {
		want := binary.LittleEndian.Uint32(h[22:26])
		var zero [4]byte
		crc := OggCRC(0, h[:22])
		crc = OggCRC(crc, zero[:])
		crc = OggCRC(crc, o.hdr[26:oggHeaderSize+nsegs])
		crc = OggCRC(crc, body)
		if crc != want {
			return 0, corruptf("ogg: page CRC 0x%08x, computed 0x%08x", want, crc)
		}
	}
	o.page = body
	o.segs = segs
	o.seg, o.off = len(segs), 0 // not current until start
	return flags, nil
}
