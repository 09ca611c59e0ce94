// Package e2ee is end-to-end encryption for LiveKit rooms, in the frame
// format of LiveKit's JavaScript SDK (livekit-client) and its Rust core
// (@livekit/rtc-node, the Python, Swift and Android SDKs), with the
// standard library's crypto only.
//
// Keys: an ExternalKeyProvider holds a key ring of KeyProviderOptions'
// size per participant identity, or one shared by everyone
// (WithSharedKey). A key is set from a passphrase (PBKDF2-SHA256, 100,000
// iterations, salted with the ratchet salt: livekit-client's setKey with
// a string, rtc-node's sharedKey), from raw key material (HKDF-SHA256:
// livekit-client's setKey with an ArrayBuffer), or from material with the
// KDF named. Ratcheting derives the next key from the current one, as
// the other SDKs do; a receiver that fails to decrypt tries up to the
// ratchet window's ratchets ahead before giving up, and a key that fails
// more often in a row than the failure tolerance is no longer tried until
// it is set again.
//
// Frames: AES-128-GCM over the frame after its clear header, with the clear
// header as additional data, followed by the trailer: the 12-byte IV, the
// IV's length and the key index. The clear header is the Opus TOC byte, 10
// bytes of a VP8 keyframe or 3 of a delta frame, nothing for VP9 and AV1,
// and for H.264 and H.265 (Annex-B) everything up to and including the
// first two bytes of the first slice NAL unit, after which the encrypted
// part is escaped against start codes (emulation prevention). An RTP
// receiver reads a slice's parameter set id before decrypting, and that id
// can lie past the clear bytes; the encryptor picks each H.264 and H.265
// frame's IV so that it reads as in the clear frame (browsers drop
// keyframes naming a parameter set they do not have). A frame ending with the room's server-injected-frame trailer is the server's
// own cleartext (ErrServerInjectedFrame), not a failure. A FrameEncryptor
// is the lksdk.FrameTransformer of a sample track (NewTrackEncryptor,
// lksdk.WithFrameTransformer); publish the track with
// TrackPublicationOptions.Encryption set to livekit.Encryption_GCM so that
// subscribers know to decrypt it.
//
// Receiving: a TrackReader reassembles a subscribed track's frames from RTP
// and hands them out decrypted (tracks whose publication is not encrypted
// pass through). A frame that fails is dropped, reported to the
// WithOnDecryptionError and WithOnEncryptionStateChanged callbacks and,
// for video, followed by a keyframe request (at most one per
// DefaultKeyFrameRequestInterval). For receive paths that take an
// lksdk.FrameTransformer, NewTrackDecryptor makes one decryptor and
// TrackDecryptors one per subscribed track: pkg/recorder's
// WithFrameTransformerFunc records a room decrypted with it, and pkg/media's
// WithFrameTransformer decodes encrypted Opus. The server-injected-frame
// trailer of the join response is lksdk.Room.SifTrailer once the room is
// joined; WithSifTrailer and the sifTrailer parameters take it.
//
// Data: EncryptData and DecryptData seal the EncryptedPacket payloads of
// data packets (AES-128-GCM, 12-byte IV, no additional data); a
// DataCryptor does so for a room (lksdk.WithDataCryptor).
//
// A whole room: NewEncryptionOptions, given to lksdk.WithEncryption,
// encrypts the frames of every sample track the room publishes and its
// data, and announces the tracks as encrypted.
package e2ee
