package mediaparse

import (
	"bytes"
	"fmt"
	"io"

	"github.com/livekit/server-sdk-go/internal/codec"
)

const (
	annexBReadSize     = 32 << 10
	maxEmptyReads      = 100
	annexBStartCodeLen = 4
)

// AnnexBReader splits an H.264 Annex-B byte stream into access units.
//
// Annex-B carries no lengths, so a stream cut short inside its last NAL unit
// cannot be told from a complete one; the reader returns such a NAL unit as
// it is, unless its slice header is cut (then the error wraps
// io.ErrUnexpectedEOF).
type AnnexBReader struct {
	r      io.Reader
	buf    []byte // read buffer; unread data is buf[lo:hi]
	lo, hi int
	eof    bool  // the underlying reader reported io.EOF
	rerr   error // a non-EOF error from the underlying reader, once seen
	begun  bool  // the first start code has been seen

	cur    []byte // access unit being assembled
	out    []byte // access unit last returned
	curVCL bool   // cur holds a VCL NAL unit
	curKey bool   // cur holds an IDR slice
	err    error  // sticky error, io.EOF after the last access unit

	sps       *SPSInfo // last SPS of the access units handed out
	curSPS    SPSInfo  // last SPS of cur
	curHasSPS bool
}

// NewAnnexBReader returns a reader of the H.264 Annex-B byte stream r.
func NewAnnexBReader(r io.Reader) *AnnexBReader {
	return &AnnexBReader{r: r}
}

// SPS returns what the last sequence parameter set seen said, or nil before
// one has been seen. It covers the access units Next has returned: an SPS
// takes effect when the access unit holding it is returned, not when the
// reader reads ahead past it. An SPS that fails to parse is ignored. The
// returned value is not modified later; a new one is returned when a later
// SPS says something different.
func (r *AnnexBReader) SPS() *SPSInfo {
	return r.sps
}

// Next returns the next access unit: its NAL units in order, each preceded by
// the 4-byte start code 00 00 00 01, and whether it holds an IDR slice (NAL
// type 5). The access unit is valid until the next call to Next.
//
// Access units are delimited as H.264 7.4.1.2.3 describes: a new one starts
// at an access unit delimiter, or, once the current one holds a VCL NAL unit,
// at an SPS, PPS, SEI, NAL unit of type 14 to 18, or a slice with
// first_mb_in_slice equal to 0. Both 3- and 4-byte start codes are accepted,
// leading and trailing zero bytes are skipped, and NAL units may be split
// across reads of the underlying reader in any way.
//
// Next returns io.EOF after the last access unit. Data before the first start
// code, a NAL unit or access unit larger than 16 MiB, or a slice whose header
// cannot be read give an error wrapping ErrCorrupt. When reading fails after
// some NAL units of an access unit were read, those are returned first and
// the error by the following call.
func (r *AnnexBReader) Next() (au []byte, keyframe bool, err error) {
	if r.err != nil {
		return nil, false, r.err
	}
	for {
		nal, atEnd, err := r.nextNAL()
		if err == nil && nal[0]&0x80 != 0 {
			err = corruptf("h264: NAL header 0x%02x has forbidden_zero_bit set", nal[0])
		}
		boundary := false
		if err == nil {
			boundary, err = r.startsAU(nal, atEnd)
		}
		if err != nil {
			// Hand out what was assembled before reporting the end or the
			// error.
			r.err = err
			if len(r.cur) == 0 {
				return nil, false, err
			}
			au, key := r.flush()
			return au, key, nil
		}
		if boundary && len(r.cur) > 0 {
			au, key := r.flush()
			if err := r.add(nal); err != nil {
				r.err = err
			}
			return au, key, nil
		}
		if err := r.add(nal); err != nil {
			r.err = err
			return nil, false, err
		}
	}
}

// flush hands out the access unit being assembled and starts a new one in
// the buffer returned last time. An SPS in the access unit takes effect now.
func (r *AnnexBReader) flush() ([]byte, bool) {
	au, key := r.cur, r.curKey
	r.cur, r.out = r.out[:0], au
	r.curVCL, r.curKey = false, false
	if r.curHasSPS {
		r.curHasSPS = false
		if r.sps == nil || *r.sps != r.curSPS {
			info := r.curSPS
			r.sps = &info
		}
	}
	return au, key
}

// startsAU reports whether nal begins a new access unit.
func (r *AnnexBReader) startsAU(nal []byte, atEnd bool) (bool, error) {
	switch typ := codec.NALType(nal[0]); {
	case typ == codec.NALAUD:
		return true, nil
	case typ == codec.NALSEI || typ == codec.NALSPS || typ == codec.NALPPS || (typ >= codec.NALPrefix14 && typ <= codec.NALRsv18):
		return r.curVCL, nil
	case typ == codec.NALSlice || typ == codec.NALSliceA || typ == codec.NALIDR:
		b := newBitReader(nal[1:])
		firstMb := b.ue()
		if b.failed {
			if atEnd {
				return false, truncated("h264: slice header")
			}
			return false, corruptf("h264: slice header of NAL type %d unreadable", typ)
		}
		return r.curVCL && firstMb == 0, nil
	}
	return false, nil
}

