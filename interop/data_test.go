package interop_test

import (
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/interop"
)

// peerData is a user packet as a peer received it.
type peerData struct {
	From     string `json:"from"`
	Payload  []byte `json:"payload"` // base64 in JSON
	Topic    string `json:"topic"`
	Reliable *bool  `json:"reliable"`
}

// goPacket is a user packet as the Go SDK received it.
type goPacket struct {
	data   []byte
	params lksdk.DataReceiveParams
}

// payload returns the i-th test payload: every byte value, then a counter.
func payload(i int) []byte {
	p := make([]byte, 0, 300)
	for b := 0; b < 256; b++ {
		p = append(p, byte(b))
	}
	return append(p, fmt.Sprintf("packet %d", i)...)
}

// TestUserDataBothWays sends reliable user packets with a topic from Go
// to the peer and from the peer to Go; all arrive, in order, intact, with
// their topic and sender. A packet addressed to someone else does not
// arrive.
func TestUserDataBothWays(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		const n = 20
		room := lktest.RoomName(t)
		me := "peer-" + kind
		received := make(chan goPacket, 2*n)
		r := joinGo(t, srv, room, participant{identity: "go-data"}, &lksdk.RoomCallback{
			ParticipantCallback: lksdk.ParticipantCallback{
				OnDataPacket: func(data []byte, params lksdk.DataReceiveParams) {
					received <- goPacket{data: append([]byte(nil), data...), params: params}
				},
			},
		})
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me})
		eventually(t, 20*time.Second, func() bool { return r.GetParticipantByIdentity(me) != nil }, "Go never saw %s", me)

		t.Run("GoToPeer", func(t *testing.T) {
			// Not for the peer: it must not see this one.
			require.NoError(t, r.LocalParticipant.PublishDataPacket(ctxFor(t, 10*time.Second), []byte("not for you"),
				lksdk.WithDataTopic("go-topic"), lksdk.WithDataDestinations("someone-else")))
			for i := 0; i < n; i++ {
				require.NoError(t, r.LocalParticipant.PublishDataPacket(ctxFor(t, 10*time.Second), payload(i),
					lksdk.WithDataTopic("go-topic"), lksdk.WithDataDestinations(me)))
			}
			var got []peerData
			for i := 0; i < n; i++ {
				ev, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "data", nth(i))
				require.NoError(t, err, "packet %d of %d", i, n)
				var d peerData
				require.NoError(t, ev.Decode(&d))
				got = append(got, d)
			}
			for i, d := range got {
				assert.Equal(t, payload(i), d.Payload, "packet %d", i)
				assert.Equal(t, "go-topic", d.Topic, "packet %d", i)
				assert.Equal(t, "go-data", d.From, "packet %d", i)
				if d.Reliable != nil {
					assert.True(t, *d.Reliable, "packet %d came lossy", i)
				}
			}
			assert.Len(t, peer.Events("data"), n, "packets the peer received")
		})

		t.Run("PeerToGo", func(t *testing.T) {
			for i := 0; i < n; i++ {
				require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "sendData", map[string]any{
					"payload": base64.StdEncoding.EncodeToString(payload(i)), "topic": "peer-topic", "reliable": true,
				}, nil))
			}
			for i := 0; i < n; i++ {
				p := recv(t, received, 20*time.Second, fmt.Sprintf("packet %d from the peer", i))
				assert.Equal(t, payload(i), p.data, "packet %d", i)
				assert.Equal(t, "peer-topic", p.params.Topic, "packet %d", i)
				assert.Equal(t, me, p.params.SenderIdentity, "packet %d", i)
				assert.Equal(t, livekit.DataPacket_RELIABLE, p.params.Kind, "packet %d", i)
				if assert.NotNil(t, p.params.Sender, "packet %d", i) {
					assert.Equal(t, me, p.params.Sender.Identity())
				}
			}
		})
	})
}

// nth matches the i-th event of its name (counting from 0).
func nth(i int) func(interop.Event) bool {
	seen := -1
	return func(interop.Event) bool {
		seen++
		return seen == i
	}
}

