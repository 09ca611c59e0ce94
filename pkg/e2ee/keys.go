package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
)

// KDF is how key material becomes an encryption key, and how it ratchets.
type KDF int

const (
	// PBKDF2 is PBKDF2-HMAC-SHA256 with PBKDF2Iterations iterations, salted
	// with the ratchet salt: how the other SDKs derive keys from a
	// passphrase (and rtc-node from its shared key).
	PBKDF2 KDF = iota
	// HKDF is HKDF-SHA256 salted with the ratchet salt and 128 zero bytes of
	// info: how livekit-client derives keys from raw key bytes.
	HKDF
)

// String names the KDF.
func (k KDF) String() string {
	switch k {
	case PBKDF2:
		return "PBKDF2"
	case HKDF:
		return "HKDF"
	}
	return fmt.Sprintf("KDF(%d)", int(k))
}

const (
	// DefaultRatchetSalt is the salt of every key derivation unless
	// WithRatchetSalt says otherwise, the other SDKs' default.
	DefaultRatchetSalt = "LKFrameEncryptionKey"
	// PBKDF2Iterations is the iteration count of PBKDF2 derivations.
	PBKDF2Iterations = 100000
	// KeySize is the AES key's length in bytes (AES-128).
	KeySize = 16
	// IVSize is the AES-GCM IV's length in bytes.
	IVSize = 12
	// ratchetSize is the length of ratcheted key material.
	ratchetSize = 32
)

// hkdfInfo is the info of HKDF derivations: 128 zero bytes.
var hkdfInfo = string(make([]byte, 128))

// derive returns length bytes derived from material by kdf with salt.
func derive(kdf KDF, material, salt []byte, length int) ([]byte, error) {
	switch kdf {
	case PBKDF2:
		return pbkdf2.Key(sha256.New, string(material), salt, PBKDF2Iterations, length)
	case HKDF:
		return hkdf.Key(sha256.New, material, salt, hkdfInfo, length)
	}
	return nil, fmt.Errorf("e2ee: unknown %v", kdf)
}

// DeriveKey returns the AES-128 key that material yields under kdf with
// salt: what the key provider encrypts with once the material is set.
func DeriveKey(kdf KDF, material, salt []byte) ([]byte, error) {
	if len(material) == 0 {
		return nil, ErrEmptyKey
	}
	return derive(kdf, material, salt, KeySize)
}

// Ratchet returns the key material that follows material: 32 bytes derived
// from it by kdf with salt. The next key is DeriveKey of the result with
// the same kdf.
func Ratchet(kdf KDF, material, salt []byte) ([]byte, error) {
	if len(material) == 0 {
		return nil, ErrEmptyKey
	}
	return derive(kdf, material, salt, ratchetSize)
}

// keySet is one key of a ring: its material and the cipher of the key
// derived from it.
type keySet struct {
	kdf      KDF
	material []byte
	key      []byte
	aead     cipher.AEAD
	block    cipher.Block // the AES cipher under aead, to predict its keystream
}

func newKeySet(kdf KDF, material, salt []byte) (*keySet, error) {
	key, err := DeriveKey(kdf, material, salt)
	if err != nil {
		return nil, err
	}
	return newKeySetFromKey(kdf, material, key)
}

func newKeySetFromKey(kdf KDF, material, key []byte) (*keySet, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keySet{kdf: kdf, material: material, key: key, aead: aead, block: block}, nil
}

// ratchet returns the key set that follows ks.
func (ks *keySet) ratchet(salt []byte) (*keySet, error) {
	next, err := Ratchet(ks.kdf, ks.material, salt)
	if err != nil {
		return nil, err
	}
	return newKeySet(ks.kdf, next, salt)
}
