package e2ee

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
)

var (
	// ErrEmptyKey is returned for an empty passphrase or key material.
	ErrEmptyKey = errors.New("e2ee: empty key")
	// ErrMissingKey is returned when no key is set at the index a frame or
	// packet names (or, to encrypt, at the current index).
	ErrMissingKey = errors.New("e2ee: no key at that index")
	// ErrInvalidKey is returned, without trying to decrypt, for a key that
	// failed more often in a row than the failure tolerance; setting the
	// key again makes it valid.
	ErrInvalidKey = errors.New("e2ee: the key at that index failed too often")
	// ErrDecryptionFailed is returned when a frame or packet does not
	// decrypt with its key nor any of the ratchet window's ratchets of it:
	// a wrong key, or tampered data.
	ErrDecryptionFailed = errors.New("e2ee: decryption failed")
)

// Defaults of the key provider's options, the other SDKs' defaults.
const (
	DefaultRatchetWindowSize = 8
	DefaultFailureTolerance  = 10
	DefaultKeyRingSize       = 16
)

// KeyProviderOption configures NewExternalKeyProvider.
type KeyProviderOption func(*keyProviderOptions)

type keyProviderOptions struct {
	salt      []byte
	window    int
	tolerance int
	ringSize  int
	err       error
}

// WithRatchetSalt sets the salt of every derivation (DefaultRatchetSalt
// unless set). Every participant of a room must use the same.
func WithRatchetSalt(salt []byte) KeyProviderOption {
	return func(o *keyProviderOptions) { o.salt = append([]byte(nil), salt...) }
}

// WithRatchetWindowSize sets how many ratchets ahead of its key a receiver
// tries when a frame does not decrypt (0: none).
func WithRatchetWindowSize(n int) KeyProviderOption {
	return func(o *keyProviderOptions) {
		if n < 0 {
			o.err = fmt.Errorf("e2ee: ratchet window %d: 0 or more", n)
		}
		o.window = n
	}
}

// WithFailureTolerance sets how many frames in a row may fail to decrypt
// with a key before it is no longer tried (negative: always tried).
func WithFailureTolerance(n int) KeyProviderOption {
	return func(o *keyProviderOptions) { o.tolerance = n }
}

// WithKeyRingSize sets how many keys each ring holds, 1 to 256; key
// indexes are taken modulo it.
func WithKeyRingSize(n int) KeyProviderOption {
	return func(o *keyProviderOptions) {
		if n < 1 || n > 256 {
			o.err = fmt.Errorf("e2ee: key ring size %d: 1 to 256", n)
		}
		o.ringSize = n
	}
}

// ExternalKeyProvider holds the keys of a room: one ring shared by every
// participant, and rings of participants' own keys, each of the key ring
// size. A participant with a ring of its own encrypts and is decrypted
// with it; one without uses the shared ring. Its methods are safe for
// concurrent use.
type ExternalKeyProvider struct {
	opts keyProviderOptions

	mu     sync.Mutex
	shared *ring
	rings  map[string]*ring
}

