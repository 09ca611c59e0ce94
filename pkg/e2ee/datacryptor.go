package e2ee

import (
	"errors"

	"github.com/livekit/protocol/livekit"

	lksdk "github.com/livekit/server-sdk-go"
)

// DataCryptor encrypts and decrypts a room's data packets with a key
// provider's keys: give it to lksdk.WithDataCryptor. It is safe for
// concurrent use.
type DataCryptor struct {
	kp *ExternalKeyProvider
}

var _ lksdk.DataCryptor = (*DataCryptor)(nil)

// NewDataCryptor returns a DataCryptor using kp's keys: a sender's own
// (SetParticipantKey) or the shared ones.
func NewDataCryptor(kp *ExternalKeyProvider) (*DataCryptor, error) {
	if kp == nil {
		return nil, errors.New("e2ee: NewDataCryptor needs a key provider")
	}
	return &DataCryptor{kp: kp}, nil
}

// EncryptPacket is EncryptPacket with the cryptor's keys.
func (c *DataCryptor) EncryptPacket(senderIdentity string, pkt *livekit.DataPacket) (bool, error) {
	return EncryptPacket(c.kp, senderIdentity, pkt)
}

// DecryptPacket is DecryptPacket with the cryptor's keys.
func (c *DataCryptor) DecryptPacket(senderIdentity string, pkt *livekit.DataPacket) error {
	return DecryptPacket(c.kp, senderIdentity, pkt)
}
