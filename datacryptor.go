package lksdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// DataCryptor encrypts and decrypts the data packets of a room end to end
// (pkg/e2ee has one). It is called from several goroutines at once.
type DataCryptor interface {
	// EncryptPacket replaces the value of pkt, sent by senderIdentity, with
	// an EncryptedPacket carrying it, when the value is one the protocol
	// encrypts (user data, chat, RPC request, ack and response, data
	// stream header, chunk and trailer), and reports whether it did. Other
	// values are left in clear.
	EncryptPacket(senderIdentity string, pkt *livekit.DataPacket) (bool, error)
	// DecryptPacket replaces the EncryptedPacket of pkt, sent by
	// senderIdentity, with the value it carries; a packet without one is
	// left as it is.
	DecryptPacket(senderIdentity string, pkt *livekit.DataPacket) error
}

// WithDataCryptor makes the room encrypt every data packet it sends whose
// kind the protocol encrypts (see DataCryptor), and decrypt every encrypted
// one it receives before it is dispatched. A received packet that does not
// decrypt is dropped, counted (RoomStats.DataDecryptFailed) and logged at
// most once per 10 s.
func WithDataCryptor(c DataCryptor) ConnectOption {
	return func(p *ConnectParams) { p.engine.dataCryptor = c }
}

// ErrDataEncryption wraps the error of a DataCryptor that could not encrypt
// a packet: nothing was sent.
var ErrDataEncryption = errors.New("lksdk: could not encrypt data packet")

// publishData sends dp, encrypted when the room has a DataCryptor. The
// caller's packet is left as it gave it.
func (p *LocalParticipant) publishData(ctx context.Context, dp *livekit.DataPacket) error {
	if p.engine == nil {
		return ErrNotConnected
	}
	c := p.engine.opts.dataCryptor
	if c == nil {
		return p.engine.publishData(ctx, dp)
	}
	value, destinations := dp.Value, dp.DestinationIdentities
	defer func() { dp.Value, dp.DestinationIdentities = value, destinations }()
	if user := dp.GetUser(); user != nil && len(dp.DestinationIdentities) == 0 {
		// The server routes by what it can read: destinations inside the
		// encrypted value go outside it.
		dp.DestinationIdentities = p.destinationIdentities(user)
	}
	if _, err := c.EncryptPacket(p.Identity(), dp); err != nil {
		return fmt.Errorf("%w: %w", ErrDataEncryption, err)
	}
	return p.engine.publishData(ctx, dp)
}

// destinationIdentities are the identities a user packet is addressed to,
// its destination SIDs looked up in the room.
func (p *LocalParticipant) destinationIdentities(user *livekit.UserPacket) []string {
	if len(user.DestinationIdentities) > 0 || len(user.DestinationSids) == 0 {
		return user.DestinationIdentities
	}
	out := make([]string, 0, len(user.DestinationSids))
	for _, sid := range user.DestinationSids {
		if rp := p.room.GetParticipantBySID(sid); rp != nil {
			out = append(out, rp.Identity())
		}
	}
	return out
}

// decryptData decrypts dp when it carries an EncryptedPacket, and reports
// whether dp may be dispatched. Without a DataCryptor, an encrypted packet
// is dropped and counted (RoomStats.DataEncryptedNoCryptor).
func (e *RTCEngine) decryptData(dp *livekit.DataPacket) bool {
	if dp.GetEncryptedPacket() == nil {
		return true
	}
	in := e.inbound
	c := e.opts.dataCryptor
	if c == nil {
		in.noCryptor.Add(1)
		if ok, more := in.decryptLog.allow(); ok {
			e.logger().Info("dropping encrypted data packet: the room has no DataCryptor (WithDataCryptor)",
				"sender", dp.ParticipantIdentity, "dropped", in.noCryptor.Load(), "alsoSince", more)
		}
		return false
	}
	if err := c.DecryptPacket(dp.ParticipantIdentity, dp); err != nil {
		in.decryptFailed.Add(1)
		if ok, more := in.decryptLog.allow(); ok {
			e.logger().Info("dropping data packet that did not decrypt", "sender", dp.ParticipantIdentity,
				"error", err, "failed", in.decryptFailed.Load(), "alsoSince", more)
		}
		return false
	}
	return true
}
