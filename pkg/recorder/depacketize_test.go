package recorder

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/pion/rtp/codecs"

	"github.com/livekit/server-sdk-go/internal/codec"
)

// depacketize runs payloads through d as one frame.
func depacketize(d depacketizer, payloads ...[]byte) ([]byte, frameInfo, error) {
	var frame []byte
	var err error
	for i, p := range payloads {
		if frame, err = d.appendPayload(frame, p, i == 0); err != nil {
			return nil, frameInfo{}, err
		}
	}
	return d.finish(frame, true)
}

var testIDR = append([]byte{0x65, 0x88, 0x84}, bytes.Repeat([]byte{0xab}, 3000)...)

// testParameterSets returns the SPS and PPS of the H.264 test file.
func testParameterSets(t *testing.T) (sps, pps []byte) {
	t.Helper()
	for _, nal := range splitNALs(loadH264(t)[0].data) {
		switch codec.NALType(nal[0]) {
		case codec.NALSPS:
			sps = nal
		case codec.NALPPS:
			pps = nal
		}
	}
	if sps == nil || pps == nil {
		t.Fatal("no parameter sets in the test file")
	}
	return sps, pps
}

func annexB(nals ...[]byte) []byte {
	var out []byte
	for _, n := range nals {
		out = append(append(out, 0, 0, 0, 1), n...)
	}
	return out
}

func TestH264Depacketize(t *testing.T) {
	testSPS, testPPS := testParameterSets(t)
	au := annexB(testSPS, testPPS, testIDR)
	payloads := (&codecs.H264Payloader{}).Payload(1200, au)
	if len(payloads) < 3 || codec.NALType(payloads[0][0]) != codec.NALSTAPA || codec.NALType(payloads[1][0]) != codec.NALFUA {
		t.Fatalf("unexpected packetization")
	}
	out, info, err := depacketize(&h264Depacketizer{}, payloads...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, au) || !info.key {
		t.Fatalf("access unit differs or not key (%v)", info.key)
	}
	if info.width != 320 || info.height != 240 {
		t.Fatalf("size %dx%d", info.width, info.height)
	}

	// Starting with an FU-A that is not a start fragment.
	if _, _, err := depacketize(&h264Depacketizer{}, payloads[2:]...); !errors.Is(err, errNotFrameStart) {
		t.Fatalf("FU-A continuation first: %v", err)
	}
	// An FU-A that never ends.
	if _, _, err := depacketize(&h264Depacketizer{}, payloads[:2]...); !errors.Is(err, errIncomplete) {
		t.Fatalf("unfinished FU-A: %v", err)
	}
	// Interleaved-mode packets.
	if _, _, err := depacketize(&h264Depacketizer{}, []byte{29, 0x85, 1}); !errors.Is(err, errUnsupportedPkt) {
		t.Fatalf("FU-B: %v", err)
	}
	// A STAP-A whose length runs past the payload.
	if _, _, err := depacketize(&h264Depacketizer{}, []byte{24, 0, 9, 0x67}); !errors.Is(err, errMalformed) {
		t.Fatalf("bad STAP-A: %v", err)
	}
}

