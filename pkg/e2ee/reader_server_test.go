package e2ee_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"

	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// readTrack is what a subscriber read of one track through a TrackReader.
type readTrack struct {
	reader *e2ee.TrackReader
	source map[string]bool

	mu        sync.Mutex
	frames    int             // returned by ReadFrame
	identical int             // of which are a frame of the file
	matched   map[string]bool // distinct frames of the file returned
	errs      int             // decryption error callbacks
	states    []e2ee.EncryptionState
}

func (r *readTrack) counts() (frames, identical, matched, errs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames, r.identical, len(r.matched), r.errs
}

// subscriber joins with keys and reads every track it subscribes to with
// a TrackReader, until the room leaves.
func subscriber(t *testing.T, join func(cb *lksdk.RoomCallback) *lksdk.Room,
	kp *e2ee.ExternalKeyProvider, sources map[string][][]byte) (*lksdk.Room, chan *readTrack) {
	t.Helper()
	var readers sync.WaitGroup
	t.Cleanup(readers.Wait) // after the room has left: the tracks end
	tracks := make(chan *readTrack, 8)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		rt := &readTrack{source: map[string]bool{}, matched: map[string]bool{}}
		for _, f := range sources[track.Codec().MimeType] {
			rt.source[string(f)] = true
		}
		r, err := e2ee.NewTrackReader(track, pub, rp, kp,
			e2ee.WithOnDecryptionError(func(string, error) { rt.mu.Lock(); rt.errs++; rt.mu.Unlock() }),
			e2ee.WithOnEncryptionStateChanged(func(_ string, s e2ee.EncryptionState) {
				rt.mu.Lock()
				rt.states = append(rt.states, s)
				rt.mu.Unlock()
			}))
		if err != nil {
			t.Errorf("NewTrackReader: %v", err)
			return
		}
		rt.reader = r
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				s, err := r.ReadFrame(context.Background())
				if err != nil {
					return
				}
				rt.mu.Lock()
				rt.frames++
				if rt.source[string(s.Data)] {
					rt.identical++
					rt.matched[string(s.Data)] = true
				}
				rt.mu.Unlock()
			}
		}()
		tracks <- rt
	}
	return join(cb), tracks
}

// waitFor polls cond until it holds, failing the test after hangBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", hangBound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takeTracks returns the first n tracks read, by MIME type.
func takeTracks(t *testing.T, ch chan *readTrack, n int) map[string]*readTrack {
	t.Helper()
	out := map[string]*readTrack{}
	for len(out) < n {
		select {
		case rt := <-ch:
			out[rt.reader.MimeType()] = rt
		case <-time.After(hangBound):
			t.Fatalf("subscribed to %d of %d tracks", len(out), n)
		}
	}
	return out
}

