package mediaparse

// bitReader reads the RBSP bits of an H.264 NAL unit payload, most
// significant bit first, dropping emulation-prevention bytes (the 0x03 of a
// 00 00 03 sequence) as it goes so that no unescaped copy is needed.
//
// Reads past the end return zeros and set failed; callers check failed once
// after a group of reads.
type bitReader struct {
	data   []byte
	pos    int  // index of the next byte of data
	zeros  int  // zero bytes just returned, for emulation prevention
	cur    byte // current byte, consumed from the most significant bit
	nbits  uint // bits left in cur
	read   int  // bits returned
	failed bool
}

func newBitReader(data []byte) bitReader {
	return bitReader{data: data}
}

// loadByte makes the next payload byte current. It reports false at the end
// of the data.
func (b *bitReader) loadByte() bool {
	if b.pos >= len(b.data) {
		return false
	}
	c := b.data[b.pos]
	b.pos++
	if b.zeros >= 2 && c == 0x03 {
		b.zeros = 0
		if b.pos >= len(b.data) {
			return false
		}
		c = b.data[b.pos]
		b.pos++
	}
	if c == 0 {
		b.zeros++
	} else {
		b.zeros = 0
	}
	b.cur = c
	b.nbits = 8
	return true
}

// bit returns the next bit.
func (b *bitReader) bit() uint32 {
	if b.nbits == 0 && !b.loadByte() {
		b.failed = true
		return 0
	}
	b.nbits--
	b.read++
	return uint32(b.cur>>b.nbits) & 1
}

// bits returns the next n bits (n <= 32) as an unsigned number.
func (b *bitReader) bits(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		v = v<<1 | b.bit()
	}
	return v
}

// skip discards n bits.
func (b *bitReader) skip(n int) {
	for i := 0; i < n && !b.failed; i++ {
		b.bit()
	}
}

// flag reads one bit as a boolean.
func (b *bitReader) flag() bool {
	return b.bit() == 1
}

// ue reads an unsigned Exp-Golomb code, ue(v). Codes longer than 32 bits
// (values of 2^32-1 and above), which no conforming stream has, fail.
func (b *bitReader) ue() uint32 {
	zeros := 0
	for b.bit() == 0 {
		if b.failed || zeros == 32 {
			b.failed = true
			return 0
		}
		zeros++
	}
	if zeros == 0 {
		return 0
	}
	return (1<<zeros - 1) + b.bits(zeros)
}

// se reads a signed Exp-Golomb code, se(v).
func (b *bitReader) se() int32 {
	k := int64(b.ue())
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return int32(-(k / 2))
}

// RBSPReader reads the RBSP bits of an H.264 or H.265 NAL unit payload (the
// bytes after its NAL header, as sent), most significant first, dropping
// emulation-prevention bytes as it goes. Reads past the end return zeros
// and make Failed report true.
type RBSPReader struct{ r bitReader }

// NewRBSPReader returns a reader at the start of payload.
func NewRBSPReader(payload []byte) RBSPReader { return RBSPReader{newBitReader(payload)} }

// Bit reads one bit.
func (b *RBSPReader) Bit() uint32 { return b.r.bit() }

// UE reads an unsigned Exp-Golomb code, ue(v).
func (b *RBSPReader) UE() uint32 { return b.r.ue() }

// BitsRead is how many RBSP bits were read.
func (b *RBSPReader) BitsRead() int { return b.r.read }

// Failed reports whether a read went past the end or a code was too long.
func (b *RBSPReader) Failed() bool { return b.r.failed }

// BitReader reads bits most significant first from a byte slice, with no
// emulation prevention: for VP9 and AV1 headers. Reads past the end return
// zeros and make Failed report true; callers check once after a group of
// reads.
type BitReader struct {
	data   []byte
	pos    int // in bits
	failed bool
}

// NewBitReader returns a reader at the start of data.
func NewBitReader(data []byte) BitReader { return BitReader{data: data} }

// Bits reads n <= 32 bits as an unsigned number.
func (b *BitReader) Bits(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		if b.pos>>3 >= len(b.data) {
			b.failed = true
			return 0
		}
		v = v<<1 | uint32(b.data[b.pos>>3]>>(7-b.pos&7))&1
		b.pos++
	}
	return v
}

// Flag reads one bit as a boolean.
func (b *BitReader) Flag() bool { return b.Bits(1) == 1 }

// Failed reports whether a read went past the end, or SetFailed was called.
func (b *BitReader) Failed() bool { return b.failed }

// SetFailed marks what was read as invalid, for a caller that found it so.
func (b *BitReader) SetFailed() { b.failed = true }
