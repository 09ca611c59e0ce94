package e2ee

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// fakeTrack hands out packets, then blocks until its read deadline passes
// or it is ended (io.EOF).
type fakeTrack struct {
	mu       sync.Mutex
	pkts     []*rtp.Packet
	deadline time.Time
	ended    bool
	wake     chan struct{}
}

func newFakeTrack(pkts []*rtp.Packet) *fakeTrack {
	return &fakeTrack{pkts: pkts, wake: make(chan struct{}, 1)}
}

func (f *fakeTrack) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for {
		f.mu.Lock()
		switch {
		case !f.deadline.IsZero() && !time.Now().Before(f.deadline):
			f.mu.Unlock()
			return nil, nil, os.ErrDeadlineExceeded
		case len(f.pkts) > 0:
			p := f.pkts[0]
			f.pkts = f.pkts[1:]
			f.mu.Unlock()
			return p, nil, nil
		case f.ended:
			f.mu.Unlock()
			return nil, nil, io.EOF
		}
		f.mu.Unlock()
		<-f.wake
	}
}

func (f *fakeTrack) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeTrack) end() {
	f.mu.Lock()
	f.ended = true
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// vp8Frames reads the test file's frames.
func vp8Frames(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "vp8.ivf"))
	require.NoError(t, err)
	defer f.Close()
	r, _, err := mediaparse.NewIVFReader(f)
	require.NoError(t, err)
	var out [][]byte
	for {
		b, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, append([]byte(nil), b...))
	}
}

// packetize encrypts frames with enc (if not nil) and packetizes them as
// VP8 RTP at 30 frames a second.
func packetize(t *testing.T, frames [][]byte, enc *FrameEncryptor) []*rtp.Packet {
	t.Helper()
	p := rtp.NewPacketizer(1200, 96, 1234, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	var out []*rtp.Packet
	for _, f := range frames {
		if enc != nil {
			var err error
			f, err = enc.EncryptFrame(f)
			require.NoError(t, err)
		}
		out = append(out, p.Packetize(f, 3000)...)
	}
	return out
}

var vp8Codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}

func readAll(t *testing.T, r *TrackReader) [][]byte {
	t.Helper()
	var got [][]byte
	for {
		s, err := r.ReadFrame(context.Background())
		if errors.Is(err, io.EOF) {
			return got
		}
		require.NoError(t, err)
		got = append(got, s.Data)
	}
}

func TestTrackReaderDecryptsFrames(t *testing.T) {
	frames := vp8Frames(t)[:60]
	kp := testKeys(t, "pass")
	enc, err := NewFrameEncryptor(kp, "alice", CodecVP8)
	require.NoError(t, err)
	src := newFakeTrack(packetize(t, frames, enc))
	src.end()
	var states []EncryptionState
	r, err := newTrackReader(src, vp8Codec, livekit.Encryption_GCM, "alice", kp, nil,
		WithOnEncryptionStateChanged(func(id string, s EncryptionState) {
			require.Equal(t, "alice", id)
			states = append(states, s)
		}))
	require.NoError(t, err)
	require.True(t, r.Encrypted())
	require.Equal(t, frames, readAll(t, r))
	require.Equal(t, []EncryptionState{EncryptionStateOk}, states)
	st := r.Stats()
	require.EqualValues(t, len(frames), st.Frames)
	require.EqualValues(t, len(frames), st.Decryptor.Decrypted)
	require.Zero(t, st.Dropped)
}

func TestTrackReaderPassesClearTracksThrough(t *testing.T) {
	frames := vp8Frames(t)[:30]
	src := newFakeTrack(packetize(t, frames, nil))
	src.end()
	r, err := newTrackReader(src, vp8Codec, livekit.Encryption_NONE, "alice", nil, nil)
	require.NoError(t, err)
	require.False(t, r.Encrypted())
	require.Equal(t, frames, readAll(t, r))
}

func TestTrackReaderDropsWhatDoesNotDecrypt(t *testing.T) {
	frames := vp8Frames(t)[:60]
	enc, err := NewFrameEncryptor(testKeys(t, "pass"), "alice", CodecVP8)
	require.NoError(t, err)
	src := newFakeTrack(packetize(t, frames, enc))
	src.end()
	now := time.Unix(0, 0)
	requests := 0
	var errs []error
	var states []EncryptionState
	r, err := newTrackReader(src, vp8Codec, livekit.Encryption_GCM, "alice", testKeys(t, "wrong"), nil,
		WithOnDecryptionError(func(_ string, err error) { errs = append(errs, err) }),
		WithOnEncryptionStateChanged(func(_ string, s EncryptionState) { states = append(states, s) }),
		func(o *trackReaderOptions) {
			o.requestFrame = func() { requests++ }
			// Each failure advances the clock by 100 ms: one request per 5.
			o.now = func() time.Time { now = now.Add(100 * time.Millisecond); return now }
		})
	require.NoError(t, err)
	require.Empty(t, readAll(t, r))
	require.Len(t, errs, len(frames))
	for _, err := range errs {
		require.True(t, errors.Is(err, ErrDecryptionFailed) || errors.Is(err, ErrInvalidKey), err)
	}
	require.Equal(t, []EncryptionState{EncryptionStateDecryptionFailed}, states)
	require.Equal(t, len(frames)/5, requests)
	st := r.Stats()
	require.EqualValues(t, requests, st.KeyFrameRequests)
	require.EqualValues(t, len(frames), st.Dropped)
	require.Zero(t, st.Frames)
	require.Equal(t, EncryptionStateDecryptionFailed, r.State())
}

func TestTrackReaderNeedsKeysForEncryptedTracks(t *testing.T) {
	_, err := newTrackReader(newFakeTrack(nil), vp8Codec, livekit.Encryption_GCM, "alice", nil, nil)
	require.Error(t, err)
	_, err = newTrackReader(newFakeTrack(nil), webrtc.RTPCodecCapability{MimeType: "video/H265"}, livekit.Encryption_NONE, "alice", nil, nil)
	require.Error(t, err)
}

func TestTrackReaderStopsOnContextAndClose(t *testing.T) {
	src := newFakeTrack(nil)
	r, err := newTrackReader(src, vp8Codec, livekit.Encryption_NONE, "alice", nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := r.ReadFrame(ctx); done <- err }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// The interrupted read does not stick: the next read waits again.
	go func() { _, err := r.ReadFrame(context.Background()); done <- err }()
	require.NoError(t, r.Close())
	require.ErrorIs(t, <-done, ErrReaderClosed)
	_, err = r.ReadFrame(context.Background())
	require.ErrorIs(t, err, ErrReaderClosed)
}

func testKeys(t *testing.T, pass string) *ExternalKeyProvider {
	t.Helper()
	kp, err := NewExternalKeyProvider()
	require.NoError(t, err)
	require.NoError(t, kp.SetKeyFromPassphrase(pass, 0))
	return kp
}
