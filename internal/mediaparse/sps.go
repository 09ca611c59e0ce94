package mediaparse

import "github.com/livekit/server-sdk-go/internal/codec"

// SPSInfo is what an H.264 sequence parameter set says about the video.
type SPSInfo struct {
	// ProfileIDC is profile_idc: 66 Baseline, 77 Main, 100 High, and so on.
	// LevelIDC is level_idc, ten times the level number (31 for level 3.1).
	ProfileIDC, LevelIDC int
	// Width and Height are the displayed picture size in pixels, after the
	// frame cropping rectangle is applied.
	Width, Height int
	// FrameRate is time_scale / (2 * num_units_in_tick) from the VUI timing
	// information, or 0 when the SPS has no timing information.
	FrameRate float64
}

const (
	// maxPicSizeInMbs bounds pic_width_in_mbs and pic_height_in_map_units:
	// 1024 macroblocks is 16384 pixels, beyond every H.264 level.
	maxPicSizeInMbs = 1024
)

// ParseSPS parses an H.264 sequence parameter set NAL unit: nal starts with
// the NAL header byte (type 7) and still holds its emulation-prevention bytes,
// as it appears in an Annex-B stream without the start code. It handles the
// High profiles' chroma format, bit depth and scaling lists, frame cropping
// and the VUI up to its timing information. A NAL unit that is not an SPS, is
// too short or holds out-of-range values gives an error wrapping ErrCorrupt.
func ParseSPS(nal []byte) (*SPSInfo, error) {
	info := new(SPSInfo)
	if err := parseSPS(nal, info); err != nil {
		return nil, err
	}
	return info, nil
}

// parseSPS is ParseSPS writing into info; it does not allocate unless it
// fails.
func parseSPS(nal []byte, info *SPSInfo) error {
	if len(nal) < 4 {
		return corruptf("h264: sps: %d bytes", len(nal))
	}
	if nal[0]&0x80 != 0 || codec.NALType(nal[0]) != codec.NALSPS {
		return corruptf("h264: sps: NAL header 0x%02x is not an SPS", nal[0])
	}
	b := newBitReader(nal[1:])
	profile := b.bits(8)
	b.skip(8) // constraint_set flags and reserved_zero_2bits
	level := b.bits(8)
	if id := b.ue(); id > 31 {
		return corruptf("h264: sps: seq_parameter_set_id %d", id)
	}

	chromaFormat := uint32(1)
	separateColourPlane := false
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chromaFormat = b.ue()
		if chromaFormat > 3 {
			return corruptf("h264: sps: chroma_format_idc %d", chromaFormat)
		}
		if chromaFormat == 3 {
			separateColourPlane = b.flag()
		}
		if d := b.ue(); d > 6 {
			return corruptf("h264: sps: bit_depth_luma_minus8 %d", d)
		}
		if d := b.ue(); d > 6 {
			return corruptf("h264: sps: bit_depth_chroma_minus8 %d", d)
		}
		// qpprime_y_zero_transform_bypass_flag, then
		// seq_scaling_matrix_present_flag.
		b.skip(1)
		if b.flag() {
			lists := 8
			if chromaFormat == 3 {
				lists = 12
			}
			for i := 0; i < lists && !b.failed; i++ {
				if !b.flag() { // seq_scaling_list_present_flag[i]
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				skipScalingList(&b, size)
			}
		}
	}
	if b.failed {
		return corruptf("h264: sps: truncated")
	}

	if v := b.ue(); v > 12 {
		return corruptf("h264: sps: log2_max_frame_num_minus4 %d", v)
	}
	switch pocType := b.ue(); pocType {
	case 0:
		if v := b.ue(); v > 12 {
			return corruptf("h264: sps: log2_max_pic_order_cnt_lsb_minus4 %d", v)
		}
	case 1:
		b.skip(1) // delta_pic_order_always_zero_flag
		b.se()    // offset_for_non_ref_pic
		b.se()    // offset_for_top_to_bottom_field
		n := b.ue()
		if n > 255 {
			return corruptf("h264: sps: num_ref_frames_in_pic_order_cnt_cycle %d", n)
		}
		for i := uint32(0); i < n && !b.failed; i++ {
			b.se() // offset_for_ref_frame[i]
		}
	case 2:
	default:
		return corruptf("h264: sps: pic_order_cnt_type %d", pocType)
	}
	b.ue()    // max_num_ref_frames
	b.skip(1) // gaps_in_frame_num_value_allowed_flag
	widthMbs := b.ue() + 1
	heightMapUnits := b.ue() + 1
	if b.failed {
		return corruptf("h264: sps: truncated")
	}
	if widthMbs == 0 || widthMbs > maxPicSizeInMbs || heightMapUnits == 0 || heightMapUnits > maxPicSizeInMbs {
		return corruptf("h264: sps: picture size %dx%d macroblocks", widthMbs, heightMapUnits)
	}
	frameMbsOnly := b.flag()
	if !frameMbsOnly {
		b.skip(1) // mb_adaptive_frame_field_flag
	}
	b.skip(1) // direct_8x8_inference_flag

	fieldFactor := 1
	if !frameMbsOnly {
		fieldFactor = 2
	}
	width := int(widthMbs) * 16
	height := fieldFactor * int(heightMapUnits) * 16

	if b.flag() { // frame_cropping_flag
		left, right, top, bottom := b.ue(), b.ue(), b.ue(), b.ue()
		if b.failed {
			return corruptf("h264: sps: truncated")
		}
		cropX, cropY := 1, fieldFactor
		if !separateColourPlane && chromaFormat != 0 {
			// SubWidthC and SubHeightC of 4:2:0, 4:2:2 and 4:4:4.
			subW, subH := 2, 2
			switch chromaFormat {
			case 2:
				subH = 1
			case 3:
				subW, subH = 1, 1
			}
			cropX, cropY = subW, subH*fieldFactor
		}
		// Each offset is below 2^32, so the products fit in int64.
		cw := int64(cropX) * (int64(left) + int64(right))
		ch := int64(cropY) * (int64(top) + int64(bottom))
		if cw >= int64(width) || ch >= int64(height) {
			return corruptf("h264: sps: cropping %d,%d,%d,%d leaves no picture of %dx%d", left, right, top, bottom, width, height)
		}
		width -= int(cw)
		height -= int(ch)
	}

	frameRate := 0.0
	if b.flag() { // vui_parameters_present_flag
		fr, err := parseVUITiming(&b)
		if err != nil {
			return err
		}
		frameRate = fr
	}
	if b.failed {
		return corruptf("h264: sps: truncated")
	}
	*info = SPSInfo{
		ProfileIDC: int(profile),
		LevelIDC:   int(level),
		Width:      width,
		Height:     height,
		FrameRate:  frameRate,
	}
	return nil
}

