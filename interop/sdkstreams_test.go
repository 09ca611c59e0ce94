package interop_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// streamText returns n bytes of UTF-8 text of one- to four-byte
// characters, laid out so that most cuts every StreamChunkSize bytes fall
// inside a character: a sender must cut its chunks at character
// boundaries, as receivers may decode each chunk on its own.
func streamText(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString("a😀✓é ")
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + strings.Repeat(".", n-len(s))
}

// cutsInsideCharacters counts the cuts every StreamChunkSize bytes of s
// that fall inside a character.
func cutsInsideCharacters(s string) int {
	n := 0
	for i := lksdk.StreamChunkSize; i < len(s); i += lksdk.StreamChunkSize {
		if !utf8.RuneStart(s[i]) {
			n++
		}
	}
	return n
}

// goStream is a stream as the Go SDK's handler received it.
type goStream struct {
	from     string
	info     lksdk.StreamInfo
	name     *string
	size     int
	sha256   string
	err      error
	progress []float64
}

// TestStreamsBothWays sends a 100 KiB text stream and a 5 MiB byte stream
// from the Go SDK to each peer and from each peer to the Go SDK. Each
// arrives whole (its SHA-256 compared), with its topic, attributes, and for
// the file its name, mime type and size; the receiver reports its progress
// up to the whole, and the Go sender its own.
func TestStreamsBothWays(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		room := lktest.RoomName(t)
		me := "peer-" + kind
		r := joinGo(t, srv, room, participant{identity: "go-streams"}, nil)
		received := receiveGoStreams(t, r, "files")
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: me})
		for _, cmd := range []string{"receiveText", "receiveBytes"} {
			require.NoError(t, peer.Call(ctxFor(t, 10*time.Second), cmd, map[string]any{"topic": "files"}, nil))
		}
		eventually(t, 20*time.Second, func() bool { return r.GetParticipantByIdentity(me) != nil }, "Go never saw %s", me)
		requirePeerSees(t, peer, "go-streams")

		text := streamText(100 << 10)
		require.Positive(t, cutsInsideCharacters(text), "the text does not test chunking at character boundaries")
		textSum := sha256.Sum256([]byte(text))
		big := make([]byte, 5<<20)
		_, err := rand.Read(big)
		require.NoError(t, err)
		bigPath := filepath.Join(t.TempDir(), "big.bin")
		require.NoError(t, os.WriteFile(bigPath, big, 0o600))
		bigSum := sha256.Sum256(big)

		t.Run("GoToPeer", func(t *testing.T) {
			t.Run("Text", func(t *testing.T) {
				attrs := map[string]string{"kind": "text", "from": "go"}
				var sent []float64
				progress := func(p float64) { sent = append(sent, p) }
				info, err := r.LocalParticipant.SendTextWithContext(ctxFor(t, 60*time.Second), text, lksdk.StreamTextOptions{
					Topic: "files", Attributes: attrs, DestinationIdentities: []string{me}, OnProgress: &progress,
				})
				require.NoError(t, err)
				requireRising(t, sent, "the Go sender's progress")
				got := waitStream(t, peer, "textStream", info.Id)
				assert.Equal(t, hex.EncodeToString(textSum[:]), got.SHA256)
				assert.Equal(t, len(text), got.Size)
				assert.Equal(t, "files", got.Topic)
				assert.Equal(t, attrs, got.Attributes)
				assert.Equal(t, "go-streams", got.From)
				requirePeerProgress(t, got)
			})
			t.Run("File", func(t *testing.T) {
				attrs := map[string]string{"kind": "bytes", "from": "go"}
				var sent []float64
				progress := func(p float64) { sent = append(sent, p) }
				info, err := r.LocalParticipant.SendFileWithContext(ctxFor(t, 120*time.Second), bigPath, lksdk.StreamBytesOptions{
					Topic: "files", Attributes: attrs, MimeType: "application/x-interop-test",
					DestinationIdentities: []string{me}, OnProgress: &progress,
				})
				require.NoError(t, err)
				requireRising(t, sent, "the Go sender's progress")
				got := waitStream(t, peer, "byteStream", info.Id)
				assert.Equal(t, hex.EncodeToString(bigSum[:]), got.SHA256)
				assert.Equal(t, len(big), got.Size)
				assert.Equal(t, "files", got.Topic)
				assert.Equal(t, "big.bin", got.Name)
				assert.Equal(t, "application/x-interop-test", got.MimeType)
				assert.Equal(t, attrs, got.Attributes)
				assert.Equal(t, "go-streams", got.From)
				if assert.NotNil(t, got.TotalSize) {
					assert.Equal(t, len(big), *got.TotalSize)
				}
				requirePeerProgress(t, got)
			})
		})

		t.Run("PeerToGo", func(t *testing.T) {
			t.Run("Text", func(t *testing.T) {
				attrs := map[string]string{"kind": "text", "from": kind}
				var sent struct{ StreamID string }
				require.NoError(t, peer.Call(ctxFor(t, 60*time.Second), "sendText", map[string]any{
					"text": text, "topic": "files", "attributes": attrs,
				}, &sent))
				got := recv(t, received, 60*time.Second, "the peer's text stream at Go")
				require.NoError(t, got.err)
				assert.Equal(t, sent.StreamID, got.info.Id)
				assert.Equal(t, hex.EncodeToString(textSum[:]), got.sha256)
				assert.Equal(t, len(text), got.size)
				assert.Equal(t, "files", got.info.Topic)
				assert.Equal(t, "text/plain", got.info.MimeType)
				assert.Equal(t, attrs, got.info.Attributes)
				assert.Equal(t, me, got.from)
				if assert.NotNil(t, got.info.Size, "the peer declared no size") {
					assert.EqualValues(t, len(text), *got.info.Size)
				}
				requireRising(t, got.progress, "the Go receiver's progress")
			})
			t.Run("File", func(t *testing.T) {
				attrs := map[string]string{"kind": "bytes", "from": kind}
				var sent struct {
					StreamID string
					SHA256   string
				}
				require.NoError(t, peer.Call(ctxFor(t, 120*time.Second), "sendFile", map[string]any{
					"path": bigPath, "topic": "files", "attributes": attrs, "name": "big.bin", "mimeType": "application/x-interop-test",
				}, &sent))
				assert.Equal(t, hex.EncodeToString(bigSum[:]), sent.SHA256, "what the peer read")
				got := recv(t, received, 120*time.Second, "the peer's byte stream at Go")
				require.NoError(t, got.err)
				assert.Equal(t, sent.StreamID, got.info.Id)
				assert.Equal(t, hex.EncodeToString(bigSum[:]), got.sha256)
				assert.Equal(t, len(big), got.size)
				assert.Equal(t, "files", got.info.Topic)
				assert.Equal(t, "application/x-interop-test", got.info.MimeType)
				assert.Equal(t, attrs, got.info.Attributes)
				assert.Equal(t, me, got.from)
				if assert.NotNil(t, got.name) {
					assert.Equal(t, "big.bin", *got.name)
				}
				if assert.NotNil(t, got.info.Size, "the peer declared no size") {
					assert.EqualValues(t, len(big), *got.info.Size)
				}
				requireRising(t, got.progress, "the Go receiver's progress")
			})
		})
		assert.Zero(t, r.DataStreamStats().Malformed, "streams the Go SDK found malformed")
	})
}

