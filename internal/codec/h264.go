package codec

// H.264 NAL unit types (ITU-T H.264 table 7-1) and the RTP packet types of
// RFC 6184 that share their number space.
const (
	NALSlice    = 1
	NALSliceA   = 2
	NALIDR      = 5
	NALSEI      = 6
	NALSPS      = 7
	NALPPS      = 8
	NALAUD      = 9
	NALFiller   = 12
	NALPrefix14 = 14
	NALRsv18    = 18
	NALSTAPA    = 24 // RTP: several NAL units in one packet
	NALFUA      = 28 // RTP: a fragment of a NAL unit
)

// NALType returns the type of the NAL unit whose header byte is b.
func NALType(b byte) byte { return b & 0x1f }

// StartCode is the four-byte Annex-B start code the SDK writes.
var StartCode = []byte{0, 0, 0, 1}

// SplitAnnexB appends to out the NAL units of an Annex-B stream (start codes
// of three or four bytes), without their start codes. Data without a start
// code is taken as one bare NAL unit.
func SplitAnnexB(data []byte, out [][]byte) [][]byte {
	start := -1
	i := 0
	for i+2 < len(data) {
		if data[i] == 0 && data[i+1] == 0 && data[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && data[end-1] == 0 {
					end-- // the leading zero of a four-byte start code
				}
				if end > start {
					out = append(out, data[start:end])
				}
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start < 0 {
		if len(data) > 0 {
			out = append(out, data) // a bare NAL unit
		}
		return out
	}
	if start < len(data) {
		out = append(out, data[start:])
	}
	return out
}
