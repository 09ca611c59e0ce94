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
	// pending returns how many bytes the file would have gained, beyond
	// those already written, once a frame of n bytes is written and the
	// writer's buffer flushed.
	pending(n int) int
}

// IVF layout (as libvpx writes it): a 32-byte file header, then per frame a
// 12-byte header (size, 64-bit timestamp) and the frame.
//
// The 32-bit field at offset 24 is the stream's length. libvpx writes the
// frame count there, with a timebase of one frame; readers such as FFmpeg
// take it as the duration in timebase units. The two agree only when the
// timebase is one frame. This writer's timebase is the RTP clock (1/90000),
// so it writes the duration in that unit, as FFmpeg's muxer does: the span
// from the first frame to the last plus one average frame interval. A
// frame count there would make an 8 s recording of 240 frames last 240/90000
// s. A file with a single frame, or written where the writer cannot seek
// back, has 0 there: unknown.
const (
	ivfHeaderSize      = 32
	ivfFrameHeaderSize = 12
	ivfLengthAt        = 24
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

	begun   bool
	frames  uint32
	lastPTS int64 // of the last frame written
	hdr     [ivfHeaderSize]byte
	fhdr    [ivfFrameHeaderSize]byte
}

// newIVFWriter returns a writer of an IVF file at w's current position.
// When w cannot report its position (Seek fails), the length in the
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
	binary.LittleEndian.PutUint32(h[24:], 0)        // length, set by finish
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
	iw.lastPTS = pts
	return nil
}

// length returns the value of the header's length field: the duration in
// timebase units, the span of the timestamps plus one average frame
// interval, saturating at the field's maximum; 0 with fewer than two
// frames.
func (iw *ivfWriter) length() uint32 {
	if iw.frames < 2 || iw.lastPTS <= 0 {
		return 0
	}
	span := uint64(iw.lastPTS)
	return uint32(min(span+span/uint64(iw.frames-1), 0xffffffff))
}

func (iw *ivfWriter) pending(n int) int { return ivfFrameHeaderSize + n }

func (iw *ivfWriter) finish() error {
	if err := iw.begin(0, 0); err != nil {
		return err
	}
	if !iw.seekable {
		return nil
	}
	var length [4]byte
	binary.LittleEndian.PutUint32(length[:], iw.length())
	if _, err := iw.w.Seek(iw.start+ivfLengthAt, io.SeekStart); err != nil {
		return err
	}
	if _, err := iw.w.Write(length[:]); err != nil {
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

func (aw *annexBWriter) pending(n int) int { return n }
