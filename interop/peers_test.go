package interop_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/interop"
)

// streamReport is a text or byte stream as a peer received it.
type streamReport struct {
	From       string            `json:"from"`
	StreamID   string            `json:"streamId"`
	Topic      string            `json:"topic"`
	Name       string            `json:"name"`
	MimeType   string            `json:"mimeType"`
	TotalSize  *int              `json:"totalSize"`
	Attributes map[string]string `json:"attributes"`
	Size       int               `json:"size"`
	SHA256     string            `json:"sha256"`
	Text       string            `json:"text"`
	Progress   []*float64        `json:"progress"`
}

// TestPeersAmongThemselves runs the peers' RPC, stream, DTMF and chat
// commands between the rtc-node and the browser peer, in both directions.
// The Go SDK's tests of those features use these commands; this test shows
// that each peer implements them as the other SDK understands them.
func TestPeersAmongThemselves(t *testing.T) {
	requireInterop(t)
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	peers := map[string]*interop.Peer{}
	for _, kind := range peerKinds {
		peers[kind] = startPeer(t, kind)
		joinPeer(t, peers[kind], srv, room, participant{identity: "peer-" + kind})
	}
	for _, p := range peers {
		for method, reply := range map[string]map[string]any{
			"echo": {"echo": true},
			"fail": {"error": map[string]any{"code": 2001, "message": "the handler failed", "data": "details"}},
			"slow": {"delayMs": 3000, "payload": "late"},
		} {
			require.NoError(t, p.Call(ctxFor(t, 10*time.Second), "registerRpc", map[string]any{"method": method, "reply": reply}, nil))
		}
		for _, cmd := range []string{"receiveText", "receiveBytes"} {
			require.NoError(t, p.Call(ctxFor(t, 10*time.Second), cmd, map[string]any{"topic": "files"}, nil))
		}
	}
	// Each sees the other before anything is sent.
	for kind, p := range peers {
		other := "peer-" + otherKind(kind)
		require.True(t, waitFor(20*time.Second, func() bool {
			var st struct {
				Participants []peerPerson `json:"participants"`
			}
			return p.Call(ctxFor(t, 10*time.Second), "state", nil, &st) == nil && findPerson(st.Participants, other) != nil
		}), "%s never saw %s", kind, other)
	}

	big := make([]byte, 5<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	bigPath := filepath.Join(t.TempDir(), "big.bin")
	require.NoError(t, os.WriteFile(bigPath, big, 0o600))
	bigSum := sha256.Sum256(big)
	text := strings.Repeat("Grüße aus dem Test, ", 100*1024/21+1)[:100*1024]
	textSum := sha256.Sum256([]byte(text))

	for _, from := range peerKinds {
		to := otherKind(from)
		sender, receiver := peers[from], peers[to]
		dest := "peer-" + to
		t.Run(from+"To"+to, func(t *testing.T) {
			t.Run("RPC", func(t *testing.T) {
				var res struct{ Payload string }
				require.NoError(t, sender.Call(ctxFor(t, 20*time.Second), "performRpc", map[string]any{
					"destination": dest, "method": "echo", "payload": "ping ✓",
				}, &res))
				assert.Equal(t, "ping ✓", res.Payload)

				cases := []struct {
					method, payload string
					timeoutMs       int
					code            int
					msg             string
				}{
					{"fail", "x", 10000, 2001, "the handler failed"},
					{"no-such-method", "x", 10000, 1400, ""},
					{"slow", "x", 1000, 1502, ""},
					{"echo", strings.Repeat("x", 16*1024), 10000, 1402, ""},
				}
				for _, c := range cases {
					err := sender.Call(ctxFor(t, 20*time.Second), "performRpc", map[string]any{
						"destination": dest, "method": c.method, "payload": c.payload, "responseTimeoutMs": c.timeoutMs,
					}, nil)
					var perr *interop.Error
					require.True(t, errors.As(err, &perr), "%s: want an RPC error, got %v", c.method, err)
					assert.Equal(t, c.code, perr.Code, "%s: %v", c.method, perr)
					if c.msg != "" {
						assert.Equal(t, c.msg, perr.Message)
						assert.Equal(t, "details", perr.Data)
					}
				}
			})

			t.Run("TextStream", func(t *testing.T) {
				attrs := map[string]string{"kind": "text", "from": from}
				var sent struct{ StreamID string }
				require.NoError(t, sender.Call(ctxFor(t, 60*time.Second), "sendText", map[string]any{
					"text": text, "topic": "files", "attributes": attrs,
				}, &sent))
				got := waitStream(t, receiver, "textStream", sent.StreamID)
				assert.Equal(t, hex.EncodeToString(textSum[:]), got.SHA256)
				assert.Equal(t, len(text), got.Size)
				assert.Equal(t, "files", got.Topic)
				assert.Equal(t, attrs, got.Attributes)
				assert.Equal(t, "peer-"+from, got.From)
			})

			t.Run("ByteStream", func(t *testing.T) {
				attrs := map[string]string{"kind": "bytes", "from": from}
				before := len(sender.Events("sendProgress"))
				var sent struct {
					StreamID string
					SHA256   string
				}
				require.NoError(t, sender.Call(ctxFor(t, 120*time.Second), "sendFile", map[string]any{
					"path": bigPath, "topic": "files", "attributes": attrs, "name": "big.bin",
				}, &sent))
				assert.Equal(t, hex.EncodeToString(bigSum[:]), sent.SHA256, "what the sender read")
				got := waitStream(t, receiver, "byteStream", sent.StreamID)
				assert.Equal(t, hex.EncodeToString(bigSum[:]), got.SHA256)
				assert.Equal(t, len(big), got.Size)
				assert.Equal(t, "files", got.Topic)
				assert.Equal(t, "big.bin", got.Name)
				assert.Equal(t, attrs, got.Attributes)
				if assert.NotNil(t, got.TotalSize) {
					assert.Equal(t, len(big), *got.TotalSize)
				}
				// Progress: the receiver's rises to 1, the sender's to all bytes.
				require.NotEmpty(t, got.Progress, "the receiver reported no progress")
				if last := got.Progress[len(got.Progress)-1]; assert.NotNil(t, last) {
					assert.InDelta(t, 1.0, *last, 1e-9)
				}
				progress := sender.Events("sendProgress")[before:]
				require.NotEmpty(t, progress)
				var p struct{ Sent, Total int }
				require.NoError(t, progress[len(progress)-1].Decode(&p))
				assert.Equal(t, len(big), p.Sent)
			})

			t.Run("DTMF", func(t *testing.T) {
				require.NoError(t, sender.Call(ctxFor(t, 10*time.Second), "sendDtmf", map[string]any{"code": 5, "digit": "5"}, nil))
				ev, err := receiver.WaitEvent(ctxFor(t, 20*time.Second), "dtmf", fromPeer("peer-"+from))
				require.NoError(t, err)
				var d struct {
					Code  int
					Digit string
				}
				require.NoError(t, ev.Decode(&d))
				assert.Equal(t, 5, d.Code)
				assert.Equal(t, "5", d.Digit)
			})

			t.Run("Chat", func(t *testing.T) {
				msg := "chat from " + from + " ✓"
				var sent struct{ ID string }
				require.NoError(t, sender.Call(ctxFor(t, 10*time.Second), "sendChat", map[string]any{"text": msg}, &sent))
				ev, err := receiver.WaitEvent(ctxFor(t, 20*time.Second), "chat", fromPeer("peer-"+from))
				require.NoError(t, err)
				var c struct {
					ID, Message string
				}
				require.NoError(t, ev.Decode(&c))
				assert.Equal(t, msg, c.Message)
				assert.Equal(t, sent.ID, c.ID)
			})
		})
	}
}

func otherKind(kind string) string {
	if kind == interop.KindNode {
		return interop.KindBrowser
	}
	return interop.KindNode
}

func fromPeer(identity string) func(interop.Event) bool {
	return func(e interop.Event) bool {
		var f struct{ From string }
		return e.Decode(&f) == nil && f.From == identity
	}
}

// waitStream waits for the stream streamID to have been received whole.
func waitStream(t *testing.T, p *interop.Peer, event, streamID string) streamReport {
	t.Helper()
	ev, err := p.WaitEvent(ctxFor(t, 120*time.Second), event, func(e interop.Event) bool {
		var s streamReport
		return e.Decode(&s) == nil && s.StreamID == streamID
	})
	require.NoError(t, err, "%s %s never arrived; stream errors: %v", event, streamID, p.Events("streamError"))
	var s streamReport
	require.NoError(t, ev.Decode(&s))
	return s
}
