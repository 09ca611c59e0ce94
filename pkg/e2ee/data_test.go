package e2ee

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/livekit"
)

func TestDataPacketsRoundTrip(t *testing.T) {
	kp := provider(t, "room passphrase")
	values := []*livekit.DataPacket{
		{Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte("hello"), Topic: proto.String("chat")}}},
		{Value: &livekit.DataPacket_ChatMessage{ChatMessage: &livekit.ChatMessage{Id: "1", Message: "hi"}}},
		{Value: &livekit.DataPacket_RpcRequest{RpcRequest: &livekit.RpcRequest{Id: "r", Method: "m", Payload: "p"}}},
		{Value: &livekit.DataPacket_RpcAck{RpcAck: &livekit.RpcAck{RequestId: "r"}}},
		{Value: &livekit.DataPacket_RpcResponse{RpcResponse: &livekit.RpcResponse{RequestId: "r"}}},
		{Value: &livekit.DataPacket_StreamHeader{StreamHeader: &livekit.DataStream_Header{StreamId: "s", Topic: "t"}}},
		{Value: &livekit.DataPacket_StreamChunk{StreamChunk: &livekit.DataStream_Chunk{StreamId: "s", Content: []byte("abc")}}},
		{Value: &livekit.DataPacket_StreamTrailer{StreamTrailer: &livekit.DataStream_Trailer{StreamId: "s"}}},
	}
	for _, want := range values {
		pkt := proto.Clone(want).(*livekit.DataPacket)
		ok, err := EncryptPacket(kp, "alice", pkt)
		if err != nil || !ok {
			t.Fatalf("%T: %v %v", want.Value, ok, err)
		}
		ep := pkt.GetEncryptedPacket()
		if ep == nil || ep.EncryptionType != livekit.Encryption_GCM || len(ep.Iv) != IVSize {
			t.Fatalf("%T: not sealed as an EncryptedPacket: %v", want.Value, pkt)
		}
		// A sender may leave the type unset (livekit-client does).
		ep.EncryptionType = livekit.Encryption_NONE
		wire, _ := proto.Marshal(pkt)
		got := &livekit.DataPacket{}
		if err := proto.Unmarshal(wire, got); err != nil {
			t.Fatal(err)
		}
		if err := DecryptPacket(kp, "alice", got); err != nil {
			t.Fatalf("%T: %v", want.Value, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("round trip: %v, want %v", got, want)
		}
	}

	// Values the protocol leaves in clear stay so.
	dtmf := &livekit.DataPacket{Value: &livekit.DataPacket_SipDtmf{SipDtmf: &livekit.SipDTMF{Code: 1}}}
	if ok, err := EncryptPacket(kp, "alice", dtmf); ok || err != nil || dtmf.GetSipDtmf() == nil {
		t.Errorf("DTMF: %v %v", ok, err)
	}
}

func TestTamperedDataIsRefused(t *testing.T) {
	kp := provider(t, "room passphrase", WithFailureTolerance(-1))
	pkt := &livekit.DataPacket{Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte("secret")}}}
	if _, err := EncryptPacket(kp, "", pkt); err != nil {
		t.Fatal(err)
	}
	for what, mutate := range map[string]func(*livekit.EncryptedPacket){
		"value":     func(e *livekit.EncryptedPacket) { e.EncryptedValue[0] ^= 1 },
		"iv":        func(e *livekit.EncryptedPacket) { e.Iv[3] ^= 1 },
		"iv length": func(e *livekit.EncryptedPacket) { e.Iv = e.Iv[:8] },
		"key index": func(e *livekit.EncryptedPacket) { e.KeyIndex = 300 },
		"type":      func(e *livekit.EncryptedPacket) { e.EncryptionType = livekit.Encryption_CUSTOM },
	} {
		bad := proto.Clone(pkt).(*livekit.DataPacket)
		mutate(bad.GetEncryptedPacket())
		if err := DecryptPacket(kp, "", bad); err == nil {
			t.Errorf("%s tampered: decrypted", what)
		}
	}
	other := provider(t, "another passphrase")
	if err := DecryptPacket(other, "", proto.Clone(pkt).(*livekit.DataPacket)); !errors.Is(err, ErrDecryptionFailed) {
		t.Errorf("wrong key: %v", err)
	}
}
