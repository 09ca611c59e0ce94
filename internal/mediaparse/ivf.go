package mediaparse

import (
	"encoding/binary"
	"io"
)

const (
	ivfFileHeaderSize  = 32
	ivfFrameHeaderSize = 12
	ivfMaxHeaderSize   = 1024
)

// IVFHeader is the 32-byte file header of an IVF file.
type IVFHeader struct {
	// FourCC names the codec: "VP80", "VP90" or "AV01". It is reported as
	// written; the reader does not reject other codes.
	FourCC string
	// Width and Height are the picture size in pixels as written in the file
	// header.
	Width, Height uint16
	// TimebaseDenominator and TimebaseNumerator give the unit of the frame
	// timestamps: timestamp t is at t * TimebaseNumerator /
	// TimebaseDenominator seconds. A 30 fps file usually has 30 and 1.
	TimebaseDenominator uint32
	// TimebaseNumerator is the numerator of the timebase; see
	// TimebaseDenominator.
	TimebaseNumerator uint32
	// FrameCount is the number of frames the header announces. Writers that
	// cannot seek back leave it 0 or wrong, so it is informational only.
	FrameCount uint32
}

// IVFReader reads the frames of an IVF file.
type IVFReader struct {
	r   io.Reader
	hdr [ivfFrameHeaderSize]byte
	buf []byte
	n   int // frames returned so far
	err error
}

// NewIVFReader reads the IVF file header from r and returns a reader
// positioned at the first frame. A header longer than 32 bytes (as its
// header-size field may announce) is skipped; a shorter one or a bad
// signature is reported as ErrCorrupt.
func NewIVFReader(r io.Reader) (*IVFReader, *IVFHeader, error) {
	var h [ivfFileHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, nil, readErr("ivf file header", err)
	}
	if string(h[0:4]) != "DKIF" {
		return nil, nil, corruptf("ivf: bad signature %q", h[0:4])
	}
	hdrLen := int(binary.LittleEndian.Uint16(h[6:8]))
	if hdrLen < ivfFileHeaderSize || hdrLen > ivfMaxHeaderSize {
		return nil, nil, corruptf("ivf: header size %d", hdrLen)
	}
	if extra := int64(hdrLen - ivfFileHeaderSize); extra > 0 {
		var skip [ivfMaxHeaderSize]byte
		if _, err := io.ReadFull(r, skip[:extra]); err != nil {
			return nil, nil, readErr("ivf file header", err)
		}
	}
	hdr := &IVFHeader{
		FourCC:              string(h[8:12]),
		Width:               binary.LittleEndian.Uint16(h[12:14]),
		Height:              binary.LittleEndian.Uint16(h[14:16]),
		TimebaseDenominator: binary.LittleEndian.Uint32(h[16:20]),
		TimebaseNumerator:   binary.LittleEndian.Uint32(h[20:24]),
		FrameCount:          binary.LittleEndian.Uint32(h[24:28]),
	}
	return &IVFReader{r: r}, hdr, nil
}

// Next returns the next frame and its presentation timestamp in timebase
// units. The frame is valid until the next call to Next. At the end of the
// file Next returns io.EOF; a file that ends inside a frame or frame header
// gives an error wrapping io.ErrUnexpectedEOF, and a frame larger than 16 MiB
// an error wrapping ErrCorrupt.
func (r *IVFReader) Next() (frame []byte, pts uint64, err error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	frame, pts, err = r.next()
	if err != nil {
		r.err = err
		return nil, 0, err
	}
	r.n++
	return frame, pts, nil
}

func (r *IVFReader) next() ([]byte, uint64, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		return nil, 0, readErr("ivf frame header", err)
	}
	size := binary.LittleEndian.Uint32(r.hdr[0:4])
	pts := binary.LittleEndian.Uint64(r.hdr[4:12])
	if size > maxUnitSize {
		return nil, 0, corruptf("ivf: frame %d: size %d exceeds %d", r.n, size, maxUnitSize)
	}
	buf, err := readInto(r.r, r.buf, int(size))
	r.buf = buf[:0]
	if err != nil {
		return nil, 0, readErr("ivf frame", err)
	}
	return buf, pts, nil
}
