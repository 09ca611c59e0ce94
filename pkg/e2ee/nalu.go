package e2ee

import (
	"bytes"
	"errors"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
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
// 03 that follows two zero bytes, so that b holds no start code. It copies
// the runs between zero pairs whole.
func escape(dst, b []byte) []byte {
	for {
		i := bytes.Index(b, zeroPair)
		if i < 0 || i+2 >= len(b) {
			return append(dst, b...)
		}
		if b[i+2] <= 3 {
			// 00 00 03, and the byte that followed starts afresh.
			dst = append(append(dst, b[:i+2]...), 3)
			b = b[i+2:]
			continue
		}
		dst = append(dst, b[:i+3]...) // the pair and the byte (over 3) that ends it
		b = b[i+3:]
	}
}

var zeroPair = []byte{0, 0}

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

// sliceFields are the values an RTP receiver reads from the start of a
// slice, before the frame reaches any decryptor, to check that it has the
// slice's parameter sets (Chromium asks for a keyframe and drops the
// frame when it has not): for H.264 first_mb_in_slice, slice_type and
// pic_parameter_set_id; for H.265 first_slice_segment_in_pic_flag,
// no_output_of_prior_pics_flag (IRAP pictures only) and
// slice_pic_parameter_set_id. The clear header keeps only the first byte
// of an H.264 slice and none of an H.265 one, so in an encrypted frame
// some of these bits are ciphertext.
type sliceFields [3]uint32

// sliceFieldWindow bounds the escaped bytes after the NAL header that the
// fields are read from: three exp-Golomb codes of at most 63 bits each.
const sliceFieldWindow = 28

// parseSliceFields reads the sliceFields of nal, a slice NAL unit from its
// header on (escaped, as sent); false when it ends first.
func parseSliceFields(codec Codec, nal []byte) (f sliceFields, ok bool) {
	f, _, ok = parseSliceFieldsLen(codec, nal)
	return f, ok
}

// parseSliceFieldsLen is parseSliceFields that also says how many bits
// after the NAL header the fields take.
func parseSliceFieldsLen(codec Codec, nal []byte) (f sliceFields, bits int, ok bool) {
	hdr := 1
	if codec == CodecH265 {
		hdr = 2
	}
	if len(nal) <= hdr {
		return f, 0, false
	}
	r := mediaparse.NewRBSPReader(nal[hdr:min(len(nal), hdr+sliceFieldWindow)])
	if codec == CodecH264 {
		f[0], f[1], f[2] = r.UE(), r.UE(), r.UE()
	} else {
		f[0] = r.Bit()
		if t := (nal[0] >> 1) & 0x3f; t >= 16 && t <= 23 { // IRAP
			f[1] = r.Bit()
		}
		f[2] = r.UE()
	}
	return f, r.BitsRead(), !r.Failed()
}