// TestH264ParameterSetsPrepended: an IDR without SPS and PPS gets those of
// the SDP, or those seen before.
func TestH264ParameterSetsPrepended(t *testing.T) {
	testSPS, testPPS := testParameterSets(t)
	fmtp := "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;sprop-parameter-sets=" +
		base64.StdEncoding.EncodeToString(testSPS) + "," + base64.StdEncoding.EncodeToString(testPPS)
	d := newH264Depacketizer(fmtp)
	payloads := (&codecs.H264Payloader{}).Payload(1200, annexB(testIDR))
	out, info, err := depacketize(d, payloads...)
	if err != nil || !info.key {
		t.Fatalf("err %v key %v", err, info.key)
	}
	if !bytes.Equal(out, annexB(testSPS, testPPS, testIDR)) {
		t.Fatal("parameter sets not prepended")
	}

	// Without any parameter sets, an IDR is not a usable keyframe.
	d = newH264Depacketizer("")
	if _, info, err := depacketize(d, payloads...); err != nil || info.key {
		t.Fatalf("IDR without parameter sets: key %v, %v", info.key, err)
	}
	// Once seen, they are remembered.
	if _, _, err := depacketize(d, (&codecs.H264Payloader{}).Payload(1200, annexB(testSPS, testPPS, []byte{0x41, 1, 2}))...); err != nil {
		t.Fatal(err)
	}
	out, info, err = depacketize(d, payloads...)
	if err != nil || !info.key || !bytes.Equal(out, annexB(testSPS, testPPS, testIDR)) {
		t.Fatalf("remembered parameter sets not used: key %v, %v", info.key, err)
	}
}

// vp9Desc builds a VP9 payload descriptor with a 15-bit picture ID and
// layer indices.
func vp9Desc(b, e bool, picID uint16, sid byte, data []byte) []byte {
	first := byte(0x80 | 0x20) // I, L
	if b {
		first |= 0x08
	}
	if e {
		first |= 0x04
	}
	p := []byte{first, 0x80 | byte(picID>>8), byte(picID), sid << 1, 0}
	return append(p, data...)
}

// TestVP9Superframe assembles a picture of two spatial layers into a
// superframe with its index.
func TestVP9Superframe(t *testing.T) {
	// A keyframe header for 64x48 (profile 0), then filler.
	var bw bitWriter
	bw.put(2, 2)         // frame_marker
	bw.put(0, 2)         // profile 0
	bw.put(0, 1)         // show_existing_frame
	bw.put(0, 1)         // frame_type KEY_FRAME
	bw.put(1, 1)         // show_frame
	bw.put(0, 1)         // error_resilient_mode
	bw.put(0x498342, 24) // frame_sync_code
	bw.put(2, 3)         // color_space
	bw.put(0, 1)         // color_range
	bw.put(63, 16)       // frame_width_minus_1
	bw.put(47, 16)       // frame_height_minus_1
	base := bw.bytes()
	base = append(base, bytes.Repeat([]byte{1}, 300-len(base))...)
	upper := bytes.Repeat([]byte{2}, 700)
	d := &vp9Depacketizer{}
	out, info, err := depacketize(d,
		vp9Desc(true, false, 5, 0, base[:100]),
		vp9Desc(false, true, 5, 0, base[100:]),
		vp9Desc(true, true, 5, 1, upper),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !info.key || info.width != 64 || info.height != 48 || info.picID != 5 || info.picIDBits != 15 {
		t.Fatalf("info %+v", info)
	}
	// Sizes 300 and 700 need 2 bytes each: marker 0b110 01 001.
	index := []byte{0xc9, 0x2c, 0x01, 0xbc, 0x02, 0xc9}
	want := append(append(append([]byte{}, base...), upper...), index...)
	if !bytes.Equal(out, want) {
		t.Fatalf("superframe tail % x", out[len(out)-8:])
	}
	// A second B before the first layer's E is malformed.
	if _, _, err := depacketize(&vp9Depacketizer{}, vp9Desc(true, false, 5, 0, base), vp9Desc(true, true, 5, 1, upper)); !errors.Is(err, errMalformed) {
		t.Fatalf("err %v", err)
	}
	// A continuation first is not a frame start.
	if _, _, err := depacketize(&vp9Depacketizer{}, vp9Desc(false, true, 5, 0, base)); !errors.Is(err, errNotFrameStart) {
		t.Fatalf("err %v", err)
	}
}

func TestVP8Depacketize(t *testing.T) {
	key := []byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 9, 9, 9}
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	payloads := pay.Payload(6, key)
	out, info, err := depacketize(&vp8Depacketizer{}, payloads...)
	if err != nil || !bytes.Equal(out, key) {
		t.Fatalf("err %v, frame % x", err, out)
	}
	if !info.key || info.width != 320 || info.height != 240 || info.picIDBits != 15 || info.picID != 0 {
		t.Fatalf("info %+v", info)
	}
	if _, _, err := depacketize(&vp8Depacketizer{}, payloads[1:]...); !errors.Is(err, errNotFrameStart) {
		t.Fatalf("err %v", err)
	}
}

