package e2ee

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func provider(t testing.TB, passphrase string, opts ...KeyProviderOption) *ExternalKeyProvider {
	t.Helper()
	kp, err := NewExternalKeyProvider(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if passphrase != "" {
		if err := kp.SetKeyFromPassphrase(passphrase, 0); err != nil {
			t.Fatal(err)
		}
	}
	return kp
}

// sampleFrames are frames of each codec as encoders make them.
func sampleFrames() map[string]struct {
	codec Codec
	frame []byte
	clear int
} {
	rnd := rand.New(rand.NewPCG(1, 2))
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
			if i%7 == 0 {
				b[i] = 0 // zeros, for the escaping to meet
			}
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sc4, sc3 := []byte{0, 0, 0, 1}, []byte{0, 0, 1}
	sps, pps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda}, []byte{0x68, 0xce, 0x3c, 0x80}
	aud := []byte{0x09, 0xf0}
	return map[string]struct {
		codec Codec
		frame []byte
		clear int
	}{
		"opus":        {CodecOpus, cat([]byte{0xfc}, payload(80)), 1},
		"vp8 key":     {CodecVP8, cat([]byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a}, payload(500)), 10},
		"vp8 delta":   {CodecVP8, cat([]byte{0x31}, payload(200)), 3},
		"vp9":         {CodecVP9, payload(300), 0},
		"av1":         {CodecAV1, payload(300), 0},
		"h264 idr":    {CodecH264, cat(sc4, sps, sc4, pps, sc4, []byte{0x65, 0x88}, payload(700)), 4 + 5 + 4 + 4 + 4 + 2},
		"h264 p":      {CodecH264, cat(sc4, []byte{0x41, 0x9a}, payload(300)), 6},
		"h264 3-byte": {CodecH264, cat(sc3, []byte{0x41, 0x9a}, payload(300)), 5},
		"h264 aud":    {CodecH264, cat(sc4, aud, sc4, []byte{0x41, 0x9a}, payload(300)), 4 + 2 + 4 + 2},
		"h265 idr":    {CodecH265, cat(sc4, []byte{0x40, 0x01, 0x0c}, sc4, []byte{0x42, 0x01, 0x01}, sc4, []byte{0x26, 0x01}, payload(400)), 4 + 3 + 4 + 3 + 4 + 2},
		"h265 trail":  {CodecH265, cat(sc4, []byte{0x02, 0x01}, payload(400)), 6},
	}
}

