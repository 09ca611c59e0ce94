package mediaparse

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

// SPS NAL units written by x264 for a few configurations.
var x264SPS = []struct {
	name string
	hex  string
	want SPSInfo
}{
	{
		// Main profile, 636x358 (cropped from 640x368), 24 fps; has
		// emulation-prevention bytes.
		"main cropped", "674d401eeca05017f7360220000003002000000601e2c5b2c0",
		SPSInfo{ProfileIDC: 77, LevelIDC: 30, Width: 636, Height: 358, FrameRate: 24},
	},
	{
		// High 4:4:4 Predictive, 1280x720, 60 fps.
		"high444", "67f40020919b280a00b76022000003000200000300f01e30632c",
		SPSInfo{ProfileIDC: 244, LevelIDC: 32, Width: 1280, Height: 720, FrameRate: 60},
	},
	{
		// High, 1920x1080 (cropped from 1088), 30000/1001 fps.
		"high 1080p", "67640028acd940780227e5c04400000fa40003a9803c60c658",
		SPSInfo{ProfileIDC: 100, LevelIDC: 40, Width: 1920, Height: 1080, FrameRate: 30000.0 / 1001},
	},
	{
		// High 4:2:2 10-bit, interlaced (frame_mbs_only_flag 0), 720x576, 25 fps.
		"high422 interlaced", "677a001eb6cd940b424d808800000300080000030190f8a14cb0",
		SPSInfo{ProfileIDC: 122, LevelIDC: 30, Width: 720, Height: 576, FrameRate: 25},
	},
}