// NewExternalKeyProvider returns a key provider without keys.
func NewExternalKeyProvider(opts ...KeyProviderOption) (*ExternalKeyProvider, error) {
	o := keyProviderOptions{
		salt:      []byte(DefaultRatchetSalt),
		window:    DefaultRatchetWindowSize,
		tolerance: DefaultFailureTolerance,
		ringSize:  DefaultKeyRingSize,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	p := &ExternalKeyProvider{opts: o, rings: map[string]*ring{}}
	p.shared = p.newRing()
	return p, nil
}

// RatchetSalt is the salt the provider derives keys with.
func (p *ExternalKeyProvider) RatchetSalt() []byte { return append([]byte(nil), p.opts.salt...) }

func (p *ExternalKeyProvider) newRing() *ring {
	return &ring{keys: make([]*keySet, p.opts.ringSize), failures: make([]int, p.opts.ringSize)}
}

// ring returns identity's ring, or the shared one ("" or no ring of its
// own); create makes the participant's ring if it has none.
func (p *ExternalKeyProvider) ring(identity string, create bool) *ring {
	p.mu.Lock()
	defer p.mu.Unlock()
	if identity == "" {
		return p.shared
	}
	r, ok := p.rings[identity]
	if !ok {
		if !create {
			return p.shared
		}
		r = p.newRing()
		p.rings[identity] = r
	}
	return r
}

// SetKeyFromPassphrase sets the shared key at index from a passphrase
// (PBKDF2) and makes it the current one.
func (p *ExternalKeyProvider) SetKeyFromPassphrase(passphrase string, index uint32) error {
	return p.SetKey([]byte(passphrase), PBKDF2, index)
}

// SetRawKey sets the shared key at index from raw key material (HKDF, as
// livekit-client's setKey with an ArrayBuffer) and makes it the current
// one.
func (p *ExternalKeyProvider) SetRawKey(material []byte, index uint32) error {
	return p.SetKey(material, HKDF, index)
}

// SetKey sets the shared key at index from material derived with kdf and
// makes it the current one. rtc-node's sharedKey bytes are PBKDF2
// material.
func (p *ExternalKeyProvider) SetKey(material []byte, kdf KDF, index uint32) error {
	return p.SetParticipantKey("", material, kdf, index)
}

// SetParticipantKey sets identity's own key at index ("" for the shared
// ring) and makes it the current one of that ring.
func (p *ExternalKeyProvider) SetParticipantKey(identity string, material []byte, kdf KDF, index uint32) error {
	ks, err := newKeySet(kdf, append([]byte(nil), material...), p.opts.salt)
	if err != nil {
		return err
	}
	p.ring(identity, true).set(int(index%uint32(p.opts.ringSize)), ks, true)
	return nil
}

// SetParticipantKeyFromPassphrase is SetParticipantKey with a passphrase.
func (p *ExternalKeyProvider) SetParticipantKeyFromPassphrase(identity, passphrase string, index uint32) error {
	return p.SetParticipantKey(identity, []byte(passphrase), PBKDF2, index)
}

// RatchetKey replaces identity's key at index ("" for the shared ring)
// with its ratchet, makes it the current one, and returns the new key
// material. Receivers follow by themselves: a frame that does not decrypt
// is tried with the ratchets of the key within the ratchet window.
func (p *ExternalKeyProvider) RatchetKey(identity string, index uint32) ([]byte, error) {
	r := p.ring(identity, false)
	i := int(index % uint32(p.opts.ringSize))
	ks := r.get(i)
	if ks == nil {
		return nil, ErrMissingKey
	}
	next, err := r.ahead(i, ks, 1, p.opts.salt)
	if err != nil {
		return nil, err
	}
	r.set(i, next, true)
	return append([]byte(nil), next.material...), nil
}

// SetCurrentKeyIndex makes index the key identity ("" for the shared
// ring) encrypts with.
func (p *ExternalKeyProvider) SetCurrentKeyIndex(identity string, index uint32) {
	r := p.ring(identity, false)
	r.mu.Lock()
	r.current = int(index % uint32(p.opts.ringSize))
	r.mu.Unlock()
}

// CurrentKeyIndex is the index of the shared key encrypted with.
func (p *ExternalKeyProvider) CurrentKeyIndex() uint32 {
	r := p.shared
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint32(r.current)
}

// GetKey returns the AES key derived for the shared key at index.
func (p *ExternalKeyProvider) GetKey(index uint32) ([]byte, error) {
	ks := p.shared.get(int(index % uint32(p.opts.ringSize)))
	if ks == nil {
		return nil, ErrMissingKey
	}
	return append([]byte(nil), ks.key...), nil
}

// HasKey reports whether identity (or, without a ring of its own, the
// shared ring) has a key to encrypt with.
func (p *ExternalKeyProvider) HasKey(identity string) bool {
	_, ks := p.ring(identity, false).currentKey()
	return ks != nil
}

// encryptionKey is the key identity encrypts with, and its index.
func (p *ExternalKeyProvider) encryptionKey(identity string) (uint8, cipher.AEAD, error) {
	i, ks, err := p.encryptionKeySet(identity)
	if err != nil {
		return 0, nil, err
	}
	return i, ks.aead, nil
}

// encryptionKeySet is the key set identity encrypts with, and its index.
func (p *ExternalKeyProvider) encryptionKeySet(identity string) (uint8, *keySet, error) {
	i, ks := p.ring(identity, false).currentKey()
	if ks == nil {
		return 0, nil, ErrMissingKey
	}
	return uint8(i), ks, nil
}

// decrypt opens data sent by identity with the key at index: open is
// tried with that key and then, if it fails, with each ratchet of it
// within the window; a ratchet that works replaces the key. Failures
// count towards the tolerance; a success resets the count.
func (p *ExternalKeyProvider) decrypt(identity string, index uint8, open func(cipher.AEAD) error) error {
	r := p.ring(identity, false)
	i := int(index) % p.opts.ringSize
	r.mu.Lock()
	ks := r.keys[i]
	invalid := p.opts.tolerance >= 0 && r.failures[i] > p.opts.tolerance
	r.mu.Unlock()
	if ks == nil {
		r.fail(i)
		return ErrMissingKey
	}
	if invalid {
		return ErrInvalidKey
	}
	if open(ks.aead) == nil {
		r.succeed(i)
		return nil
	}
	for n := 1; n <= p.opts.window; n++ {
		next, err := r.ahead(i, ks, n, p.opts.salt)
		if err != nil {
			return err
		}
		if open(next.aead) == nil {
			r.replace(i, ks, next)
			return nil
		}
	}
	if p.opts.tolerance >= 0 {
		r.fail(i)
	}
	return ErrDecryptionFailed
}

// ring is one participant's keys (or the shared ones).
type ring struct {
	mu       sync.Mutex
	keys     []*keySet
	failures []int
	current  int
	// chain caches the ratchets of keys[chainIndex] (chain[0] is its
	// first ratchet), so that a run of frames that fail to decrypt does not
	// derive them again for each.
	chain      []*keySet
	chainOf    *keySet
	chainIndex int
}

func (r *ring) get(i int) *keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[i]
}

