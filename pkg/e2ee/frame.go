package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Codec is a frame's codec, which decides its clear header.
type Codec int

// The codecs frames are encrypted for.
const (
	CodecOpus Codec = iota
	CodecVP8
	CodecVP9
	CodecH264
	CodecH265
	CodecAV1
)

// String names the codec.
func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "Opus"
	case CodecVP8:
		return "VP8"
	case CodecVP9:
		return "VP9"
	case CodecH264:
		return "H.264"
	case CodecH265:
		return "H.265"
	case CodecAV1:
		return "AV1"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// CodecFromMimeType returns the codec of a track's MIME type ("audio/opus",
// "video/VP8", ...; case does not matter).
func CodecFromMimeType(mime string) (Codec, error) {
	switch strings.ToLower(mime) {
	case "audio/opus", "audio/red":
		return CodecOpus, nil
	case "video/vp8":
		return CodecVP8, nil
	case "video/vp9":
		return CodecVP9, nil
	case "video/h264":
		return CodecH264, nil
	case "video/h265":
		return CodecH265, nil
	case "video/av1":
		return CodecAV1, nil
	}
	return 0, fmt.Errorf("e2ee: no frame encryption for %q", mime)
}

const (
	trailerSize = 2 // IV length, key index
	tagSize     = 16
)

var (
	// ErrServerInjectedFrame is returned by DecryptFrame, with the frame
	// minus the trailer, for a frame the server injected in clear (it ends
	// with the room's server-injected-frame trailer): not a failure.
	ErrServerInjectedFrame = errors.New("e2ee: a frame the server injected in clear")
	// ErrMalformedFrame is returned for a frame too short for its clear
	// header and trailer, or whose trailer is not one this package reads.
	ErrMalformedFrame = errors.New("e2ee: malformed encrypted frame")
)

// ClearHeaderLength is how many bytes at the start of frame stay in clear
// for codec: 1 for Opus, 10 for a VP8 keyframe and 3 for a delta frame, 0
// for VP9 and AV1, and for H.264 and H.265 up to and including the first
// two bytes of the first slice NAL unit.
func ClearHeaderLength(codec Codec, frame []byte) (int, error) {
	var n int
	switch codec {
	case CodecOpus:
		n = 1
	case CodecVP8:
		if len(frame) == 0 {
			return 0, ErrMalformedFrame
		}
		n = 3
		if frame[0]&1 == 0 { // the VP8 frame tag's inverse key frame flag
			n = 10
		}
	case CodecVP9, CodecAV1:
		return 0, nil
	case CodecH264, CodecH265:
		return sliceHeaderEnd(frame, codec)
	default:
		return 0, fmt.Errorf("e2ee: %v frames cannot be encrypted", codec)
	}
	if len(frame) < n {
		return 0, ErrMalformedFrame
	}
	return n, nil
}

// FrameEncryptor encrypts the frames of one track with the key of a
// participant (or the shared key) that is current at each frame. It is
// safe for concurrent use.
type FrameEncryptor struct {
	kp       *ExternalKeyProvider
	identity string
	codec    Codec

	mu sync.Mutex
	iv [IVSize]byte // the last IV used; the low 8 bytes count frames
}

// NewFrameEncryptor returns an encryptor of codec frames sent by identity
// ("" for the shared key only).
func NewFrameEncryptor(kp *ExternalKeyProvider, identity string, codec Codec) (*FrameEncryptor, error) {
	if kp == nil {
		return nil, errors.New("e2ee: NewFrameEncryptor needs a key provider")
	}
	if codec < CodecOpus || codec > CodecAV1 {
		return nil, fmt.Errorf("e2ee: %v frames cannot be encrypted", codec)
	}
	e := &FrameEncryptor{kp: kp, identity: identity, codec: codec}
	// A random start: IVs stay unique across encryptors sharing a key.
	if _, err := rand.Read(e.iv[:]); err != nil {
		return nil, err
	}
	return e, nil
}

// Codec is the codec the encryptor was made for.
func (e *FrameEncryptor) Codec() Codec { return e.codec }

func (e *FrameEncryptor) nextIV() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	binary.BigEndian.PutUint64(e.iv[4:], binary.BigEndian.Uint64(e.iv[4:])+1)
	iv := e.iv
	return iv[:]
}