// receiveGoStreams registers text and byte stream handlers for topic on r
// that read each stream whole, hashing it, and report it on the channel.
func receiveGoStreams(t *testing.T, r *lksdk.Room, topic string) <-chan goStream {
	t.Helper()
	out := make(chan goStream, 4)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, r.RegisterTextStreamHandler(topic, func(reader *lksdk.TextStreamReader, from string) {
		s := goStream{from: from, info: reader.Info.StreamInfo}
		reader.OnProgress(func(p float64) { s.progress = append(s.progress, p) })
		text, err := reader.ReadAllContext(ctx)
		sum := sha256.Sum256([]byte(text))
		s.size, s.sha256, s.err = len(text), hex.EncodeToString(sum[:]), err
		out <- s
	}))
	require.NoError(t, r.RegisterByteStreamHandler(topic, func(reader *lksdk.ByteStreamReader, from string) {
		s := goStream{from: from, info: reader.Info.StreamInfo, name: reader.Info.Name}
		reader.OnProgress(func(p float64) { s.progress = append(s.progress, p) })
		h := sha256.New()
		n, err := io.Copy(h, reader)
		s.size, s.sha256, s.err = int(n), hex.EncodeToString(h.Sum(nil)), err
		out <- s
	}))
	return out
}

// requireRising checks that progress was reported, never went back, and
// ended at the whole.
func requireRising(t *testing.T, progress []float64, what string) {
	t.Helper()
	require.NotEmpty(t, progress, "%s: none reported", what)
	for i := 1; i < len(progress); i++ {
		require.GreaterOrEqual(t, progress[i], progress[i-1], "%s went back at report %d", what, i)
	}
	assert.InDelta(t, 1.0, progress[len(progress)-1], 1e-9, "%s ended short of the whole", what)
}

// requirePeerProgress checks the receiving peer's progress reports.
func requirePeerProgress(t *testing.T, s streamReport) {
	t.Helper()
	var ps []float64
	for i, p := range s.Progress {
		require.NotNil(t, p, "the peer's progress report %d has no value", i)
		ps = append(ps, *p)
	}
	requireRising(t, ps, "the receiving peer's progress")
}