func (r *ring) currentKey() (int, *keySet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current, r.keys[r.current]
}

func (r *ring) set(i int, ks *keySet, makeCurrent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[i] = ks
	r.failures[i] = 0
	if makeCurrent {
		r.current = i
	}
}

// replace puts next at i if ks is still there (another frame may have
// replaced it already), making it current, as a key that works is.
func (r *ring) replace(i int, ks, next *keySet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys[i] == ks {
		r.keys[i] = next
		r.current = i
	}
	r.failures[i] = 0
}

func (r *ring) fail(i int) {
	r.mu.Lock()
	r.failures[i]++
	r.mu.Unlock()
}

func (r *ring) succeed(i int) {
	r.mu.Lock()
	r.failures[i] = 0
	r.mu.Unlock()
}

// ahead returns the n-th ratchet of ks, the key at i, from the cache.
func (r *ring) ahead(i int, ks *keySet, n int, salt []byte) (*keySet, error) {
	r.mu.Lock()
	if r.chainOf != ks || r.chainIndex != i {
		r.chain, r.chainOf, r.chainIndex = nil, ks, i
	}
	if n <= len(r.chain) {
		next := r.chain[n-1]
		r.mu.Unlock()
		return next, nil
	}
	last := ks
	if len(r.chain) > 0 {
		last = r.chain[len(r.chain)-1]
	}
	have := len(r.chain)
	r.mu.Unlock()
	// Derived outside the lock: PBKDF2 takes tens of milliseconds.
	var derived []*keySet
	for range n - have {
		next, err := last.ratchet(salt)
		if err != nil {
			return nil, err
		}
		derived = append(derived, next)
		last = next
	}
	r.mu.Lock()
	if r.chainOf == ks && len(r.chain) == have {
		r.chain = append(r.chain, derived...)
	}
	r.mu.Unlock()
	return last, nil
}