// EncryptFrame returns frame encrypted (a new slice): the clear header,
// the ciphertext and tag, the IV, its length and the key index. H.264 and
// H.265 frames are Annex-B; their header is rewritten as a receiver sees
// it (4-byte start codes; no delimiter or filler NAL units).
func (e *FrameEncryptor) EncryptFrame(frame []byte) ([]byte, error) {
	return e.encrypt(frame, nil)
}

// encrypt encrypts frame with iv, or the next IV when nil.
func (e *FrameEncryptor) encrypt(frame, iv []byte) ([]byte, error) {
	index, ks, err := e.kp.encryptionKeySet(e.identity)
	if err != nil {
		return nil, err
	}
	if e.codec == CodecH264 || e.codec == CodecH265 {
		header, body, err := canonicalHeader(frame, e.codec)
		if err != nil {
			return nil, err
		}
		if iv != nil {
			return sealNALU(ks.aead, index, header, body, iv), nil
		}
		return e.sealSlice(ks, index, header, body), nil
	}
	n, err := ClearHeaderLength(e.codec, frame)
	if err != nil {
		return nil, err
	}
	header, body := frame[:n], frame[n:]
	if iv == nil {
		iv = e.nextIV()
	}
	// Sealed in place after the header: one allocation.
	out := make([]byte, len(header), len(header)+len(body)+tagSize+IVSize+trailerSize)
	copy(out, header)
	out = ks.aead.Seal(out, iv, body, header)
	out = append(out, iv...)
	return append(out, IVSize, index), nil
}

// sealNALU encrypts an Annex-B frame's body after its clear header with
// iv, and escapes what it sealed (ciphertext, IV and trailer) so that it
// holds no start code.
func sealNALU(aead cipher.AEAD, index uint8, header, body, iv []byte) []byte {
	size := len(body) + tagSize + IVSize + trailerSize
	sealed := make([]byte, 0, size)
	sealed = aead.Seal(sealed, iv, body, header)
	sealed = append(sealed, iv...)
	sealed = append(sealed, IVSize, index)
	out := make([]byte, 0, len(header)+size+size/64+4)
	out = append(out, header...)
	return escape(out, sealed)
}

// maxIVTries bounds the IVs sealSlice tries.
const maxIVTries = 1024

// sealSlice encrypts an Annex-B frame with an IV under which the slice
// fields a receiver reads before decrypting (sliceFields) come out as in
// the clear frame. The clear header of LiveKit's frame format ends inside
// the slice header, so part of these fields is ciphertext: with a random
// one, Chromium finds no parameter set of the id it reads in about half of
// the encrypted H.264 keyframes, drops them and asks for another. AES-GCM
// is a counter mode, so the first ciphertext bytes under an IV are the
// clear ones XOR one AES block: each IV is tried at the cost of one block,
// and the frame sealed once. Nothing changes for the receiver: the IV
// travels in the trailer.
func (e *FrameEncryptor) sealSlice(ks *keySet, index uint8, header, body []byte) []byte {
	clear := header[len(header)-2:] // the first two bytes of the slice
	var plain [2 + sliceFieldWindow]byte
	want, bits, check := parseSliceFieldsLen(e.codec, append(append(plain[:0], clear...), body[:min(len(body), sliceFieldWindow)]...))
	if e.codec == CodecH264 && bits <= 8 {
		check = false // the fields end in the clear byte (P slices, mostly)
	}
	var scratch *[2][aes.BlockSize]byte // counter block, keystream
	if check && len(body) >= aes.BlockSize {
		scratch = new([2][aes.BlockSize]byte)
	}
	var view [2 + 2*aes.BlockSize]byte
	for try := 1; ; try++ {
		iv := e.nextIV()
		last := !check || try >= maxIVTries
		if !last && scratch != nil {
			// The first block of the ciphertext under iv, escaped as sent.
			ctr, stream := scratch[0][:], scratch[1][:]
			copy(ctr, iv)
			binary.BigEndian.PutUint32(ctr[IVSize:], 2) // GCM's first counter block for data
			ks.block.Encrypt(stream, ctr)
			for i := range stream {
				stream[i] ^= body[i]
			}
			if f, ok := parseSliceFields(e.codec, escape(append(view[:0], clear...), stream)); ok && f != want {
				continue
			}
		}
		out := sealNALU(ks.aead, index, header, body, iv)
		if last {
			return out
		}
		if f, ok := parseSliceFields(e.codec, out[len(header)-2:]); ok && f == want {
			return out
		}
	}
}

