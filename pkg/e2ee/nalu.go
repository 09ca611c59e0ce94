package e2ee

import (
	"bytes"
	"errors"
)

var (
	errLeadingData = errors.New("e2ee: Annex-B frame does not begin with a start code")
	errNoSlice     = errors.New("e2ee: Annex-B frame without a slice NAL unit")
)

// naluStarts returns where each NAL unit of an Annex-B frame begins (the
// byte after its start code, 3 or 4 bytes). A frame must begin with a
// start code, possibly after zero bytes.
func naluStarts(b []byte) ([]int, error) {
	var starts []int
	i := 0
	first := true
	for {
		at, n := nextStartCode(b, i)
		if at < 0 {
			break
		}
		if first {
			for _, c := range b[:at] {
				if c != 0 {
					return nil, errLeadingData
				}
			}
			first = false
		}
		starts = append(starts, at+n)
		i = at + n
	}
	if first {
		return nil, errLeadingData
	}
	return starts, nil
}

// nextStartCode finds the next 00 00 01 or 00 00 00 01 at or after i, and
// its length.
func nextStartCode(b []byte, i int) (at, n int) {
	for i+3 <= len(b) {
		j := bytes.Index(b[i:], []byte{0, 0, 1})
		if j < 0 {
			return -1, 0
		}
		at = i + j
		if at > 0 && b[at-1] == 0 {
			return at - 1, 4
		}
		return at, 3
	}
	return -1, 0
}

func isH264Slice(header byte) bool {
	t := header & 0x1f
	return t == 1 || t == 5
}

func isH265Slice(header byte) bool {
	t := (header >> 1) & 0x3f
	return t <= 9 || (t >= 16 && t <= 21)
}

// h264Dropped reports NAL units an RTP packetizer does not send (access
// unit delimiters and filler data), which the receiver cannot see.
func h264Dropped(header byte) bool {
	t := header & 0x1f
	return t == 9 || t == 12
}

// sliceHeaderEnd is the length of the clear header of an Annex-B frame:
// up to and including the first two bytes of its first slice NAL unit.
func sliceHeaderEnd(b []byte, codec Codec) (int, error) {
	starts, err := naluStarts(b)
	if err != nil {
		return 0, err
	}
	for _, s := range starts {
		if s >= len(b) {
			continue
		}
		if (codec == CodecH264 && isH264Slice(b[s])) || (codec == CodecH265 && isH265Slice(b[s])) {
			if s+2 > len(b) {
				return 0, errNoSlice
			}
			return s + 2, nil
		}
	}
	return 0, errNoSlice
}

// canonicalHeader returns the clear header of an Annex-B frame as a
// receiver rebuilds it from RTP: each NAL unit before the first slice with
// a 4-byte start code, H.264's delimiters and filler left out, then the
// start code and first two bytes of the slice. rest is what follows.
func canonicalHeader(b []byte, codec Codec) (header, rest []byte, err error) {
	starts, err := naluStarts(b)
	if err != nil {
		return nil, nil, err
	}
	for k, s := range starts {
		end := len(b)
		if k+1 < len(starts) {
			at, _ := nextStartCode(b, s)
			end = at
		}
		if s >= len(b) {
			continue
		}
		if (codec == CodecH264 && isH264Slice(b[s])) || (codec == CodecH265 && isH265Slice(b[s])) {
			if s+2 > len(b) {
				return nil, nil, errNoSlice
			}
			header = append(header, 0, 0, 0, 1)
			header = append(header, b[s:s+2]...)
			return header, b[s+2:], nil
		}
		if codec == CodecH264 && h264Dropped(b[s]) {
			continue
		}
		unit := bytes.TrimRight(b[s:end], "\x00") // trailing zeros belong to the next start code
		header = append(header, 0, 0, 0, 1)
		header = append(header, unit...)
	}
	return nil, nil, errNoSlice
}

// escape inserts emulation prevention bytes: 03 before any byte of 00 to
// 03 that follows two zero bytes, so that b holds no start code.
func escape(dst, b []byte) []byte {
	zeros := 0
	for _, c := range b {
		if c <= 3 && zeros >= 2 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// unescape removes the emulation prevention bytes escape inserted: the 03
// of each 00 00 03.
func unescape(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		if len(b)-i >= 3 && b[i] == 0 && b[i+1] == 0 && b[i+2] == 3 {
			dst = append(dst, 0, 0)
			i += 3
			continue
		}
		dst = append(dst, b[i])
		i++
	}
	return dst
}
