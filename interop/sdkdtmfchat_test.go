package interop_test

import (
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// typedPacket is a typed packet as the Go SDK received it.
type typedPacket struct {
	packet lksdk.DataPacket
	params lksdk.DataReceiveParams
}

// TestDTMFAndChatBothWays sends DTMF tones and chat messages from the Go
// SDK to each peer and from each peer to the Go SDK: each arrives once,
// from its sender, with its code and digit, or its id, text and
// timestamp. None of them reaches the Go SDK's user data callback.
func TestDTMFAndChatBothWays(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		me := "peer-" + kind
		typed := make(chan typedPacket, 16)
		var mu sync.Mutex
		var userData [][]byte
		r := joinGo(t, srv, room, participant{identity: "go-chat"}, &lksdk.RoomCallback{
			OnTypedDataPacket: func(p lksdk.DataPacket, params lksdk.DataReceiveParams) {
				typed <- typedPacket{p, params}
			},
			ParticipantCallback: lksdk.ParticipantCallback{
				OnDataPacket: func(data []byte, _ lksdk.DataReceiveParams) {
					mu.Lock()
					userData = append(userData, append([]byte(nil), data...))
					mu.Unlock()
				},
			},
		})
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me})
		eventually(t, 20*time.Second, func() bool { return r.GetParticipantByIdentity(me) != nil }, "Go never saw %s", me)
		requirePeerSees(t, peer, "go-chat")

		tones := []struct {
			code  uint32
			digit string
		}{{5, "5"}, {11, "#"}, {10, "*"}}

		t.Run("GoToPeer", func(t *testing.T) {
			t.Run("DTMF", func(t *testing.T) {
				for _, tone := range tones {
					require.NoError(t, r.LocalParticipant.SendDTMF(ctxFor(t, 10*time.Second), tone.code, tone.digit))
				}
				for i, tone := range tones {
					ev, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "dtmf", nth(i))
					require.NoError(t, err, "tone %d", i)
					var d struct {
						From  string
						Code  uint32
						Digit string
					}
					require.NoError(t, ev.Decode(&d))
					assert.Equal(t, "go-chat", d.From)
					assert.Equal(t, tone.code, d.Code, "tone %d", i)
					assert.Equal(t, tone.digit, d.Digit, "tone %d", i)
				}
			})
			t.Run("Chat", func(t *testing.T) {
				text := "chat from Go to " + kind + " ✓"
				sent, err := r.LocalParticipant.SendChatMessage(ctxFor(t, 10*time.Second), text)
				require.NoError(t, err)
				require.NotEmpty(t, sent.ID)
				ev, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "chat", fromPeer("go-chat"))
				require.NoError(t, err)
				var c struct {
					ID, Message string
					Timestamp   int64
				}
				require.NoError(t, ev.Decode(&c))
				assert.Equal(t, sent.ID, c.ID)
				assert.Equal(t, text, c.Message)
				assert.Equal(t, sent.Timestamp.UnixMilli(), c.Timestamp)
			})
		})

		t.Run("PeerToGo", func(t *testing.T) {
			t.Run("DTMF", func(t *testing.T) {
				for _, tone := range tones {
					require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "sendDtmf", map[string]any{"code": tone.code, "digit": tone.digit}, nil))
				}
				for i, tone := range tones {
					p := recv(t, typed, 20*time.Second, "a tone from the peer")
					d, ok := p.packet.(*lksdk.SipDTMF)
					require.True(t, ok, "tone %d came as %T", i, p.packet)
					assert.Equal(t, tone.code, d.Code, "tone %d", i)
					assert.Equal(t, tone.digit, d.Digit, "tone %d", i)
					requireFromPeer(t, p.params, me)
				}
			})
			t.Run("Chat", func(t *testing.T) {
				text := "chat from " + kind + " to Go ✓"
				var sent struct {
					ID        string
					Timestamp int64
				}
				require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "sendChat", map[string]any{"text": text}, &sent))
				p := recv(t, typed, 20*time.Second, "a chat message from the peer")
				m, ok := p.packet.(*lksdk.ChatMessage)
				require.True(t, ok, "the chat message came as %T", p.packet)
				assert.Equal(t, sent.ID, m.ID)
				assert.Equal(t, text, m.Message)
				assert.Equal(t, sent.Timestamp, m.Timestamp.UnixMilli())
				assert.Nil(t, m.EditTimestamp)
				assert.False(t, m.Deleted)
				requireFromPeer(t, p.params, me)
			})
		})

		// A last user packet: once it is in, everything the peer sent
		// before it is too, and none of that was user data.
		require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "sendData", map[string]any{"payload": "ZW5k", "topic": "end"}, nil))
		p := recv(t, typed, 20*time.Second, "the peer's last user packet")
		u, ok := p.packet.(*lksdk.UserDataPacket)
		require.True(t, ok, "the last packet came as %T", p.packet)
		assert.Equal(t, "end", string(u.Payload))
		assert.Equal(t, "end", u.Topic)
		eventually(t, 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(userData) > 0
		}, "OnDataPacket never got the user packet")
		mu.Lock()
		assert.Equal(t, [][]byte{[]byte("end")}, userData, "OnDataPacket got more than the user packet")
		mu.Unlock()
		assert.Empty(t, typed, "packets the Go SDK received beyond those sent")
	})
}

// requireFromPeer checks that a packet came from the participant identity.
func requireFromPeer(t *testing.T, params lksdk.DataReceiveParams, identity string) {
	t.Helper()
	assert.Equal(t, identity, params.SenderIdentity)
	if assert.NotNil(t, params.Sender) {
		assert.Equal(t, identity, params.Sender.Identity())
	}
	assert.Equal(t, livekit.DataPacket_RELIABLE, params.Kind)
}