// add appends nal, with a 4-byte start code, to the access unit being
// assembled.
func (r *AnnexBReader) add(nal []byte) error {
	if len(r.cur)+annexBStartCodeLen+len(nal) > maxUnitSize {
		return corruptf("h264: access unit exceeds %d bytes", maxUnitSize)
	}
	r.cur = append(r.cur, codec.StartCode...)
	r.cur = append(r.cur, nal...)
	switch typ := codec.NALType(nal[0]); typ {
	case codec.NALIDR:
		r.curKey = true
		r.curVCL = true
	case codec.NALSlice, codec.NALSliceA, 3, 4:
		r.curVCL = true
	case codec.NALSPS:
		var info SPSInfo
		if parseSPS(nal, &info) == nil {
			r.curSPS = info
			r.curHasSPS = true
		}
	}
	return nil
}

// fill reads more data into buf, moving the unread data to the front or
// growing the buffer when it is full. It reports false when no more data will
// come (end of stream or an error, recorded in eof and rerr).
func (r *AnnexBReader) fill() bool {
	if r.eof || r.rerr != nil {
		return false
	}
	if r.lo == r.hi {
		r.lo, r.hi = 0, 0
	}
	if r.hi == len(r.buf) {
		if r.lo > 0 {
			n := copy(r.buf, r.buf[r.lo:r.hi])
			r.lo, r.hi = 0, n
		} else {
			// A NAL unit never needs more than maxUnitSize bytes plus one
			// read to find its end.
			c := min(max(2*len(r.buf), annexBReadSize), maxUnitSize+annexBReadSize)
			if c <= len(r.buf) {
				r.rerr = corruptf("h264: NAL unit exceeds %d bytes", maxUnitSize)
				return false
			}
			nb := make([]byte, c)
			copy(nb, r.buf[:r.hi])
			r.buf = nb
		}
	}
	for i := 0; i < maxEmptyReads; i++ {
		n, err := r.r.Read(r.buf[r.hi:])
		if n < 0 || n > len(r.buf)-r.hi {
			r.rerr = fmt.Errorf("mediaparse: h264: reader returned invalid count %d", n)
			return false
		}
		r.hi += n
		if err == io.EOF {
			r.eof = true
			return n > 0
		}
		if err != nil {
			r.rerr = fmt.Errorf("mediaparse: h264: %w", err)
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.rerr = fmt.Errorf("mediaparse: h264: %w", io.ErrNoProgress)
	return false
}

// nextNAL returns the next non-empty NAL unit, without start code and
// trailing zero bytes, valid until the next call. atEnd reports that it ends
// at the end of the stream. At the end it returns io.EOF.
func (r *AnnexBReader) nextNAL() (nal []byte, atEnd bool, err error) {
	for {
		if err := r.skipStartCode(); err != nil {
			return nil, false, err
		}
		// The NAL unit runs to the next 00 00 00 or 00 00 01, or to the end.
		scan := r.lo
		for {
			if i := findNALEnd(r.buf[scan:r.hi]); i >= 0 {
				end := scan + i
				if end-r.lo > maxUnitSize {
					return nil, false, corruptf("h264: NAL unit exceeds %d bytes", maxUnitSize)
				}
				nal = r.buf[r.lo:end]
				r.lo = end
				break
			}
			if r.hi-r.lo > maxUnitSize {
				return nil, false, corruptf("h264: NAL unit exceeds %d bytes", maxUnitSize)
			}
			// The last two bytes may begin a start code; look at them again.
			next := r.hi - 2
			if next < r.lo {
				next = r.lo
			}
			off := next - r.lo
			if !r.fill() {
				if r.rerr != nil {
					return nil, false, r.rerr
				}
				nal = bytes.TrimRight(r.buf[r.lo:r.hi], "\x00")
				r.lo = r.hi
				atEnd = true
				break
			}
			scan = r.lo + off
		}
		if len(nal) > 0 {
			return nal, atEnd, nil
		}
	}
}

// skipStartCode consumes zero bytes and the 00 00 01 start code before the
// next NAL unit. It returns io.EOF when the stream ends instead, and an error
// wrapping ErrCorrupt for anything else.
func (r *AnnexBReader) skipStartCode() error {
	zeros := 0
	for {
		if r.lo == r.hi && !r.fill() {
			if r.rerr != nil {
				return r.rerr
			}
			return io.EOF
		}
		c := r.buf[r.lo]
		switch {
		case c == 0:
			zeros++
			r.lo++
		case c == 1 && zeros >= 2:
			r.lo++
			r.begun = true
			return nil
		default:
			if !r.begun {
				return corruptf("h264: stream does not begin with a start code")
			}
			return corruptf("h264: bad start code")
		}
	}
}

// findNALEnd returns the index of the first 00 00 00 or 00 00 01 in p, or -1.
func findNALEnd(p []byte) int {
	for i := 0; i+2 < len(p); {
		j := bytes.IndexByte(p[i:len(p)-2], 0)
		if j < 0 {
			return -1
		}
		i += j
		if p[i+1] == 0 && p[i+2] <= 1 {
			return i
		}
		i++
	}
	return -1
}
