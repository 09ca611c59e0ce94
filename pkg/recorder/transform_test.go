package recorder

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/ffprobe"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

func passphraseKeys(t testing.TB, pass string) *e2ee.ExternalKeyProvider {
	t.Helper()
	kp, err := e2ee.NewExternalKeyProvider()
	require.NoError(t, err)
	require.NoError(t, kp.SetKeyFromPassphrase(pass, 0))
	return kp
}

// encrypt returns frames encrypted as a sender's transformer would.
func encrypt(t testing.TB, frames []mediaFrame, mime string, kp *e2ee.ExternalKeyProvider) []mediaFrame {
	t.Helper()
	enc, err := e2ee.NewTrackEncryptor(kp, "alice", mime)
	require.NoError(t, err)
	out := make([]mediaFrame, len(frames))
	for i, f := range frames {
		out[i] = f
		out[i].data, err = enc.EncryptFrame(f.data)
		require.NoError(t, err)
	}
	return out
}

func decryptor(t testing.TB, kp *e2ee.ExternalKeyProvider, mime string) Option {
	t.Helper()
	d, err := e2ee.NewTrackDecryptor(kp, "alice", mime, nil)
	require.NoError(t, err)
	return WithFrameTransformer(d)
}

func TestRecordDecryptsThroughTransformer(t *testing.T) {
	keys := passphraseKeys(t, "pass")
	for _, tc := range []struct {
		mime string
		file string
		key  func([]byte) bool
	}{
		{webrtc.MimeTypeVP8, "vp8.ivf", isVP8Key},
	} {
		t.Run(tc.file, func(t *testing.T) {
			frames := loadIVF(t, tc.file, tc.key)
			pkts := packetize(encrypt(t, frames, tc.mime, keys), payloaderFor(tc.mime), packetizeOpts{seqStart: 100})
			res := record(t, tc.mime, pkts, true, decryptor(t, keys, tc.mime))
			_, out := readIVFOut(t, res.file)
			require.Len(t, out, len(frames))
			for i := range out {
				require.True(t, bytes.Equal(frames[i].data, out[i].data), "frame %d", i)
			}
			require.Zero(t, res.stats.TransformFailed)
			require.Equal(t, len(frames), res.stats.FramesWritten)

			// The wrong key: nothing written, every frame counted, keyframes
			// asked for.
			res = record(t, tc.mime, pkts, true, decryptor(t, passphraseKeys(t, "wrong"), tc.mime))
			_, out = readIVFOut(t, res.file)
			require.Empty(t, out)
			require.Zero(t, res.stats.FramesWritten)
			require.Equal(t, len(frames), res.stats.TransformFailed)
			require.Equal(t, len(frames), res.stats.FramesDropped)
			require.Positive(t, res.requests)
		})
	}
	t.Run("h264.h264", func(t *testing.T) {
		frames := loadH264(t)
		pkts := packetize(encrypt(t, frames, webrtc.MimeTypeH264, keys), payloaderFor(webrtc.MimeTypeH264), packetizeOpts{seqStart: 100})
		res := record(t, webrtc.MimeTypeH264, pkts, true, decryptor(t, keys, webrtc.MimeTypeH264))
		checkH264Recording(t, frames, res, false)
		require.Zero(t, res.stats.TransformFailed)

		res = record(t, webrtc.MimeTypeH264, pkts, true, decryptor(t, passphraseKeys(t, "wrong"), webrtc.MimeTypeH264))
		require.Empty(t, res.file)
		require.Zero(t, res.stats.FramesWritten)
		require.Equal(t, len(frames), res.stats.TransformFailed)
		require.Positive(t, res.requests)
	})
	t.Run("opus", func(t *testing.T) {
		frames := loadOpus(t)
		pkts := packetize(encrypt(t, frames, webrtc.MimeTypeOpus, keys), payloaderFor(webrtc.MimeTypeOpus), packetizeOpts{audio: true})
		res := record(t, webrtc.MimeTypeOpus, pkts, false, decryptor(t, keys, webrtc.MimeTypeOpus))
		out := readOggOut(t, res.file)
		require.Equal(t, len(frames), res.stats.FramesWritten)
		require.Zero(t, res.stats.TransformFailed)
		for i, p := range out.packets[:len(frames)] {
			require.True(t, bytes.Equal(frames[i].data, p), "packet %d", i)
		}
		res = record(t, webrtc.MimeTypeOpus, pkts, false, decryptor(t, passphraseKeys(t, "wrong"), webrtc.MimeTypeOpus))
		require.Zero(t, res.stats.FramesWritten)
		require.Equal(t, len(frames), res.stats.TransformFailed)
	})
}