func TestTrackReaderThroughTheServer(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)

	pubKeys := keys(t, passphrase)
	goodKeys := keys(t, passphrase) // the same passphrase, a ring of its own
	badKeys := keys(t, "not the room's passphrase")
	sources := map[string][][]byte{
		webrtc.MimeTypeVP8:  sourceFrames(t, "vp8.ivf"),
		webrtc.MimeTypeH264: sourceFrames(t, "h264.h264"),
		webrtc.MimeTypeVP9:  sourceFrames(t, "vp9.ivf"),
		webrtc.MimeTypeOpus: sourceFrames(t, "opus.ogg"),
	}

	_, goodCh := subscriber(t, func(cb *lksdk.RoomCallback) *lksdk.Room { return joinRoom(t, srv, room, "good", cb) }, goodKeys, sources)
	_, badCh := subscriber(t, func(cb *lksdk.RoomCallback) *lksdk.Room { return joinRoom(t, srv, room, "bad", cb) }, badKeys, sources)

	var plis atomic.Int64
	pubRoom := joinRoom(t, srv, room, "bot", lksdk.NewRoomCallback())
	publishEncryptedFile(t, pubRoom, pubKeys, "vp8.ivf", webrtc.MimeTypeVP8,
		lksdk.WithRTCPHandler(func(p rtcp.Packet) {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				plis.Add(1)
			}
		}))
	publishEncryptedFile(t, pubRoom, pubKeys, "h264.h264", webrtc.MimeTypeH264)
	publishEncryptedFile(t, pubRoom, pubKeys, "vp9.ivf", webrtc.MimeTypeVP9)
	publishEncryptedFile(t, pubRoom, pubKeys, "opus.ogg", webrtc.MimeTypeOpus)

	good, bad := takeTracks(t, goodCh, 4), takeTracks(t, badCh, 4)

	// The right key: the file's frames, byte for byte.
	for mime, rt := range good {
		require.True(t, rt.reader.Encrypted(), mime)
		waitFor(t, mime+": 95% of the file's distinct frames", func() bool {
			_, _, matched, _ := rt.counts()
			return matched*100 >= len(rt.source)*95
		})
		frames, identical, matched, errs := rt.counts()
		t.Logf("right key, %s: %d frames read, %d identical to the file's (%d of its %d distinct), %d errors, stats %+v",
			mime, frames, identical, matched, len(rt.source), errs, rt.reader.Stats())
		require.GreaterOrEqual(t, identical*100, frames*95, mime)
		require.Equal(t, e2ee.EncryptionStateOk, rt.reader.State(), mime)
	}

	// The wrong key: nothing read, errors reported, keyframes asked for
	// and seen by the publisher.
	video := bad[webrtc.MimeTypeVP8]
	before := plis.Load()
	waitFor(t, "keyframe requests from the reader with the wrong key to reach the publisher", func() bool {
		return plis.Load() >= before+2 && video.reader.Stats().KeyFrameRequests >= 3
	})
	// And audio that does not decrypt, which may start later than video.
	waitFor(t, "audio that does not decrypt at the reader with the wrong key", func() bool {
		_, _, _, errs := bad[webrtc.MimeTypeOpus].counts()
		return errs > 0
	})
	for mime, rt := range bad {
		frames, _, _, errs := rt.counts()
		st := rt.reader.Stats()
		t.Logf("wrong key, %s: %d frames read, %d errors, stats %+v; the publisher saw %d keyframe requests",
			mime, frames, errs, st, plis.Load())
		require.Zero(t, frames, mime)
		require.Zero(t, st.Frames, mime)
		require.Positive(t, errs, mime)
		require.Positive(t, st.Dropped, mime)
		require.Zero(t, st.Decryptor.Decrypted, mime)
		rt.mu.Lock()
		require.Equal(t, []e2ee.EncryptionState{e2ee.EncryptionStateDecryptionFailed}, rt.states, mime)
		rt.mu.Unlock()
	}
	require.Zero(t, bad[webrtc.MimeTypeOpus].reader.Stats().KeyFrameRequests, "keyframes asked of audio")

	// A ratchet: the publisher ratchets, the receiver follows within its
	// ratchet window, and media keeps flowing under the new key.
	oldKey, err := pubKeys.GetKey(0)
	require.NoError(t, err)
	_, err = pubKeys.RatchetKey("", 0)
	require.NoError(t, err)
	newKey, err := pubKeys.GetKey(0)
	require.NoError(t, err)
	require.NotEqual(t, oldKey, newKey)
	waitFor(t, "the receiver to follow the ratchet", func() bool {
		k, err := goodKeys.GetKey(0)
		return err == nil && bytes.Equal(k, newKey)
	})
	for mime, rt := range good {
		from, fromIdentical, _, _ := rt.counts()
		waitFor(t, mime+": 50 frames after the ratchet", func() bool {
			frames, _, _, _ := rt.counts()
			return frames >= from+50
		})
		frames, identical, _, _ := rt.counts()
		t.Logf("after the ratchet, %s: %d frames read, %d identical", mime, frames-from, identical-fromIdentical)
		require.GreaterOrEqual(t, (identical-fromIdentical)*100, (frames-from)*95, mime)
	}
}