// TestAttributesBothWays checks that attributes given in the token and
// set afterwards on one side are seen on the other, and that a Go
// participant joined as an agent is seen as one by the peer.
func TestAttributesBothWays(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		me := "peer-" + kind
		type change struct {
			identity string
			changed  map[string]string
		}
		// The peer joins first: the server closes a room that only agents
		// are in.
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me, attributes: map[string]string{"side": kind}})
		var mu sync.Mutex
		var changes []change
		r := joinGo(t, srv, room, participant{
			identity: "go-agent", attributes: map[string]string{"side": "go"}, kind: livekit.ParticipantInfo_AGENT,
		}, &lksdk.RoomCallback{
			ParticipantCallback: lksdk.ParticipantCallback{
				OnAttributesChanged: func(changed map[string]string, p lksdk.Participant) {
					mu.Lock()
					changes = append(changes, change{p.Identity(), changed})
					mu.Unlock()
				},
			},
		})

		t.Run("FromTokens", func(t *testing.T) {
			ev, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "participantConnected", func(e interop.Event) bool {
				var p peerPerson
				return e.Decode(&p) == nil && p.Identity == "go-agent"
			})
			require.NoError(t, err, "the peer never saw the Go participant join")
			var goSeen peerPerson
			require.NoError(t, ev.Decode(&goSeen))
			assert.Equal(t, map[string]string{"side": "go"}, goSeen.Attributes)
			assert.Equal(t, "agent", goSeen.Kind, "the peer sees the Go agent's kind as %q", goSeen.Kind)

			rp := r.GetParticipantByIdentity(me)
			require.NotNil(t, rp, "Go does not list %s after joining", me)
			assert.Equal(t, map[string]string{"side": kind}, rp.Attributes())
			assert.Equal(t, lksdk.ParticipantStandard, rp.Kind())
		})

		t.Run("GoSetsPeerSees", func(t *testing.T) {
			require.NoError(t, r.LocalParticipant.SetAttributes(map[string]string{"mood": "curious"}))
			ev, err := peer.WaitEvent(ctxFor(t, 20*time.Second), "attributesChanged", func(e interop.Event) bool {
				var c struct {
					Identity string
					Changed  map[string]string
				}
				return e.Decode(&c) == nil && c.Identity == "go-agent" && c.Changed["mood"] != ""
			})
			require.NoError(t, err)
			var c struct {
				Changed    map[string]string `json:"changed"`
				Attributes map[string]string `json:"attributes"`
			}
			require.NoError(t, ev.Decode(&c))
			assert.Equal(t, map[string]string{"mood": "curious"}, c.Changed)
			assert.Equal(t, map[string]string{"side": "go", "mood": "curious"}, c.Attributes)
		})

		t.Run("PeerSetsGoSees", func(t *testing.T) {
			require.NoError(t, peer.Call(ctxFor(t, 20*time.Second), "setAttributes", map[string]any{
				"attributes": map[string]string{"color": "blue"},
			}, nil))
			eventually(t, 20*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				for _, c := range changes {
					if c.identity == me && c.changed["color"] == "blue" {
						return true
					}
				}
				return false
			}, "Go never saw the peer's new attribute")
			assert.Equal(t, map[string]string{"side": kind, "color": "blue"}, r.GetParticipantByIdentity(me).Attributes())
		})

		t.Run("PeerListsKinds", func(t *testing.T) {
			var st struct {
				Participants []peerPerson `json:"participants"`
			}
			require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), "state", nil, &st))
			goSeen := findPerson(st.Participants, "go-agent")
			require.NotNil(t, goSeen)
			assert.Equal(t, "agent", goSeen.Kind)
		})
	})
}

func findPerson(ps []peerPerson, identity string) *peerPerson {
	for i := range ps {
		if ps[i].Identity == identity {
			return &ps[i]
		}
	}
	return nil
}

// eventually waits for cond, checking every 50 ms, for at most d.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, d, 50*time.Millisecond, append([]any{msg}, args...)...)
}