// DecryptorStats counts what a FrameDecryptor did.
type DecryptorStats struct {
	Decrypted      uint64 // frames decrypted
	Failed         uint64 // frames that did not decrypt (wrong key, tampered, malformed)
	MissingKey     uint64 // frames naming a key index with no key
	InvalidKey     uint64 // frames dropped untried: their key failed past the tolerance
	ServerInjected uint64 // frames the server injected in clear
}

// FrameDecryptor decrypts the frames of one track sent by a participant.
// It is safe for concurrent use.
type FrameDecryptor struct {
	kp       *ExternalKeyProvider
	identity string
	codec    Codec
	sif      []byte

	decrypted, failed, missing, invalid, injected atomic.Uint64
}

// NewFrameDecryptor returns a decryptor of codec frames sent by identity.
// sifTrailer is the room's server-injected-frame trailer (from the join
// response; nil if none).
func NewFrameDecryptor(kp *ExternalKeyProvider, identity string, codec Codec, sifTrailer []byte) (*FrameDecryptor, error) {
	if kp == nil {
		return nil, errors.New("e2ee: NewFrameDecryptor needs a key provider")
	}
	if codec < CodecOpus || codec > CodecAV1 {
		return nil, fmt.Errorf("e2ee: %v frames cannot be decrypted", codec)
	}
	return &FrameDecryptor{kp: kp, identity: identity, codec: codec, sif: append([]byte(nil), sifTrailer...)}, nil
}

// Stats returns the decryptor's counts.
func (d *FrameDecryptor) Stats() DecryptorStats {
	return DecryptorStats{
		Decrypted: d.decrypted.Load(), Failed: d.failed.Load(), MissingKey: d.missing.Load(),
		InvalidKey: d.invalid.Load(), ServerInjected: d.injected.Load(),
	}
}

// DecryptFrame returns frame decrypted (a new slice), or an error:
// ErrServerInjectedFrame (with the frame minus the trailer, which may be
// used), ErrMalformedFrame, ErrMissingKey, ErrInvalidKey or
// ErrDecryptionFailed. A frame that fails must be dropped.
func (d *FrameDecryptor) DecryptFrame(frame []byte) ([]byte, error) {
	if len(d.sif) > 0 && bytes.HasSuffix(frame, d.sif) {
		d.injected.Add(1)
		return append([]byte(nil), frame[:len(frame)-len(d.sif)]...), ErrServerInjectedFrame
	}
	out, err := d.decrypt(frame)
	switch {
	case err == nil:
		d.decrypted.Add(1)
	case errors.Is(err, ErrMissingKey):
		d.missing.Add(1)
	case errors.Is(err, ErrInvalidKey):
		d.invalid.Add(1)
	default:
		d.failed.Add(1)
	}
	return out, err
}

func (d *FrameDecryptor) decrypt(frame []byte) ([]byte, error) {
	n, err := ClearHeaderLength(d.codec, frame)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedFrame, err)
	}
	header, sealed := frame[:n], frame[n:]
	if d.codec == CodecH264 || d.codec == CodecH265 {
		if bytes.Contains(sealed, []byte{0, 0, 3}) {
			sealed = unescape(make([]byte, 0, len(sealed)), sealed)
		}
	}
	if len(sealed) < tagSize+IVSize+trailerSize || sealed[len(sealed)-2] != IVSize {
		return nil, ErrMalformedFrame
	}
	index := sealed[len(sealed)-1]
	iv := sealed[len(sealed)-trailerSize-IVSize : len(sealed)-trailerSize]
	ciphertext := sealed[:len(sealed)-trailerSize-IVSize]
	buf := make([]byte, n, n+len(ciphertext))
	copy(buf, header)
	var out []byte
	err = d.kp.decrypt(d.identity, index, func(aead cipher.AEAD) error {
		res, err := aead.Open(buf[:n], iv, ciphertext, header)
		if err == nil {
			out = res
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
