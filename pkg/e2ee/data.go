package e2ee

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/livekit"
)

// EncryptData seals plaintext with the key identity ("" for the shared
// key) encrypts with, under a random IV, without additional data: the
// fields of an EncryptedPacket.
func (p *ExternalKeyProvider) EncryptData(identity string, plaintext []byte) (iv []byte, keyIndex uint32, ciphertext []byte, err error) {
	index, aead, err := p.encryptionKey(identity)
	if err != nil {
		return nil, 0, nil, err
	}
	iv = make([]byte, IVSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, 0, nil, err
	}
	return iv, uint32(index), aead.Seal(nil, iv, plaintext, nil), nil
}

// DecryptData opens what EncryptData sealed, sent by identity, with the
// key at keyIndex (or a ratchet of it within the window).
func (p *ExternalKeyProvider) DecryptData(identity string, iv []byte, keyIndex uint32, ciphertext []byte) ([]byte, error) {
	if len(iv) != IVSize || len(ciphertext) < tagSize || keyIndex > 255 {
		return nil, ErrMalformedFrame
	}
	var out []byte
	err := p.decrypt(identity, uint8(keyIndex), func(aead cipher.AEAD) error {
		res, err := aead.Open(nil, iv, ciphertext, nil)
		if err == nil {
			out = res
		}
		return err
	})
	return out, err
}

// EncryptPacket encrypts the value of pkt in place when it is one the
// protocol encrypts (user data, chat, RPC request, ack and response, and
// data stream header, chunk and trailer): pkt then carries an
// EncryptedPacket. It reports whether it did; other values (DTMF,
// transcriptions, metrics, ...) are left in clear.
func EncryptPacket(p *ExternalKeyProvider, identity string, pkt *livekit.DataPacket) (bool, error) {
	payload := &livekit.EncryptedPacketPayload{}
	switch v := pkt.Value.(type) {
	case *livekit.DataPacket_User:
		payload.Value = &livekit.EncryptedPacketPayload_User{User: v.User}
	case *livekit.DataPacket_ChatMessage:
		payload.Value = &livekit.EncryptedPacketPayload_ChatMessage{ChatMessage: v.ChatMessage}
	case *livekit.DataPacket_RpcRequest:
		payload.Value = &livekit.EncryptedPacketPayload_RpcRequest{RpcRequest: v.RpcRequest}
	case *livekit.DataPacket_RpcAck:
		payload.Value = &livekit.EncryptedPacketPayload_RpcAck{RpcAck: v.RpcAck}
	case *livekit.DataPacket_RpcResponse:
		payload.Value = &livekit.EncryptedPacketPayload_RpcResponse{RpcResponse: v.RpcResponse}
	case *livekit.DataPacket_StreamHeader:
		payload.Value = &livekit.EncryptedPacketPayload_StreamHeader{StreamHeader: v.StreamHeader}
	case *livekit.DataPacket_StreamChunk:
		payload.Value = &livekit.EncryptedPacketPayload_StreamChunk{StreamChunk: v.StreamChunk}
	case *livekit.DataPacket_StreamTrailer:
		payload.Value = &livekit.EncryptedPacketPayload_StreamTrailer{StreamTrailer: v.StreamTrailer}
	default:
		return false, nil
	}
	plain, err := proto.Marshal(payload)
	if err != nil {
		return false, err
	}
	iv, index, sealed, err := p.EncryptData(identity, plain)
	if err != nil {
		return false, err
	}
	pkt.Value = &livekit.DataPacket_EncryptedPacket{EncryptedPacket: &livekit.EncryptedPacket{
		EncryptionType: livekit.Encryption_GCM, Iv: iv, KeyIndex: index, EncryptedValue: sealed,
	}}
	return true, nil
}

// ErrUnknownEncryption is returned for an EncryptedPacket of an encryption
// type other than GCM (or unset, which senders may leave it).
var ErrUnknownEncryption = errors.New("e2ee: unknown encryption type")

// DecryptPacket replaces the EncryptedPacket of pkt, sent by identity,
// with the value it carries. A packet without one is left as it is.
func DecryptPacket(p *ExternalKeyProvider, identity string, pkt *livekit.DataPacket) error {
	ep := pkt.GetEncryptedPacket()
	if ep == nil {
		return nil
	}
	if t := ep.GetEncryptionType(); t != livekit.Encryption_GCM && t != livekit.Encryption_NONE {
		return fmt.Errorf("%w: %v", ErrUnknownEncryption, t)
	}
	plain, err := p.DecryptData(identity, ep.GetIv(), ep.GetKeyIndex(), ep.GetEncryptedValue())
	if err != nil {
		return err
	}
	payload := &livekit.EncryptedPacketPayload{}
	if err := proto.Unmarshal(plain, payload); err != nil {
		return fmt.Errorf("e2ee: decrypted packet: %w", err)
	}
	switch v := payload.Value.(type) {
	case *livekit.EncryptedPacketPayload_User:
		pkt.Value = &livekit.DataPacket_User{User: v.User}
	case *livekit.EncryptedPacketPayload_ChatMessage:
		pkt.Value = &livekit.DataPacket_ChatMessage{ChatMessage: v.ChatMessage}
	case *livekit.EncryptedPacketPayload_RpcRequest:
		pkt.Value = &livekit.DataPacket_RpcRequest{RpcRequest: v.RpcRequest}
	case *livekit.EncryptedPacketPayload_RpcAck:
		pkt.Value = &livekit.DataPacket_RpcAck{RpcAck: v.RpcAck}
	case *livekit.EncryptedPacketPayload_RpcResponse:
		pkt.Value = &livekit.DataPacket_RpcResponse{RpcResponse: v.RpcResponse}
	case *livekit.EncryptedPacketPayload_StreamHeader:
		pkt.Value = &livekit.DataPacket_StreamHeader{StreamHeader: v.StreamHeader}
	case *livekit.EncryptedPacketPayload_StreamChunk:
		pkt.Value = &livekit.DataPacket_StreamChunk{StreamChunk: v.StreamChunk}
	case *livekit.EncryptedPacketPayload_StreamTrailer:
		pkt.Value = &livekit.DataPacket_StreamTrailer{StreamTrailer: v.StreamTrailer}
	default:
		return fmt.Errorf("e2ee: decrypted packet carries no value this SDK reads")
	}
	return nil
}
