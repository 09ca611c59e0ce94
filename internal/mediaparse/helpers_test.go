package mediaparse

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testdata returns the contents of a file in the repository's testdata
// directory.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkErrKind fails unless err is nil, io.EOF, or wraps ErrCorrupt or
// io.ErrUnexpectedEOF: the only outcomes a reader over a bytes.Reader may
// have.
func checkErrKind(t testing.TB, err error) {
	t.Helper()
	if err == nil || err == io.EOF || errors.Is(err, ErrCorrupt) || errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	t.Fatalf("unexpected error kind: %v", err)
}

// oggPage builds an Ogg page with a correct CRC.
func oggPage(flags byte, granule int64, serial, seq uint32, lacing []byte, body []byte) []byte {
	p := make([]byte, 27, 27+len(lacing)+len(body))
	copy(p, "OggS")
	p[5] = flags
	binary.LittleEndian.PutUint64(p[6:], uint64(granule))
	binary.LittleEndian.PutUint32(p[14:], serial)
	binary.LittleEndian.PutUint32(p[18:], seq)
	p[26] = byte(len(lacing))
	p = append(p, lacing...)
	p = append(p, body...)
	binary.LittleEndian.PutUint32(p[22:], OggCRC(0, p))
	return p
}

// lace returns the lacing values of a packet of n bytes.
func lace(n int) []byte {
	l := make([]byte, 0, n/255+1)
	for ; n >= 255; n -= 255 {
		l = append(l, 255)
	}
	return append(l, byte(n))
}

// opusHeadPacket returns an OpusHead packet for mapping family 0.
func opusHeadPacket(channels int, preSkip uint16, rate uint32) []byte {
	p := []byte("OpusHead\x01")
	p = append(p, byte(channels))
	p = binary.LittleEndian.AppendUint16(p, preSkip)
	p = binary.LittleEndian.AppendUint32(p, rate)
	p = append(p, 0, 0, 0) // output gain, mapping family 0
	return p
}

// opusTagsPacket returns a minimal OpusTags packet.
func opusTagsPacket() []byte {
	p := []byte("OpusTags")
	p = binary.LittleEndian.AppendUint32(p, 4)
	p = append(p, "test"...)
	return binary.LittleEndian.AppendUint32(p, 0)
}

// oggHeaders returns the two header pages of an Ogg Opus stream.
func oggHeaders(serial uint32, channels int) []byte {
	head := opusHeadPacket(channels, 312, 48000)
	tags := opusTagsPacket()
	b := oggPage(oggFlagBOS, 0, serial, 0, lace(len(head)), head)
	return append(b, oggPage(0, 0, serial, 1, lace(len(tags)), tags)...)
}

// ivfFile builds an IVF file with the given frames and timestamps 0, 1, 2...
func ivfFile(fourcc string, frames ...[]byte) []byte {
	b := make([]byte, 32)
	copy(b, "DKIF")
	binary.LittleEndian.PutUint16(b[6:], 32)
	copy(b[8:], fourcc)
	binary.LittleEndian.PutUint16(b[12:], 64)
	binary.LittleEndian.PutUint16(b[14:], 48)
	binary.LittleEndian.PutUint32(b[16:], 30)
	binary.LittleEndian.PutUint32(b[20:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(len(frames)))
	for i, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint64(b, uint64(i))
		b = append(b, f...)
	}
	return b
}

// bitWriter writes bits most significant first, for building H.264 NAL
// units in tests.
type bitWriter struct {
	buf   []byte
	nbits int
}

func (w *bitWriter) bits(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.nbits%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbits%8)
		}
		w.nbits++
	}
}

func (w *bitWriter) flag(b bool) {
	if b {
		w.bits(1, 1)
	} else {
		w.bits(1, 0)
	}
}

func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(n, 0)
	w.bits(n+1, v)
}

func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

// nal returns the NAL unit with the given header byte and the written bits
// as its RBSP (with the stop bit added), emulation prevention applied.
func (w *bitWriter) nal(header byte) []byte {
	w.bits(1, 1)
	for w.nbits%8 != 0 {
		w.bits(1, 0)
	}
	out := []byte{header}
	zeros := 0
	for _, c := range w.buf {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
