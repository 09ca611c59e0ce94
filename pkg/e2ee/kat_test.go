package e2ee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// kat is testdata/kat.json: vectors made by livekit-client's own key
// derivation and frame cryptor on Node.js's WebCrypto (see
// interop/peer/kat/gen.ts), so these tests hold this package to another
// implementation, not to itself.
type kat struct {
	RatchetSalt string `json:"ratchetSalt"`
	Keys        []struct {
		KDF        string `json:"kdf"`
		Material   string `json:"material"`
		Key        string `json:"key"`
		Ratchet    string `json:"ratchet"`
		RatchetKey string `json:"ratchetKey"`
	} `json:"keys"`
	Frames []struct {
		Name       string `json:"name"`
		Passphrase string `json:"passphrase"`
		KeyIndex   uint32 `json:"keyIndex"`
		Plain      string `json:"plain"`
		Encrypted  string `json:"encrypted"`
	} `json:"frames"`
}

func loadKAT(t *testing.T) kat {
	t.Helper()
	b, err := os.ReadFile("testdata/kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var k kat
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Keys) == 0 || len(k.Frames) == 0 {
		t.Fatal("testdata/kat.json holds no vectors")
	}
	return k
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var katCodecs = map[string]Codec{
	"opus": CodecOpus, "vp8key": CodecVP8, "vp8delta": CodecVP8, "vp9": CodecVP9, "h264": CodecH264, "h265": CodecH265,
}

func TestKeyDerivationMatchesLivekitClient(t *testing.T) {
	k := loadKAT(t)
	salt := []byte(k.RatchetSalt)
	for _, v := range k.Keys {
		kdf := map[string]KDF{"PBKDF2": PBKDF2, "HKDF": HKDF}[v.KDF]
		material := unhex(t, v.Material)
		key, err := DeriveKey(kdf, material, salt)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(key); got != v.Key {
			t.Errorf("%s key = %s, livekit-client derives %s", v.KDF, got, v.Key)
		}
		next, err := Ratchet(kdf, material, salt)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(next); got != v.Ratchet {
			t.Errorf("%s ratchet = %s, livekit-client ratchets to %s", v.KDF, got, v.Ratchet)
		}
		nextKey, err := DeriveKey(kdf, next, salt)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(nextKey); got != v.RatchetKey {
			t.Errorf("%s ratcheted key = %s, livekit-client derives %s", v.KDF, got, v.RatchetKey)
		}
	}
}

// canonical is a frame as a receiver sees it: H.264 and H.265 with 4-byte
// start codes.
func canonical(t *testing.T, codec Codec, frame []byte) []byte {
	t.Helper()
	if codec != CodecH264 && codec != CodecH265 {
		return frame
	}
	header, rest, err := canonicalHeader(frame, codec)
	if err != nil {
		t.Fatal(err)
	}
	return append(header, rest...)
}

func TestFramesMatchLivekitClient(t *testing.T) {
	k := loadKAT(t)
	for _, v := range k.Frames {
		t.Run(v.Name, func(t *testing.T) {
			codec := katCodecs[v.Name]
			kp, err := NewExternalKeyProvider()
			if err != nil {
				t.Fatal(err)
			}
			if err := kp.SetKeyFromPassphrase(v.Passphrase, v.KeyIndex); err != nil {
				t.Fatal(err)
			}
			plain, encrypted := unhex(t, v.Plain), unhex(t, v.Encrypted)

			// livekit-client's frame decrypts here.
			d, err := NewFrameDecryptor(kp, "alice", codec, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.DecryptFrame(encrypted)
			if err != nil {
				t.Fatalf("DecryptFrame of livekit-client's frame: %v", err)
			}
			if want := canonical(t, codec, plain); !bytes.Equal(got, want) {
				t.Fatalf("decrypted\n%x\nwant\n%x", got, want)
			}

			// With livekit-client's IV, this package writes its bytes exactly.
			raw := encrypted
			if codec == CodecH264 || codec == CodecH265 {
				raw = unescape(nil, encrypted)
			}
			iv := raw[len(raw)-trailerSize-IVSize : len(raw)-trailerSize]
			e, err := NewFrameEncryptor(kp, "alice", codec)
			if err != nil {
				t.Fatal(err)
			}
			mine, err := e.encrypt(plain, iv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, encrypted) {
				t.Fatalf("encrypted\n%x\nlivekit-client\n%x", mine, encrypted)
			}
		})
	}
}
