package e2ee_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// TestWithEncryptionEncryptsWhatTheRoomPublishes: a room joined
// WithEncryption publishes a file track made with no transformer and no
// encryption option, and it arrives encrypted (a reader with the key reads
// the file's frames, the publication says GCM); its data arrives, and is
// encrypted on the wire; a track it cannot encrypt is refused.
func TestWithEncryptionEncryptsWhatTheRoomPublishes(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	sources := map[string][][]byte{webrtc.MimeTypeVP8: sourceFrames(t, "vp8.ivf")}

	data := make(chan string, 4)
	readerKeys := keys(t, passphrase)
	readerData, err := e2ee.NewDataCryptor(readerKeys)
	require.NoError(t, err)
	_, tracks := subscriber(t, func(cb *lksdk.RoomCallback) *lksdk.Room {
		cb.OnDataPacket = func(b []byte, p lksdk.DataReceiveParams) { data <- p.SenderIdentity + ": " + string(b) }
		return joinRoom(t, srv, room, "reader", cb, lksdk.WithDataCryptor(readerData))
	}, readerKeys, sources)
	eve := &eavesdropper{notify: make(chan struct{}, 1)}
	joinRoom(t, srv, room, "eve", nil, lksdk.WithDataCryptor(eve))

	opts, err := e2ee.NewEncryptionOptions(keys(t, passphrase))
	require.NoError(t, err)
	bot := joinRoom(t, srv, room, "bot", nil, lksdk.WithEncryption(opts))

	// A track whose frames the room cannot reach is refused...
	raw, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "raw", "raw")
	require.NoError(t, err)
	_, err = bot.LocalParticipant.PublishTrack(raw, &lksdk.TrackPublicationOptions{Name: "raw"})
	require.True(t, errors.Is(err, lksdk.ErrTrackNotEncrypted), "publishing a track the room cannot encrypt: %v", err)

	// So is a sample track of a codec that cannot go encrypted.
	av1, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000})
	require.NoError(t, err)
	_, err = bot.LocalParticipant.PublishTrack(av1, &lksdk.TrackPublicationOptions{Name: "av1"})
	require.True(t, errors.Is(err, lksdk.ErrTrackNotEncrypted) && errors.Is(err, e2ee.ErrTrackCodecNotEncryptable),
		"publishing AV1 encrypted: %v", err)

	// ...and a sample track is encrypted without being asked.
	track, err := lksdk.NewLocalFileTrack(filepath.Join("..", "..", "testdata", "vp8.ivf"), lksdk.ReaderTrackWithLoop(true))
	require.NoError(t, err)
	_, err = bot.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "vp8.ivf"})
	require.NoError(t, err)

	var rt *readTrack
	select {
	case rt = <-tracks:
	case <-time.After(hangBound):
		t.Fatal("the reader never subscribed")
	}
	require.True(t, rt.reader.Encrypted(), "the publication does not say it is encrypted")
	waitFor(t, "95% of the file's distinct frames, decrypted", func() bool {
		_, _, matched, _ := rt.counts()
		return matched*100 >= len(rt.source)*95
	})
	frames, identical, matched, errs := rt.counts()
	t.Logf("%d frames read, %d identical to the file's (%d of its %d distinct), %d errors", frames, identical, matched, len(rt.source), errs)
	require.GreaterOrEqual(t, identical*100, frames*95)
	require.Zero(t, track.Stats().TransformFailed)

	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	require.NoError(t, bot.LocalParticipant.PublishDataPacket(ctx, []byte("hello, encrypted")))
	select {
	case got := <-data:
		require.Equal(t, "bot: hello, encrypted", got)
	case <-time.After(hangBound):
		t.Fatal("the data never arrived")
	}
	for {
		if ps := eve.packets(); len(ps) > 0 {
			require.NotNil(t, ps[0].GetEncryptedPacket(), "eve was sent the data in clear")
			require.Equal(t, livekit.Encryption_GCM, ps[0].GetEncryptedPacket().EncryptionType)
			break
		}
		select {
		case <-eve.notify:
		case <-time.After(hangBound):
			t.Fatal("eve was sent nothing")
		}
	}
}