func TestClearHeaderLengths(t *testing.T) {
	for name, f := range sampleFrames() {
		n, err := ClearHeaderLength(f.codec, f.frame)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if n != f.clear {
			t.Errorf("%s: %d clear bytes, want %d", name, n, f.clear)
		}
	}
	for _, bad := range []struct {
		codec Codec
		frame []byte
	}{
		{CodecOpus, nil},
		{CodecVP8, nil},
		{CodecVP8, []byte{0x10, 1, 2}},        // a keyframe shorter than its header
		{CodecH264, []byte{0x65, 0x88, 1, 2}}, // no start code
		{CodecH264, []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68}}, // no slice
		{CodecH265, []byte{1, 0, 0, 1, 0x26, 0x01}},                // leading data
	} {
		if _, err := ClearHeaderLength(bad.codec, bad.frame); err == nil {
			t.Errorf("%v %x: no error", bad.codec, bad.frame)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	kp := provider(t, "a passphrase")
	for name, f := range sampleFrames() {
		e, err := NewFrameEncryptor(kp, "alice", f.codec)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewFrameDecryptor(kp, "alice", f.codec, nil)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := e.EncryptFrame(f.frame)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := f.frame
		if f.codec == CodecH264 || f.codec == CodecH265 {
			want = canonical(t, f.codec, f.frame)
			// Nothing past the clear header reads as a start code, so a
			// packetizer keeps the encrypted part in one NAL unit.
			n, _ := ClearHeaderLength(f.codec, enc)
			if bytes.Contains(enc[n:], []byte{0, 0, 1}) {
				t.Errorf("%s: a start code in the encrypted part", name)
			}
		}
		n, _ := ClearHeaderLength(f.codec, want)
		if !bytes.Equal(enc[:n], want[:n]) {
			t.Errorf("%s: clear header %x, want %x", name, enc[:n], want[:n])
		}
		if bytes.Contains(enc, want[n:]) {
			t.Errorf("%s: the payload is in the encrypted frame in clear", name)
		}
		got, err := d.DecryptFrame(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: round trip changed the frame", name)
		}
	}
}

func TestTamperedFramesAreRefused(t *testing.T) {
	kp := provider(t, "a passphrase")
	for name, f := range sampleFrames() {
		e, _ := NewFrameEncryptor(kp, "alice", f.codec)
		d, _ := NewFrameDecryptor(kp, "alice", f.codec, nil)
		enc, err := e.EncryptFrame(f.frame)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := ClearHeaderLength(f.codec, enc)
		// A header byte (authenticated), a ciphertext byte, an IV byte,
		// the IV length, the key index, and a truncation.
		for what, mutate := range map[string]func([]byte) []byte{
			"header":     func(b []byte) []byte { b[max(n-1, 0)] ^= 0x40; return b },
			"ciphertext": func(b []byte) []byte { b[n+1] ^= 1; return b },
			"iv":         func(b []byte) []byte { b[len(b)-5] ^= 0x10; return b },
			"iv length":  func(b []byte) []byte { b[len(b)-2] = 16; return b },
			"key index":  func(b []byte) []byte { b[len(b)-1] = 1; return b },
			"truncated":  func(b []byte) []byte { return b[:n+tagSize] },
		} {
			if what == "header" && n == 0 {
				continue
			}
			bad := mutate(append([]byte(nil), enc...))
			if out, err := d.DecryptFrame(bad); err == nil {
				t.Errorf("%s, %s tampered: decrypted to %d bytes", name, what, len(out))
			}
		}
	}
}

func TestWrongKeyFailsThenIsNoLongerTried(t *testing.T) {
	sender := provider(t, "the right one")
	receiver := provider(t, "a wrong one", WithFailureTolerance(3), WithRatchetWindowSize(2))
	e, _ := NewFrameEncryptor(sender, "alice", CodecOpus)
	d, _ := NewFrameDecryptor(receiver, "alice", CodecOpus, nil)
	frame := []byte{0xfc, 1, 2, 3, 4, 5, 6, 7, 8}
	for i := range 6 {
		enc, _ := e.EncryptFrame(frame)
		_, err := d.DecryptFrame(enc)
		want := ErrDecryptionFailed
		if i > 3 { // failed 4 times: past the tolerance of 3
			want = ErrInvalidKey
		}
		if !errors.Is(err, want) {
			t.Fatalf("frame %d: %v, want %v", i, err, want)
		}
	}
	if s := d.Stats(); s.Failed != 4 || s.InvalidKey != 2 || s.Decrypted != 0 {
		t.Errorf("stats %+v", s)
	}
	// Setting the right key makes the index valid again.
	if err := receiver.SetKeyFromPassphrase("the right one", 0); err != nil {
		t.Fatal(err)
	}
	enc, _ := e.EncryptFrame(frame)
	if got, err := d.DecryptFrame(enc); err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("with the right key: %x, %v", got, err)
	}
}

func TestReceiverFollowsTheSendersRatchet(t *testing.T) {
	sender := provider(t, "shared")
	receiver := provider(t, "shared", WithRatchetWindowSize(3))
	e, _ := NewFrameEncryptor(sender, "", CodecVP8)
	d, _ := NewFrameDecryptor(receiver, "", CodecVP8, nil)
	frame := append([]byte{0x31, 2, 3}, bytes.Repeat([]byte{9}, 40)...)
	for ratchets := 1; ratchets <= 3; ratchets++ {
		for range ratchets {
			if _, err := sender.RatchetKey("", 0); err != nil {
				t.Fatal(err)
			}
		}
		enc, _ := e.EncryptFrame(frame)
		if got, err := d.DecryptFrame(enc); err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("after %d ratchets: %v", ratchets, err)
		}
		sk, _ := sender.GetKey(0)
		rk, _ := receiver.GetKey(0)
		if !bytes.Equal(sk, rk) {
			t.Fatalf("after %d ratchets the receiver did not keep the ratcheted key", ratchets)
		}
	}
	// Beyond the window the frame does not decrypt.
	for range 4 {
		sender.RatchetKey("", 0)
	}
	enc, _ := e.EncryptFrame(frame)
	if _, err := d.DecryptFrame(enc); !errors.Is(err, ErrDecryptionFailed) {
		t.Fatalf("4 ratchets ahead with a window of 3: %v", err)
	}
}