// TestAV1Depacketize covers fragments over several packets, an OBU with an
// extension header, and dropping of temporal delimiters.
func TestAV1Depacketize(t *testing.T) {
	seq := av1TestSequenceHeader(1280, 720)
	var tu []byte
	tu = append(tu, 0x12, 0x00)
	tu = append(tu, 0x0a)
	tu = codec.AppendLEB128(tu, uint64(len(seq)))
	tu = append(tu, seq...)
	body := bytes.Repeat([]byte{7}, 3000)
	tu = append(tu, 0x36, 0x08) // OBU_FRAME with extension and size
	tu = codec.AppendLEB128(tu, uint64(len(body)))
	tu = append(tu, body...)
	payloads := (&codecs.AV1Payloader{}).Payload(500, tu)
	if len(payloads) < 6 {
		t.Fatalf("%d packets", len(payloads))
	}
	out, info, err := depacketize(&av1Depacketizer{}, payloads...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, tu) {
		t.Fatalf("temporal unit differs:\n% x\n% x", out[:40], tu[:40])
	}
	if !info.key || info.width != 1280 || info.height != 720 {
		t.Fatalf("info %+v", info)
	}
	// A packet continuing a fragment first is not a frame start.
	if _, _, err := depacketize(&av1Depacketizer{}, payloads[1:]...); !errors.Is(err, errNotFrameStart) {
		t.Fatalf("err %v", err)
	}
	// A packet that does not continue the fragment the previous one left.
	if _, _, err := depacketize(&av1Depacketizer{}, payloads[0], payloads[0]); !errors.Is(err, errMalformed) {
		t.Fatalf("err %v", err)
	}
	// The last packet missing leaves a fragment unfinished.
	if _, _, err := depacketize(&av1Depacketizer{}, payloads[:len(payloads)-1]...); !errors.Is(err, errIncomplete) {
		t.Fatalf("err %v", err)
	}
	// W = 2: a length-prefixed OBU, then the last one without length. A
	// temporal delimiter sent anyway is dropped.
	d := &av1Depacketizer{}
	frame, err := d.appendPayload(nil, []byte{0x20, 0x01, 0x10, 0x30, 1, 2, 3}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, info, err := d.finish(frame, true); err != nil || info.key {
		t.Fatalf("err %v info %+v", err, info)
	}
	if want := []byte{0x12, 0x00, 0x32, 0x03, 1, 2, 3}; !bytes.Equal(frame, want) {
		t.Fatalf("frame % x, want % x", frame, want)
	}
}

func TestOpusPacketSamples(t *testing.T) {
	for _, c := range []struct {
		packet []byte
		want   int
	}{
		{[]byte{0x9c}, 960},          // CELT NB 20 ms, code 0
		{[]byte{0x8c}, 240},          // CELT NB 5 ms
		{[]byte{0xfd}, 1920},         // CELT FB 20 ms, code 1: two frames
		{[]byte{0x0b, 0x03}, 2880},   // SILK NB 20 ms, code 3: three frames
		{[]byte{0x1b, 0x3f}, 5760},   // 63 frames of 60 ms, capped at 120 ms
		{[]byte{0x03}, 0},            // code 3 without a count
		{[]byte{}, 0},                // empty
		{[]byte{0x60, 1, 2, 3}, 480}, // hybrid SWB 10 ms
	} {
		if got := opusPacketSamples(c.packet); got != c.want {
			t.Errorf("% x: %d samples, want %d", c.packet, got, c.want)
		}
	}
}
