package codec

// ReadLEB128 decodes an unsigned leb128 number (AV1 specification section
// 4.10.5) of at most 8 bytes whose value fits in 32 bits, returning it and
// the number of bytes used; ok is false for a truncated or oversized one.
func ReadLEB128(p []byte) (value uint64, n int, ok bool) {
	for i := 0; i < 8 && i < len(p); i++ {
		value |= uint64(p[i]&0x7f) << (7 * i)
		if p[i]&0x80 == 0 {
			if value > 1<<32-1 {
				return 0, 0, false
			}
			return value, i + 1, true
		}
	}
	return 0, 0, false
}

// AppendLEB128 appends v in the shortest leb128 form.
func AppendLEB128(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
