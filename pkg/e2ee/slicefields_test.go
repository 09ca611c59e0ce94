package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"testing"
)

// firstAccessUnit returns the first access unit of an Annex-B file: up to
// the start code of the NAL unit that follows its first slice.
func firstAccessUnit(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := naluStarts(b)
	if err != nil {
		t.Fatal(err)
	}
	for k, s := range starts {
		if isH264Slice(b[s]) && k+1 < len(starts) {
			at, _ := nextStartCode(b, s)
			return b[:at]
		}
	}
	t.Fatalf("%s: no access unit", path)
	return nil
}

// sliceOf returns an Annex-B frame's first slice NAL unit on.
func sliceOf(t *testing.T, codec Codec, frame []byte) []byte {
	t.Helper()
	n, err := sliceHeaderEnd(frame, codec)
	if err != nil {
		t.Fatal(err)
	}
	return frame[n-2:]
}

// TestParseSliceFields reads the slice fields of known slices.
func TestParseSliceFields(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec Codec
		nal   []byte
		want  sliceFields
		ok    bool
	}{
		// x264's IDR slice: first_mb 0 (1), slice_type 7 (0001000), pps 0 (1).
		{"h264 idr", CodecH264, []byte{0x65, 0x88, 0x84}, sliceFields{0, 7, 0}, true},
		// P slice: first_mb 0 (1), slice_type 5 (00110), pps 0 (1).
		{"h264 p", CodecH264, []byte{0x41, 0x9a}, sliceFields{0, 5, 0}, true},
		// first_mb 0, slice_type 2 (011), pps 3 (00100), with an escaped zero run after.
		{"h264 pps 3", CodecH264, []byte{0x65, 0xb2, 0x00, 0x00, 0x03, 0x01}, sliceFields{0, 2, 3}, true},
		{"h264 short", CodecH264, []byte{0x65, 0x00}, sliceFields{}, false},
		// IDR_W_RADL (19): first slice flag 1, no_output_of_prior_pics 0, pps 0 (1).
		{"h265 idr", CodecH265, []byte{0x26, 0x01, 0xa0}, sliceFields{1, 0, 0}, true},
		// TRAIL_R (1): first slice flag 1, pps 2 (011).
		{"h265 trail", CodecH265, []byte{0x02, 0x01, 0xb0}, sliceFields{1, 0, 2}, true},
		{"h265 header only", CodecH265, []byte{0x02, 0x01}, sliceFields{}, false},
	} {
		got, ok := parseSliceFields(c.codec, c.nal)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestEncryptedSliceKeepsTheFieldsAReceiverReads: a receiver reads the
// parameter set id of a slice before decrypting it and drops a keyframe
// whose id it does not know. The id of x264's IDR slices lies past the
// clear header; every encrypted frame must still read as the clear one
// does, and decrypt.
func TestEncryptedSliceKeepsTheFieldsAReceiverReads(t *testing.T) {
	kp := provider(t, "a passphrase")
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sc := []byte{0, 0, 0, 1}
	h265ps := cat(sc, []byte{0x40, 0x01, 0x0c}, sc, []byte{0x42, 0x01, 0x01}, sc, []byte{0x44, 0x01, 0xc0})
	frames := map[string]struct {
		codec Codec
		frame []byte
	}{
		"h264.h264 idr": {CodecH264, firstAccessUnit(t, "../../testdata/h264.h264")},
		"h264 p":        {CodecH264, cat(sc, []byte{0x41, 0x9a}, random(300))},
		// Slice headers as H.265 encoders write them: pps 0 or 2.
		"h265 idr":   {CodecH265, cat(h265ps, sc, []byte{0x26, 0x01, 0xa0 | random(1)[0]&0x1f}, random(400))},
		"h265 cra":   {CodecH265, cat(h265ps, sc, []byte{0x2a, 0x01, 0xa0 | random(1)[0]&0x1f}, random(400))},
		"h265 trail": {CodecH265, cat(sc, []byte{0x02, 0x01, 0xb0 | random(1)[0]&0x0f}, random(400))},
		// Shorter than a block: each IV costs a whole seal.
		"h265 tiny": {CodecH265, cat(sc, []byte{0x02, 0x01, 0xb0}, random(5))},
	}
	for name, f := range frames {
		want, ok := parseSliceFields(f.codec, sliceOf(t, f.codec, f.frame))
		if !ok {
			t.Fatalf("%s: the clear slice has no fields", name)
		}
		e, err := NewFrameEncryptor(kp, "alice", f.codec)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewFrameDecryptor(kp, "alice", f.codec, nil)
		if err != nil {
			t.Fatal(err)
		}
		// With IVs drawn at random, as before, some frames read otherwise.
		var differ int
		for range 64 {
			iv := make([]byte, IVSize)
			_, _ = rand.Read(iv)
			enc, err := e.encrypt(f.frame, iv)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := parseSliceFields(f.codec, sliceOf(t, f.codec, enc)); got != want {
				differ++
			}
		}
		if name != "h264 p" && differ == 0 {
			t.Errorf("%s: no random IV changed the fields; the test shows nothing", name)
		}
		for range 200 {
			enc, err := e.EncryptFrame(f.frame)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := parseSliceFields(f.codec, sliceOf(t, f.codec, enc)); !ok || got != want {
				t.Fatalf("%s: the encrypted slice reads %v (%v), the clear one %v", name, got, ok, want)
			}
			plain, err := d.DecryptFrame(enc)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(plain, canonical(t, f.codec, f.frame)) {
				t.Fatalf("%s: round trip changed the frame", name)
			}
		}
		t.Logf("%s: fields %v; %d of 64 random IVs changed them", name, want, differ)
	}
}

// TestKeystreamPrediction: the first ciphertext block under an IV is the
// clear block XOR AES(key, IV || 2), which sealSlice relies on to try IVs
// at the cost of one block.
func TestKeystreamPrediction(t *testing.T) {
	kp := provider(t, "a passphrase")
	_, ks, err := kp.encryptionKeySet("")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("sixteen bytes and a few more")
	for range 20 {
		iv := make([]byte, IVSize)
		_, _ = rand.Read(iv)
		sealed := ks.aead.Seal(nil, iv, body, nil)
		var ctr, stream [aes.BlockSize]byte
		copy(ctr[:], iv)
		binary.BigEndian.PutUint32(ctr[IVSize:], 2)
		ks.block.Encrypt(stream[:], ctr[:])
		for i := range stream {
			stream[i] ^= body[i]
		}
		if !bytes.Equal(stream[:], sealed[:aes.BlockSize]) {
			t.Fatalf("predicted %x, sealed %x", stream, sealed[:aes.BlockSize])
		}
	}
}

// TestSliceFieldsPastTheBound: a slice whose fields reach too far into the
// ciphertext for maxIVTries is sent under the last IV tried, and decrypts.
func TestSliceFieldsPastTheBound(t *testing.T) {
	kp := provider(t, "a passphrase")
	// TRAIL_R, pps 87: 14 bits past the clear header.
	frame := []byte{0, 0, 0, 1, 0x02, 0x01, 0x81, 0x60, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a}
	if f, _ := parseSliceFields(CodecH265, frame[4:]); f[2] != 87 {
		t.Fatalf("pps %d, want 87", f[2])
	}
	e, _ := NewFrameEncryptor(kp, "", CodecH265)
	d, _ := NewFrameDecryptor(kp, "", CodecH265, nil)
	enc, err := e.EncryptFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := d.DecryptFrame(enc); err != nil || !bytes.Equal(plain, frame) {
		t.Fatalf("round trip: %v", err)
	}
}
