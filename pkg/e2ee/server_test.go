package e2ee_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
	"github.com/livekit/server-sdk-go/pkg/samplebuilder"
)

// hangBound bounds waits that only end when something hung.
const hangBound = 60 * time.Second

const passphrase = "the room's passphrase"

func joinRoom(t testing.TB, srv *lkserver.Server, room, identity string, cb *lksdk.RoomCallback, more ...lksdk.ConnectOption) *lksdk.Room {
	t.Helper()
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity,
	}, cb, append(opts, more...)...)
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

func keys(t testing.TB, pass string) *e2ee.ExternalKeyProvider {
	t.Helper()
	kp, err := e2ee.NewExternalKeyProvider()
	require.NoError(t, err)
	require.NoError(t, kp.SetKeyFromPassphrase(pass, 0))
	return kp
}

// sourceFrames reads every frame (IVF), access unit (H.264, with 4-byte
// start codes, as a depacketizer writes them) or packet (Ogg) of a test
// file.
func sourceFrames(t testing.TB, file string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", file))
	require.NoError(t, err)
	defer f.Close()
	var next func() ([]byte, error)
	switch filepath.Ext(file) {
	case ".h264":
		r := mediaparse.NewAnnexBReader(f)
		next = func() ([]byte, error) {
			au, _, err := r.Next()
			if err != nil {
				return nil, err
			}
			var out []byte
			for _, nal := range bytes.Split(au, []byte{0, 0, 1}) {
				if nal = bytes.TrimRight(nal, "\x00"); len(nal) > 0 {
					out = append(append(out, 0, 0, 0, 1), nal...)
				}
			}
			return out, nil
		}
	case ".ivf":
		r, _, err := mediaparse.NewIVFReader(f)
		require.NoError(t, err)
		next = func() ([]byte, error) { b, _, err := r.Next(); return b, err }
	default:
		r, _, err := mediaparse.NewOggOpusReader(f)
		require.NoError(t, err)
		next = r.Next
	}
	var out [][]byte
	for {
		b, err := next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, append([]byte(nil), b...))
	}
}

// decryptedTrack reassembles the frames of a subscribed track and decrypts
// each with the right key and with a wrong one.
type decryptedTrack struct {
	pub         *lksdk.RemoteTrackPublication
	right, bad  *e2ee.FrameDecryptor
	source      map[string]bool // the file's frames
	mu          sync.Mutex
	received    int             // frames reassembled
	identical   int             // of which decrypted to a frame of the file
	badOpened   int             // of which the wrong key opened
	clear       int             // of which were a frame of the file as it is
	matched     map[string]bool // distinct file frames received
	enough      chan struct{}   // closed once most of the file's frames were received
	enoughClose sync.Once
}

func (d *decryptedTrack) add(frame []byte) {
	plain, err := d.right.DecryptFrame(frame)
	_, badErr := d.bad.DecryptFrame(frame)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received++
	if d.source[string(frame)] {
		d.clear++
	}
	if badErr == nil {
		d.badOpened++
	}
	if err == nil && d.source[string(plain)] {
		d.identical++
		d.matched[string(plain)] = true
	}
	if len(d.matched)*100 >= len(d.source)*95 {
		d.enoughClose.Do(func() { close(d.enough) })
	}
}

func (d *decryptedTrack) read(track *webrtc.TrackRemote, depacketizer rtp.Depacketizer) {
	sb := samplebuilder.New(200, depacketizer, track.Codec().ClockRate)
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			d.add(s.Data)
		}
	}
}

// publishEncryptedFile publishes a file, looped, through an encryptor, as
// an encrypted track.
func publishEncryptedFile(t *testing.T, r *lksdk.Room, kp *e2ee.ExternalKeyProvider, file, mime string, more ...lksdk.LocalSampleTrackOptions) *lksdk.LocalSampleTrack {
	t.Helper()
	enc, err := e2ee.NewTrackEncryptor(kp, r.LocalParticipant.Identity(), mime)
	require.NoError(t, err)
	track, err := lksdk.NewLocalFileTrack(filepath.Join("..", "..", "testdata", file),
		lksdk.ReaderTrackWithLoop(true),
		lksdk.ReaderTrackWithSampleTrackOptions(append([]lksdk.LocalSampleTrackOptions{lksdk.WithFrameTransformer(enc)}, more...)...))
	require.NoError(t, err)
	_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: file, Encryption: livekit.Encryption_GCM,
	})
	require.NoError(t, err)
	return track
}

func TestE2EEFramesGoToGoThroughTheServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	right, wrong := keys(t, passphrase), keys(t, "not the room's passphrase")
	sources := map[string][][]byte{
		webrtc.MimeTypeVP8:  sourceFrames(t, "vp8.ivf"),
		webrtc.MimeTypeOpus: sourceFrames(t, "opus.ogg"),
	}
	require.Len(t, sources[webrtc.MimeTypeVP8], 240)
	require.Len(t, sources[webrtc.MimeTypeOpus], 401)

	var readers sync.WaitGroup
	t.Cleanup(readers.Wait) // after the subscriber has left (cleanups run last first)
	tracks := make(chan *decryptedTrack, 4)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		codec, err := e2ee.CodecFromMimeType(track.Codec().MimeType)
		if err != nil {
			t.Errorf("subscribed to %s: %v", track.Codec().MimeType, err)
			return
		}
		rightDec, _ := e2ee.NewFrameDecryptor(right, rp.Identity(), codec, nil)
		badDec, _ := e2ee.NewFrameDecryptor(wrong, rp.Identity(), codec, nil)
		d := &decryptedTrack{pub: pub, right: rightDec, bad: badDec, source: map[string]bool{},
			matched: map[string]bool{}, enough: make(chan struct{})}
		for _, f := range sources[track.Codec().MimeType] {
			d.source[string(f)] = true
		}
		var depacketizer rtp.Depacketizer = &codecs.OpusPacket{}
		if track.Kind() == webrtc.RTPCodecTypeVideo {
			depacketizer = &codecs.VP8Packet{}
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			d.read(track, depacketizer)
		}()
		tracks <- d
	}
	joinRoom(t, srv, room, "subscriber", cb)

	pubRoom := joinRoom(t, srv, room, "bot", lksdk.NewRoomCallback())
	require.NotEmpty(t, pubRoom.SifTrailer(), "the join response's server-injected-frame trailer")
	video := publishEncryptedFile(t, pubRoom, right, "vp8.ivf", webrtc.MimeTypeVP8)
	audio := publishEncryptedFile(t, pubRoom, right, "opus.ogg", webrtc.MimeTypeOpus)

	seen := map[string]*decryptedTrack{}
	for len(seen) < 2 {
		select {
		case d := <-tracks:
			seen[d.pub.MimeType()] = d
		case <-time.After(hangBound):
			t.Fatalf("subscribed to %d of 2 tracks", len(seen))
		}
	}
	for mime, d := range seen {
		require.Equal(t, livekit.Encryption_GCM, d.pub.Encryption(), mime)
		require.Equal(t, livekit.Encryption_GCM, d.pub.TrackInfo().GetEncryption(), mime)
		select {
		case <-d.enough:
		case <-time.After(hangBound):
			d.mu.Lock()
			t.Fatalf("%s: %d of %d distinct frames of the file received", mime, len(d.matched), len(d.source))
		}
	}
	for mime, d := range seen {
		d.mu.Lock()
		received, identical, badOpened, matched, clear := d.received, d.identical, d.badOpened, len(d.matched), d.clear
		d.mu.Unlock()
		rs, bs := d.right.Stats(), d.bad.Stats()
		t.Logf("%s: %d frames received, %d decrypted identical to the file's (%d of its %d distinct frames); wrong key: %d opened, stats %+v",
			mime, received, identical, matched, len(d.source), badOpened, bs)
		require.GreaterOrEqual(t, identical*100, received*95, "%s: frames decrypted to the file's", mime)
		require.Zero(t, clear, "%s: frames crossed the server in clear", mime)
		require.Zero(t, badOpened, "%s: the wrong key opened frames", mime)
		require.Zero(t, bs.Decrypted, mime)
		require.EqualValues(t, received, bs.Failed+bs.MissingKey+bs.InvalidKey, "%s: every frame failed with the wrong key", mime)
		require.GreaterOrEqual(t, rs.Decrypted, uint64(identical), mime)
	}
	require.Zero(t, video.Stats().TransformFailed)
	require.Zero(t, audio.Stats().TransformFailed)
}