func TestParseSPSx264(t *testing.T) {
	for _, tt := range x264SPS {
		t.Run(tt.name, func(t *testing.T) {
			nal, _ := hex.DecodeString(tt.hex)
			got, err := ParseSPS(nal)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseSPSTestdata(t *testing.T) {
	data := testdata(t, "h264.h264")
	nals := splitAnnexB(data)
	if len(nals) == 0 || nals[0][0]&0x1f != 7 {
		t.Fatal("h264.h264 does not start with an SPS")
	}
	got, err := ParseSPS(nals[0])
	if err != nil {
		t.Fatal(err)
	}
	want := SPSInfo{ProfileIDC: 66, LevelIDC: 13, Width: 320, Height: 240, FrameRate: 30}
	if *got != want {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
}

// spsParams describes an SPS for buildSPS.
type spsParams struct {
	profile, level         uint64
	chromaFormat           uint64 // written for High profiles only
	separatePlanes         bool
	scalingLists           [][]int64 // delta_scale values per present list; nil entries are absent lists
	pocType                uint64
	pocCycle               []int64
	widthMbs, heightUnits  uint64
	frameMbsOnly           bool
	crop                   []uint64 // left, right, top, bottom
	vui                    bool
	extendedSAR            bool
	colour                 bool
	chromaLoc              bool
	numUnits, timeScale    uint64
	timing                 bool
	truncateAfterTimingBit bool
}

func buildSPS(p spsParams) []byte {
	var w bitWriter
	w.bits(8, p.profile)
	w.bits(8, 0)
	w.bits(8, p.level)
	w.ue(0) // seq_parameter_set_id
	switch p.profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		w.ue(p.chromaFormat)
		if p.chromaFormat == 3 {
			w.flag(p.separatePlanes)
		}
		w.ue(0)      // bit_depth_luma_minus8
		w.ue(0)      // bit_depth_chroma_minus8
		w.bits(1, 0) // qpprime_y_zero_transform_bypass_flag
		if p.scalingLists == nil {
			w.bits(1, 0)
		} else {
			w.bits(1, 1)
			for _, l := range p.scalingLists {
				w.flag(l != nil)
				for _, d := range l {
					w.se(d)
				}
			}
		}
	}
	w.ue(0) // log2_max_frame_num_minus4
	w.ue(p.pocType)
	switch p.pocType {
	case 0:
		w.ue(2)
	case 1:
		w.bits(1, 0)
		w.se(-1)
		w.se(2)
		w.ue(uint64(len(p.pocCycle)))
		for _, v := range p.pocCycle {
			w.se(v)
		}
	}
	w.ue(1)      // max_num_ref_frames
	w.bits(1, 0) // gaps_in_frame_num_value_allowed_flag
	w.ue(p.widthMbs - 1)
	w.ue(p.heightUnits - 1)
	w.flag(p.frameMbsOnly)
	if !p.frameMbsOnly {
		w.bits(1, 1)
	}
	w.bits(1, 1) // direct_8x8_inference_flag
	w.flag(p.crop != nil)
	for _, c := range p.crop {
		w.ue(c)
	}
	w.flag(p.vui)
	if p.vui {
		w.bits(1, 1) // aspect_ratio_info_present_flag
		if p.extendedSAR {
			w.bits(8, 255)
			w.bits(16, 4)
			w.bits(16, 3)
		} else {
			w.bits(8, 1)
		}
		w.bits(1, 1) // overscan_info_present_flag
		w.bits(1, 0)
		w.bits(1, 1) // video_signal_type_present_flag
		w.bits(3, 5)
		w.bits(1, 0)
		w.flag(p.colour)
		if p.colour {
			w.bits(24, 0x010101)
		}
		w.flag(p.chromaLoc)
		if p.chromaLoc {
			w.ue(1)
			w.ue(1)
		}
		w.flag(p.timing)
		if p.truncateAfterTimingBit {
			return w.buf // no stop bit, cut inside the timing info
		}
		if p.timing {
			w.bits(32, p.numUnits)
			w.bits(32, p.timeScale)
			w.bits(1, 1)
		}
		w.bits(1, 0) // nal_hrd_parameters_present_flag
		w.bits(1, 0) // vcl_hrd_parameters_present_flag
		w.bits(1, 0) // pic_struct_present_flag
		w.bits(1, 0) // bitstream_restriction_flag
	}
	return w.nal(0x67)
}

// scalingList returns delta_scale values that write the given list of
// scales.
func scalingList(scales []int64) []int64 {
	last := int64(8)
	var d []int64
	for _, s := range scales {
		delta := s - last
		// Keep delta within -128..127 modulo 256.
		for delta > 127 {
			delta -= 256
		}
		for delta < -128 {
			delta += 256
		}
		d = append(d, delta)
		last = s
	}
	return d
}

func TestParseSPSHandMade(t *testing.T) {
	flat16 := make([]int64, 16)
	for i := range flat16 {
		flat16[i] = 16
	}
	ramp64 := make([]int64, 64)
	for i := range ramp64 {
		ramp64[i] = int64(6 + i*3)
	}
	lists8 := [][]int64{scalingList(flat16), nil, scalingList(flat16), nil, nil, scalingList(flat16), scalingList(ramp64), scalingList(ramp64)}
	// A list whose first delta makes nextScale 0 stops after one value
	// ("use the default list").
	lists8[1] = []int64{-8}
	lists12 := append(append([][]int64{}, lists8...), scalingList(ramp64), nil, scalingList(ramp64), []int64{-8})

	tests := []struct {
		name string
		p    spsParams
		want SPSInfo
	}{
		{
			"high with scaling lists, cropping and full VUI",
			spsParams{profile: 100, level: 41, chromaFormat: 1, scalingLists: lists8,
				widthMbs: 120, heightUnits: 68, frameMbsOnly: true, crop: []uint64{0, 0, 0, 4},
				vui: true, extendedSAR: true, colour: true, chromaLoc: true,
				timing: true, numUnits: 1001, timeScale: 120000},
			SPSInfo{ProfileIDC: 100, LevelIDC: 41, Width: 1920, Height: 1080, FrameRate: 120000.0 / 2002},
		},
		{
			"high 4:4:4 with twelve lists and poc type 1",
			spsParams{profile: 244, level: 51, chromaFormat: 3, scalingLists: lists12, pocType: 1, pocCycle: []int64{1, -2, 3},
				widthMbs: 80, heightUnits: 45, frameMbsOnly: true, crop: []uint64{1, 1, 2, 2},
				vui: true, timing: true, numUnits: 1, timeScale: 50},
			SPSInfo{ProfileIDC: 244, LevelIDC: 51, Width: 1278, Height: 716, FrameRate: 25},
		},
		{
			"4:4:4 with separate colour planes crops in luma samples",
			spsParams{profile: 244, level: 51, chromaFormat: 3, separatePlanes: true, pocType: 2,
				widthMbs: 20, heightUnits: 15, frameMbsOnly: true, crop: []uint64{1, 2, 3, 4}},
			SPSInfo{ProfileIDC: 244, LevelIDC: 51, Width: 317, Height: 233},
		},
		{
			"monochrome",
			spsParams{profile: 100, level: 30, chromaFormat: 0, widthMbs: 20, heightUnits: 15, frameMbsOnly: true, crop: []uint64{1, 0, 0, 1}},
			SPSInfo{ProfileIDC: 100, LevelIDC: 30, Width: 319, Height: 239},
		},
		{
			"4:2:2 interlaced cropping",
			spsParams{profile: 122, level: 30, chromaFormat: 2, widthMbs: 45, heightUnits: 18, crop: []uint64{0, 0, 0, 2}},
			SPSInfo{ProfileIDC: 122, LevelIDC: 30, Width: 720, Height: 572},
		},
		{
			"baseline interlaced 4:2:0 cropping",
			spsParams{profile: 77, level: 30, widthMbs: 45, heightUnits: 18, crop: []uint64{1, 1, 1, 1}},
			SPSInfo{ProfileIDC: 77, LevelIDC: 30, Width: 716, Height: 568},
		},
		{
			"VUI without timing info",
			spsParams{profile: 66, level: 30, widthMbs: 40, heightUnits: 30, frameMbsOnly: true, vui: true, colour: true},
			SPSInfo{ProfileIDC: 66, LevelIDC: 30, Width: 640, Height: 480},
		},
		{
			"timing info with zero num_units_in_tick",
			spsParams{profile: 66, level: 30, widthMbs: 40, heightUnits: 30, frameMbsOnly: true, vui: true, timing: true, numUnits: 0, timeScale: 60},
			SPSInfo{ProfileIDC: 66, LevelIDC: 30, Width: 640, Height: 480},
		},
		{
			"no VUI",
			spsParams{profile: 66, level: 10, widthMbs: 1, heightUnits: 1, frameMbsOnly: true},
			SPSInfo{ProfileIDC: 66, LevelIDC: 10, Width: 16, Height: 16},
		},
		{
			// 31 zero bits of num_units_in_tick need emulation prevention.
			"timing info with emulation prevention",
			spsParams{profile: 66, level: 10, widthMbs: 11, heightUnits: 9, frameMbsOnly: true, vui: true, timing: true, numUnits: 1, timeScale: 120},
			SPSInfo{ProfileIDC: 66, LevelIDC: 10, Width: 176, Height: 144, FrameRate: 60},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nal := buildSPS(tt.p)
			if strings.Contains(tt.name, "emulation") && !bytes.Contains(nal, []byte{0, 0, 3}) {
				t.Fatalf("%x has no emulation-prevention byte", nal)
			}
			got, err := ParseSPS(nal)
			if err != nil {
				t.Fatalf("%x: %v", nal, err)
			}
			if got.ProfileIDC != tt.want.ProfileIDC || got.LevelIDC != tt.want.LevelIDC ||
				got.Width != tt.want.Width || got.Height != tt.want.Height ||
				math.Abs(got.FrameRate-tt.want.FrameRate) > 1e-9 {
				t.Fatalf("%x: got %+v, want %+v", nal, *got, tt.want)
			}
			// Every proper prefix fails cleanly: the SPS is truncated.
			for n := 0; n < len(nal)-1; n++ {
				if _, err := ParseSPS(nal[:n]); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("prefix of %d bytes: %v", n, err)
				}
			}
		})
	}
}

func TestParseSPSErrors(t *testing.T) {
	base := spsParams{profile: 100, level: 30, chromaFormat: 1, widthMbs: 20, heightUnits: 15, frameMbsOnly: true}
	mutate := func(f func(*spsParams)) []byte {
		p := base
		f(&p)
		return buildSPS(p)
	}
	pps := []byte{0x68, 0xce, 0x38, 0x80}
	forbidden := buildSPS(base)
	forbidden[0] |= 0x80
	tests := map[string][]byte{
		"empty":               nil,
		"PPS":                 pps,
		"forbidden bit":       forbidden,
		"chroma_format_idc 4": mutate(func(p *spsParams) { p.chromaFormat = 4 }),
		"crop everything":     mutate(func(p *spsParams) { p.crop = []uint64{0, 0, 60, 60} }),
		"crop overflow":       mutate(func(p *spsParams) { p.crop = []uint64{1<<32 - 2, 1<<32 - 2, 0, 0} }),
		"width too large":     mutate(func(p *spsParams) { p.widthMbs = 5000 }),
		"poc type 3":          mutate(func(p *spsParams) { p.pocType = 3 }),
		"truncated timing":    mutate(func(p *spsParams) { p.vui, p.timing, p.truncateAfterTimingBit = true, true, true }),
		"bad scaling delta":   mutate(func(p *spsParams) { p.scalingLists = [][]int64{{200}} }),
		"ue longer than 32 bits": {0x67, 0x42, 0x00, 0x1e, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
			0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x80},
	}
	for name, nal := range tests {
		t.Run(name, func(t *testing.T) {
			if info, err := ParseSPS(nal); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%x: got %+v, %v", nal, info, err)
			}
		})
	}
}

func TestBitReaderEmulationPrevention(t *testing.T) {
	// 00 00 03 01: the 03 is dropped; 00 00 03 at the very end is dropped
	// too.
	b := newBitReader([]byte{0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03})
	if v := b.bits(24); v != 0x000001 || b.failed {
		t.Fatalf("got %06x", v)
	}
	if v := b.bits(16); v != 0 || b.failed {
		t.Fatalf("got %04x", v)
	}
	b.bit()
	if !b.failed {
		t.Fatal("read past the end")
	}
	// 03 not after two zeros is data.
	b = newBitReader([]byte{0x00, 0x03, 0x00, 0x00, 0x03, 0x03})
	if v := b.bits(32); v != 0x00030000 {
		t.Fatalf("got %08x", v)
	}
	if v := b.bits(8); v != 0x03 || b.failed {
		t.Fatalf("got %02x", v)
	}
}
