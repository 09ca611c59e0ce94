package mediaparse

import (
	"bytes"
	"testing"
)

func TestVP8Keyframe(t *testing.T) {
	// Frame tag (keyframe, version 0, show_frame, partition size), start
	// code, 14-bit width 640 and height 480 with scaling bits set.
	key := []byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0xc1, 0x00}
	inter := []byte{0x31, 0x04, 0x00, 0x00}
	if !IsVP8Keyframe(key) || IsVP8Keyframe(inter) || IsVP8Keyframe(nil) || IsVP8Keyframe([]byte{0x50, 0x2a}) {
		t.Fatal("IsVP8Keyframe")
	}
	if w, h, ok := VP8Dimensions(key); !ok || w != 640 || h != 480 {
		t.Fatalf("VP8Dimensions = %d, %d, %v", w, h, ok)
	}
	for _, f := range [][]byte{
		nil,
		inter,
		key[:9],
		{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0xe0, 0x01}, // bad start code
		{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0xc0, 0xe0, 0x01}, // zero width
	} {
		if w, h, ok := VP8Dimensions(f); ok {
			t.Errorf("VP8Dimensions(% x) = %d, %d, true", f, w, h)
		}
	}
}

func TestVP9Keyframe(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  bool
	}{
		// frame_marker 10, profile 0 (0, 0), show_existing 0, frame_type 0,
		// show_frame 1, error_res 0, then sync code 49 83 42.
		{"profile 0 keyframe", []byte{0x82, 0x49, 0x83, 0x42, 0x00}, true},
		// profile 1: low bit 1, high bit 0.
		{"profile 1 keyframe", []byte{0xa2, 0x49, 0x83, 0x42, 0x00}, true},
		// profile 2: low 0, high 1.
		{"profile 2 keyframe", []byte{0x92, 0x49, 0x83, 0x42, 0x00}, true},
		// profile 3 has a reserved zero bit before show_existing_frame.
		{"profile 3 keyframe", []byte{0xb1, 0x24, 0xc1, 0xa1, 0x00}, true},
		{"profile 3 reserved bit set", []byte{0xb9, 0x24, 0xc1, 0xa1, 0x00}, false},
		{"inter frame", []byte{0x86, 0x00, 0x40}, false},
		{"show existing frame", []byte{0x88}, false},
		{"bad frame marker", []byte{0x02, 0x49, 0x83, 0x42, 0x00}, false},
		{"bad sync code", []byte{0x82, 0x49, 0x83, 0x43, 0x00}, false},
		{"truncated", []byte{0x82, 0x49, 0x83}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := IsVP9Keyframe(tt.frame); got != tt.want {
			t.Errorf("%s: IsVP9Keyframe(% x) = %v", tt.name, tt.frame, got)
		}
	}
}

func TestAV1Keyframe(t *testing.T) {
	td := []byte{0x12, 0x00}                    // temporal delimiter, size 0
	seq := []byte{0x0a, 0x03, 0x00, 0x00, 0x00} // sequence header, size 3
	frame := []byte{0x32, 0x02, 0xaa, 0xbb}     // frame OBU, size 2
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name string
		tu   []byte
		want bool
	}{
		{"keyframe temporal unit", cat(td, seq, frame), true},
		{"inter temporal unit", cat(td, frame), false},
		{"extension header", cat(td, []byte{0x36, 0x00, 0x01, 0xcc}, seq), true},
		{"two-byte leb128 size", cat([]byte{0x32, 0x81, 0x01}, make([]byte, 129), seq), true},
		{"redundant leb128 encoding", cat([]byte{0x12, 0x80, 0x80, 0x00}, seq), true},
		{"sequence header without size field", cat(td, []byte{0x08, 0x00, 0x00}), true},
		{"last OBU without size field", cat(td, []byte{0x30, 0x0a, 0x02}), false},
		{"size past the end", cat(td, []byte{0x32, 0x10, 0x00}, seq), false},
		{"unterminated leb128", cat(td, []byte{0x32, 0x80, 0x80}), false},
		{"leb128 over 8 bytes", cat([]byte{0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, seq), false},
		{"leb128 over 32 bits", cat([]byte{0x32, 0x80, 0x80, 0x80, 0x80, 0x10}, seq), false},
		{"forbidden bit", cat([]byte{0x92, 0x00}, seq), false},
		{"extension flag without extension byte", []byte{0x0e}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := IsAV1Keyframe(tt.tu); got != tt.want {
			t.Errorf("%s: IsAV1Keyframe(% x) = %v", tt.name, tt.tu, got)
		}
	}
}

// TestVP9FrameHeader reads the test file's frames: keyframes where
// IsVP9Keyframe says so, with the file's size.
func TestVP9FrameHeader(t *testing.T) {
	r, hdr, err := NewIVFReader(bytes.NewReader(testdata(t, "vp9.ivf")))
	if err != nil {
		t.Fatal(err)
	}
	var keys, frames int
	for {
		f, _, err := r.Next()
		if err != nil {
			break
		}
		frames++
		key, w, h, ok := VP9FrameHeader(f)
		if !ok || key != IsVP9Keyframe(f) {
			t.Fatalf("frame %d: key %v ok %v, IsVP9Keyframe %v", frames, key, ok, IsVP9Keyframe(f))
		}
		if key {
			keys++
			if w != int(hdr.Width) || h != int(hdr.Height) {
				t.Fatalf("frame %d: %dx%d, the file says %dx%d", frames, w, h, hdr.Width, hdr.Height)
			}
		}
	}
	if keys == 0 || frames < 2 {
		t.Fatalf("%d keyframes in %d frames", keys, frames)
	}
	for _, bad := range [][]byte{nil, {0x00}, {0x82, 0x49, 0x83}, {0x82, 0x49, 0x83, 0x42}} {
		if _, _, _, ok := VP9FrameHeader(bad); ok {
			t.Errorf("% x: ok", bad)
		}
	}
	// A frame showing an existing one: not a keyframe, and valid.
	if key, _, _, ok := VP9FrameHeader([]byte{0x88}); key || !ok {
		t.Errorf("show_existing_frame: key %v ok %v", key, ok)
	}
}
