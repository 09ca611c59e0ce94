package e2ee

import (
	"bytes"
	"testing"
)

// FuzzDecryptFrame feeds arbitrary frames of every codec to a decryptor:
// it must never panic, and never hand out a frame that was not sealed
// with the key (none of the fuzzer's inputs is, except the seeds').
func FuzzDecryptFrame(f *testing.F) {
	kp := provider(f, "fuzz", WithFailureTolerance(-1), WithRatchetWindowSize(0))
	for _, s := range sampleFrames() {
		e, _ := NewFrameEncryptor(kp, "", s.codec)
		enc, err := e.EncryptFrame(s.frame)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(s.codec), enc)
		f.Add(uint8(s.codec), s.frame)
	}
	decryptors := make([]*FrameDecryptor, CodecAV1+1)
	for c := CodecOpus; c <= CodecAV1; c++ {
		decryptors[c], _ = NewFrameDecryptor(kp, "", c, []byte("SIF"))
	}
	f.Fuzz(func(t *testing.T, codec uint8, frame []byte) {
		d := decryptors[int(codec)%len(decryptors)]
		out, err := d.DecryptFrame(frame)
		if err == nil && len(out) > len(frame) {
			t.Fatalf("decrypted %d bytes from %d", len(out), len(frame))
		}
	})
}

// FuzzEscape checks that escaping leaves no start code and that
// unescaping undoes it, for any bytes.
func FuzzEscape(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e := escape(nil, b)
		for _, sc := range [][]byte{{0, 0, 0}, {0, 0, 1}, {0, 0, 2}} {
			if bytes.Contains(e, sc) {
				t.Fatalf("escape(%x) = %x holds %x", b, e, sc)
			}
		}
		if u := unescape(nil, e); !bytes.Equal(u, b) {
			t.Fatalf("unescape(escape(%x)) = %x", b, u)
		}
		if r := escapeByByte(b); !bytes.Equal(e, r) {
			t.Fatalf("escape(%x) = %x, byte by byte %x", b, e, r)
		}
	})
}

// FuzzParseSliceFields reads the slice fields of arbitrary NAL units: no
// panic, and no more bits read than the window holds.
func FuzzParseSliceFields(f *testing.F) {
	f.Add([]byte{0x65, 0x88, 0x84}, false)
	f.Add([]byte{0x26, 0x01, 0xa0}, true)
	f.Add([]byte{0x41, 0x00, 0x00, 0x03, 0x00}, false)
	f.Fuzz(func(t *testing.T, nal []byte, h265 bool) {
		codec := CodecH264
		if h265 {
			codec = CodecH265
		}
		if _, bits, ok := parseSliceFieldsLen(codec, nal); ok && bits > 8*sliceFieldWindow {
			t.Fatalf("%x: %d bits read", nal, bits)
		}
	})
}

// FuzzClearHeaderLength parses arbitrary Annex-B frames: no panic, and a
// header within the frame.
func FuzzClearHeaderLength(f *testing.F) {
	for _, s := range sampleFrames() {
		f.Add(uint8(s.codec), s.frame)
	}
	f.Fuzz(func(t *testing.T, codec uint8, frame []byte) {
		c := Codec(int(codec) % int(CodecAV1+1))
		n, err := ClearHeaderLength(c, frame)
		if err == nil && (n < 0 || n > len(frame)) {
			t.Fatalf("%v: header of %d bytes in %d", c, n, len(frame))
		}
		if c == CodecH264 || c == CodecH265 {
			if h, rest, err := canonicalHeader(frame, c); err == nil && len(h)+len(rest) > len(frame)+4*len(frame) {
				t.Fatalf("canonical header grew past bound")
			}
		}
	})
}