// skipScalingList reads past a scaling_list() of the given size
// (H.264 7.3.2.1.1.1).
func skipScalingList(b *bitReader, size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && !b.failed; j++ {
		if next != 0 {
			delta := b.se()
			if delta < -128 || delta > 127 {
				b.failed = true
				return
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// parseVUITiming reads vui_parameters() (H.264 E.1.1) up to and including the
// timing information and returns the frame rate it gives, 0 without timing
// information.
func parseVUITiming(b *bitReader) (float64, error) {
	if b.flag() { // aspect_ratio_info_present_flag
		if b.bits(8) == 255 { // aspect_ratio_idc == Extended_SAR
			b.skip(32) // sar_width, sar_height
		}
	}
	if b.flag() { // overscan_info_present_flag
		b.skip(1) // overscan_appropriate_flag
	}
	if b.flag() { // video_signal_type_present_flag
		// video_format and video_full_range_flag, then
		// colour_description_present_flag.
		b.skip(4)
		if b.flag() {
			b.skip(24) // colour_primaries, transfer_characteristics, matrix_coefficients
		}
	}
	if b.flag() { // chroma_loc_info_present_flag
		b.ue() // chroma_sample_loc_type_top_field
		b.ue() // chroma_sample_loc_type_bottom_field
	}
	if !b.flag() { // timing_info_present_flag
		if b.failed {
			return 0, corruptf("h264: sps: vui truncated")
		}
		return 0, nil
	}
	numUnitsInTick := b.bits(32)
	timeScale := b.bits(32)
	if b.failed {
		return 0, corruptf("h264: sps: vui timing info truncated")
	}
	if numUnitsInTick == 0 || timeScale == 0 {
		return 0, nil
	}
	return float64(timeScale) / (2 * float64(numUnitsInTick)), nil
}
