package recorder

import (
	"encoding/binary"
	"io"
)

// frameWriter writes the frames of one track to a file format.
type frameWriter interface {
	// begin writes what precedes the first frame. width and height are
	// those of the first frame (a keyframe), 0 when unknown.
	begin(width, height int) error
	// writeFrame writes one frame; pts is its RTP timestamp minus the first
	// frame's, in RTP clock ticks, never decreasing.
	writeFrame(frame []byte, pts int64) error
	// finish completes the file: begin if it was not called, pending data,
	// header counts. It does not close the underlying writer.
	finish() error
}

// IVF layout (as libvpx writes it): a 32-byte file header, then per frame a
// 12-byte header (size, 64-bit timestamp) and the frame.
const (
	ivfHeaderSize      = 32
	ivfFrameHeaderSize = 12
	ivfFrameCountAt    = 24
)

// ivfWriter writes VP8, VP9 or AV1 frames to an IVF file whose timebase is
// 1/clockRate, so that frame timestamps are RTP timestamps.
type ivfWriter struct {
	w        io.WriteSeeker
	seekable bool
	start    int64 // offset of the file header in w
	pos      int64 // bytes written from start
	fourcc   string
	clock    uint32

	begun  bool
	frames uint32
	hdr    [ivfHeaderSize]byte
	fhdr   [ivfFrameHeaderSize]byte
}

// newIVFWriter returns a writer of an IVF file at w's current position.
// When w cannot report its position (Seek fails), the frame count in the
// header is left 0, which readers take as unknown.
func newIVFWriter(w io.WriteSeeker, fourcc string, clockRate uint32) *ivfWriter {
	iw := &ivfWriter{w: w, fourcc: fourcc, clock: clockRate}
	if pos, err := w.Seek(0, io.SeekCurrent); err == nil {
		iw.seekable, iw.start = true, pos
	}
	return iw
}

func (iw *ivfWriter) write(p []byte) error {
	n, err := iw.w.Write(p)
	iw.pos += int64(n)
	return err
}

func (iw *ivfWriter) begin(width, height int) error {
	if iw.begun {
		return nil
	}
	iw.begun = true
	h := iw.hdr[:]
	copy(h[0:4], "DKIF")
	binary.LittleEndian.PutUint16(h[4:], 0) // version
	binary.LittleEndian.PutUint16(h[6:], ivfHeaderSize)
	copy(h[8:12], iw.fourcc)
	binary.LittleEndian.PutUint16(h[12:], uint16(min(max(width, 0), 0xffff)))
	binary.LittleEndian.PutUint16(h[14:], uint16(min(max(height, 0), 0xffff)))
	binary.LittleEndian.PutUint32(h[16:], iw.clock) // timebase denominator
	binary.LittleEndian.PutUint32(h[20:], 1)        // timebase numerator
	binary.LittleEndian.PutUint32(h[24:], 0)        // frame count, set by finish
	binary.LittleEndian.PutUint32(h[28:], 0)
	return iw.write(h)
}

func (iw *ivfWriter) writeFrame(frame []byte, pts int64) error {
	binary.LittleEndian.PutUint32(iw.fhdr[0:], uint32(len(frame)))
	binary.LittleEndian.PutUint64(iw.fhdr[4:], uint64(pts))
	if err := iw.write(iw.fhdr[:]); err != nil {
		return err
	}
	if err := iw.write(frame); err != nil {
		return err
	}
	iw.frames++
	return nil
}

func (iw *ivfWriter) finish() error {
	if err := iw.begin(0, 0); err != nil {
		return err
	}
	if !iw.seekable {
		return nil
	}
	var count [4]byte
	binary.LittleEndian.PutUint32(count[:], iw.frames)
	if _, err := iw.w.Seek(iw.start+ivfFrameCountAt, io.SeekStart); err != nil {
		return err
	}
	if _, err := iw.w.Write(count[:]); err != nil {
		return err
	}
	_, err := iw.w.Seek(iw.start+iw.pos, io.SeekStart)
	return err
}

// annexBWriter writes H.264 access units, already in Annex-B form, one
// after another.
type annexBWriter struct {
	w io.Writer
}

func (aw *annexBWriter) begin(int, int) error { return nil }

func (aw *annexBWriter) writeFrame(frame []byte, _ int64) error {
	_, err := aw.w.Write(frame)
	return err
}

func (aw *annexBWriter) finish() error { return nil }