func TestRecordRefusesToTransformAV1(t *testing.T) {
	_, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(webrtc.MimeTypeAV1)}, &memFile{},
		WithFrameTransformer(e2eeNop{}))
	require.ErrorIs(t, err, ErrUnsupportedCodec)
}

type e2eeNop struct{}

func (e2eeNop) TransformFrame(f []byte, _ lksdk.FrameInfo) ([]byte, error) { return f, nil }

// TestRecordEncryptedRoom records a room's end-to-end encrypted VP8, H.264
// and Opus through their decryptors, and checks that FFmpeg decodes nearly
// every frame of the files.
func TestRecordEncryptedRoom(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	keys := passphraseKeys(t, "the room's passphrase")
	rec, err := NewRoomRecorder(t.TempDir(), WithFrameTransformerFunc(e2ee.TrackDecryptors(keys, nil)))
	require.NoError(t, err)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)

	files := map[string]string{"vp8.ivf": webrtc.MimeTypeVP8, "h264.h264": webrtc.MimeTypeH264, "opus.ogg": webrtc.MimeTypeOpus}
	done := make(chan string, len(files))
	for name, mime := range files {
		enc, err := e2ee.NewTrackEncryptor(keys, "alice", mime)
		require.NoError(t, err)
		track, err := lksdk.NewLocalFileTrack(source(name), lksdk.ReaderTrackWithStartOnSubscribe(),
			lksdk.ReaderTrackWithOnWriteComplete(func() { done <- name }),
			lksdk.ReaderTrackWithSampleTrackOptions(lksdk.WithFrameTransformer(enc)))
		require.NoError(t, err)
		_, err = alice.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
			Name: strings.TrimSuffix(name, filepath.Ext(name)), Encryption: livekit.Encryption_GCM,
		})
		require.NoError(t, err)
	}
	for range files {
		select {
		case <-done:
		case <-time.After(hangBoundRecorder):
			t.Fatalf("files not sent in %v", hangBoundRecorder)
		}
	}
	time.Sleep(time.Second) // the last packets reach the recorder
	bob.Disconnect()
	require.NoError(t, rec.Close())

	want := map[string]int{"vp8": len(loadIVF(t, "vp8.ivf", isVP8Key)), "h264": len(loadH264(t)), "opus": len(loadOpus(t))}
	seen := 0
	for _, f := range rec.Files() {
		require.NoError(t, f.Failure(), f.Path)
		st := f.Stats()
		res := ffprobe.Probe(t, f.Path)
		t.Logf("%s: %d frames written, %d dropped (%d did not decrypt); ffprobe decodes %d %s frames of the source's %d",
			filepath.Base(f.Path), st.FramesWritten, st.FramesDropped, st.TransformFailed, res.Frames, res.Codec, want[f.TrackName])
		require.Equal(t, f.TrackName, res.Codec)
		require.GreaterOrEqual(t, res.Frames*100, want[f.TrackName]*95, f.TrackName)
		seen++
	}
	require.Equal(t, len(files), seen)
}

// hangBoundRecorder bounds waits that only end when something hung.
const hangBoundRecorder = 60 * time.Second