func TestKeyIndexAndParticipantKeys(t *testing.T) {
	kp := provider(t, "")
	if err := kp.SetParticipantKeyFromPassphrase("alice", "alice's", 5); err != nil {
		t.Fatal(err)
	}
	if err := kp.SetKeyFromPassphrase("everyone's", 2); err != nil {
		t.Fatal(err)
	}
	frame := []byte{0xfc, 1, 2, 3}
	ea, _ := NewFrameEncryptor(kp, "alice", CodecOpus)
	eb, _ := NewFrameEncryptor(kp, "bob", CodecOpus)
	a, _ := ea.EncryptFrame(frame)
	b, _ := eb.EncryptFrame(frame)
	if a[len(a)-1] != 5 || b[len(b)-1] != 2 {
		t.Fatalf("key indexes %d and %d, want alice's 5 and the shared 2", a[len(a)-1], b[len(b)-1])
	}
	other := provider(t, "")
	other.SetKeyFromPassphrase("everyone's", 2)
	db, _ := NewFrameDecryptor(other, "bob", CodecOpus, nil)
	if _, err := db.DecryptFrame(b); err != nil {
		t.Fatalf("bob's frame with the shared key: %v", err)
	}
	da, _ := NewFrameDecryptor(other, "alice", CodecOpus, nil)
	if _, err := da.DecryptFrame(a); !errors.Is(err, ErrMissingKey) {
		t.Fatalf("alice's frame without her key: %v", err)
	}
}

func TestServerInjectedFrameIsNotAFailure(t *testing.T) {
	kp := provider(t, "p")
	sif := []byte("LKROCKS")
	d, _ := NewFrameDecryptor(kp, "alice", CodecVP8, sif)
	blank := []byte{0x50, 0x42, 0, 0x9d, 1, 0x2a, 0x10, 0, 0x10, 0, 7, 7}
	got, err := d.DecryptFrame(append(append([]byte(nil), blank...), sif...))
	if !errors.Is(err, ErrServerInjectedFrame) || !bytes.Equal(got, blank) {
		t.Fatalf("%x, %v", got, err)
	}
	if s := d.Stats(); s.ServerInjected != 1 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestOptionsAndInputsAreChecked(t *testing.T) {
	if _, err := NewExternalKeyProvider(WithKeyRingSize(0)); err == nil {
		t.Error("a key ring of 0 keys accepted")
	}
	if _, err := NewExternalKeyProvider(WithKeyRingSize(257)); err == nil {
		t.Error("a key ring of 257 keys accepted")
	}
	if _, err := NewExternalKeyProvider(WithRatchetWindowSize(-1)); err == nil {
		t.Error("a negative ratchet window accepted")
	}
	kp := provider(t, "")
	if err := kp.SetKeyFromPassphrase("", 0); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("empty passphrase: %v", err)
	}
	e, _ := NewFrameEncryptor(kp, "", CodecOpus)
	if _, err := e.EncryptFrame([]byte{1, 2}); !errors.Is(err, ErrMissingKey) {
		t.Errorf("encrypting without a key: %v", err)
	}
	if _, err := CodecFromMimeType("video/unknown"); err == nil {
		t.Error("an unknown MIME type accepted")
	}
	if c, err := CodecFromMimeType("video/H264"); err != nil || c != CodecH264 {
		t.Errorf("video/H264: %v %v", c, err)
	}
	if _, err := NewTrackEncryptor(kp, "", "video/AV1"); !errors.Is(err, ErrTrackCodecNotEncryptable) {
		t.Errorf("an AV1 track encryptor: %v", err)
	}
}

// escapeByByte is escape written byte by byte, as the rule reads.
func escapeByByte(b []byte) []byte {
	var dst []byte
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

func TestEscapeMatchesTheRule(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			if rnd.IntN(3) > 0 {
				b[i] = byte(rnd.IntN(5)) // mostly 00 to 04
			} else {
				b[i] = byte(rnd.UintN(256))
			}
		}
		if got, want := escape(nil, b), escapeByByte(b); !bytes.Equal(got, want) {
			t.Fatalf("escape(%x) = %x, want %x", b, got, want)
		}
	}
}

func TestEscapingRoundTrips(t *testing.T) {
	for _, b := range [][]byte{
		{0, 0, 0}, {0, 0, 1}, {0, 0, 2}, {0, 0, 3}, {0, 0, 4}, {0, 0, 0, 0, 0, 1},
		{1, 0, 0}, {}, {0, 0, 3, 0, 0, 3},
	} {
		e := escape(nil, b)
		if bytes.Contains(e, []byte{0, 0, 0}) || bytes.Contains(e, []byte{0, 0, 1}) || bytes.Contains(e, []byte{0, 0, 2}) {
			t.Errorf("escape(%x) = %x holds a start code", b, e)
		}
		if u := unescape(nil, e); !bytes.Equal(u, b) {
			t.Errorf("unescape(escape(%x)) = %x", b, u)
		}
	}
}
