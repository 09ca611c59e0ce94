package e2ee_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// eavesdropper is the DataCryptor of a participant without the key: it
// keeps the encrypted packets it is given and opens none.
type eavesdropper struct {
	mu     sync.Mutex
	seen   []*livekit.DataPacket
	notify chan struct{}
}

func (e *eavesdropper) EncryptPacket(string, *livekit.DataPacket) (bool, error) { return false, nil }

func (e *eavesdropper) DecryptPacket(_ string, pkt *livekit.DataPacket) error {
	e.mu.Lock()
	e.seen = append(e.seen, proto.Clone(pkt).(*livekit.DataPacket))
	e.mu.Unlock()
	select {
	case e.notify <- struct{}{}:
	default:
	}
	return errors.New("no key")
}

func (e *eavesdropper) packets() []*livekit.DataPacket {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*livekit.DataPacket(nil), e.seen...)
}

type received struct {
	what, from, text string
}

func TestE2EEDataAndTextStreamsGoEncrypted(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	got := make(chan received, 16)
	join := func(identity string, c lksdk.DataCryptor) *lksdk.Room {
		cb := lksdk.NewRoomCallback()
		cb.OnDataPacket = func(data []byte, p lksdk.DataReceiveParams) {
			got <- received{"data to " + identity, p.SenderIdentity, string(data)}
		}
		r := joinRoom(t, srv, room, identity, cb, lksdk.WithDataCryptor(c))
		require.NoError(t, r.RegisterTextStreamHandler("notes", func(reader *lksdk.TextStreamReader, from string) {
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			text, err := reader.ReadAllContext(ctx)
			if err != nil {
				text = "error: " + err.Error()
			}
			got <- received{"text to " + identity, from, text}
		}))
		return r
	}
	cryptor := func() lksdk.DataCryptor {
		c, err := e2ee.NewDataCryptor(keys(t, passphrase))
		require.NoError(t, err)
		return c
	}
	eve := &eavesdropper{notify: make(chan struct{}, 1)}
	eveRoom := join("eve", eve)
	alice := join("alice", cryptor())
	bob := join("bob", cryptor())
	mallory := join("mallory", nil) // no cryptor at all

	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	// Each waits until the other is known, so that nothing is sent before
	// the receiver is in the room.
	for _, r := range []*lksdk.Room{alice, bob, eveRoom, mallory} {
		for len(r.GetRemoteParticipants()) < 3 {
			select {
			case <-ctx.Done():
				t.Fatal("participants did not see each other")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	secret := func(from, to string) string { return fmt.Sprintf("secret from %s to %s", from, to) }
	long := bytes.Repeat([]byte("a long secret text; "), 2000) // several chunks
	want := map[received]bool{}
	for _, pair := range [][2]*lksdk.Room{{alice, bob}, {bob, alice}} {
		from, to := pair[0].LocalParticipant.Identity(), pair[1].LocalParticipant.Identity()
		require.NoError(t, pair[0].LocalParticipant.PublishDataPacket(ctx, []byte(secret(from, to)), lksdk.WithDataDestinations(to)))
		_, err := pair[0].LocalParticipant.SendTextWithContext(ctx, secret(from, to)+string(long), lksdk.StreamTextOptions{Topic: "notes"})
		require.NoError(t, err)
		want[received{"data to " + to, from, secret(from, to)}] = true
		want[received{"text to " + to, from, secret(from, to) + string(long)}] = true
		// The text went to everyone: eve too, encrypted.
	}
	for len(want) > 0 {
		select {
		case r := <-got:
			require.True(t, want[r], "unexpected delivery: %s from %s (%d bytes)", r.what, r.from, len(r.text))
			delete(want, r)
		case <-time.After(hangBound):
			t.Fatalf("%d deliveries missing", len(want))
		}
	}

	withKey := keys(t, passphrase)
	// Eve is sent both text streams (a header, chunks and a trailer each),
	// all encrypted; the data went to its destination only.
	for {
		var headers, trailers int
		for _, p := range eve.packets() {
			ep := p.GetEncryptedPacket()
			require.NotNil(t, ep, "eve was given a packet in clear: %v", p)
			require.Equal(t, livekit.Encryption_GCM, ep.EncryptionType)
			require.Len(t, ep.Iv, e2ee.IVSize)
			require.False(t, bytes.Contains(ep.EncryptedValue, []byte("secret")), "plaintext on the wire")
			require.False(t, bytes.Contains(ep.EncryptedValue, []byte("notes")), "the stream's topic on the wire")
			// What eve can open with the key is a stream packet.
			open := proto.Clone(p).(*livekit.DataPacket)
			require.NoError(t, e2ee.DecryptPacket(withKey, p.ParticipantIdentity, open))
			switch open.Value.(type) {
			case *livekit.DataPacket_StreamHeader:
				headers++
			case *livekit.DataPacket_StreamTrailer:
				trailers++
			case *livekit.DataPacket_StreamChunk:
			default:
				t.Fatalf("eve was sent %T", open.Value)
			}
		}
		if headers == 2 && trailers == 2 {
			break
		}
		select {
		case <-eve.notify:
		case <-time.After(hangBound):
			t.Fatalf("eve saw %d stream headers and %d trailers of 2", headers, trailers)
		}
	}
	// Counted just after the eavesdropper returns.
	require.Eventually(t, func() bool { return eveRoom.Stats().DataDecryptFailed == uint64(len(eve.packets())) },
		hangBound, 10*time.Millisecond, "every packet eve could not open is dropped and counted")
	// Mallory, with no cryptor, was sent the same packets: dropped and
	// counted as such, none delivered.
	require.Eventually(t, func() bool { return mallory.Stats().DataEncryptedNoCryptor == uint64(len(eve.packets())) },
		hangBound, 10*time.Millisecond, "every encrypted packet mallory had no cryptor for is dropped and counted")
	require.Zero(t, mallory.Stats().DataDecryptFailed)
	select {
	case r := <-got:
		t.Fatalf("unexpected delivery: %s from %s", r.what, r.from)
	default:
	}
}
