package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

// RoomRecorder records every track a room subscribes to, each into its own
// file in a directory, named after the participant and the track:
// "alice_camera_TR_xxxx.ivf". Give its Callback to ConnectToRoom; recording
// stops cleanly when the room is disconnected, or on Close.
type RoomRecorder struct {
	dir  string
	opts []Option

	mu      sync.Mutex
	active  map[*TrackRecorder]*RecordedFile
	files   []*RecordedFile
	names   map[string]int
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	onStart func(*RecordedFile)
}

// RecordedFile is one track's recording.
type RecordedFile struct {
	Path        string
	Participant string // identity
	TrackSID    string
	TrackName   string
	MimeType    string
	// Err is why the recording ended early, if it did.
	Err error

	rec *TrackRecorder
}

// Stats returns the recording's figures so far.
func (f *RecordedFile) Stats() Stats { return f.rec.Stats() }

// NewRoomRecorder records into dir, which is created if needed. opts apply
// to every track's recorder (WithKeyFrameRequester is set for each track).
func NewRoomRecorder(dir string, opts ...Option) (*RoomRecorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &RoomRecorder{
		dir: dir, opts: opts, ctx: ctx, cancel: cancel,
		active: map[*TrackRecorder]*RecordedFile{}, names: map[string]int{},
	}, nil
}

// OnRecordingStarted sets a function called when a track starts being
// recorded.
func (rr *RoomRecorder) OnRecordingStarted(f func(*RecordedFile)) {
	rr.mu.Lock()
	rr.onStart = f
	rr.mu.Unlock()
}

// Callback returns room callbacks that start a recording for each
// subscribed track and stop all of them when the room is disconnected. To
// add callbacks of your own, Merge yours into it.
func (rr *RoomRecorder) Callback() *lksdk.RoomCallback {
	cb := &lksdk.RoomCallback{
		OnDisconnected: func() { _ = rr.Close() },
	}
	cb.OnTrackSubscribed = rr.TrackSubscribed
	return cb
}

// TrackSubscribed starts recording track; it has the signature of
// ParticipantCallback.OnTrackSubscribed.
func (rr *RoomRecorder) TrackSubscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	ext, err := ExtensionFor(track.Codec().MimeType)
	if err != nil {
		return // a codec the recorder does not write
	}
	rr.mu.Lock()
	if rr.closed {
		rr.mu.Unlock()
		return
	}
	base := sanitize(rp.Identity()) + "_" + sanitize(pub.Name()) + "_" + sanitize(pub.SID())
	rr.names[base]++
	if n := rr.names[base]; n > 1 {
		base = fmt.Sprintf("%s-%d", base, n) // subscribed again, after a reconnect
	}
	path := filepath.Join(rr.dir, base+ext)
	opts := append(append([]Option(nil), rr.opts...), WithKeyFrameRequester(func() { rp.WritePLI(track.SSRC()) }))
	rec, err := NewTrackRecorder(track, path, opts...)
	if err != nil {
		rr.mu.Unlock()
		return
	}
	f := &RecordedFile{Path: path, Participant: rp.Identity(), TrackSID: pub.SID(), TrackName: pub.Name(), MimeType: track.Codec().MimeType, rec: rec}
	rr.active[rec] = f
	rr.files = append(rr.files, f)
	rr.wg.Add(1)
	onStart := rr.onStart
	ctx := rr.ctx
	rr.mu.Unlock()
	if onStart != nil {
		onStart(f)
	}
	go func() {
		defer rr.wg.Done()
		err := rec.Run(ctx)
		if cerr := rec.Close(); err == nil {
			err = cerr
		}
		rr.mu.Lock()
		if err != nil && !errors.Is(err, context.Canceled) {
			f.Err = err
		}
		delete(rr.active, rec)
		rr.mu.Unlock()
	}()
}

// Files returns every recording made so far, in the order they started.
func (rr *RoomRecorder) Files() []*RecordedFile {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := append([]*RecordedFile(nil), rr.files...)
	return out
}

// Close stops every recording, finalizes the files and returns when all
// are written. It may be called more than once.
func (rr *RoomRecorder) Close() error {
	rr.mu.Lock()
	rr.closed = true
	active := make([]*TrackRecorder, 0, len(rr.active))
	for rec := range rr.active {
		active = append(active, rec)
	}
	rr.mu.Unlock()
	rr.cancel()
	for _, rec := range active {
		_ = rec.Close()
	}
	rr.wg.Wait()
	return nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// sanitize makes s safe in a file name.
func sanitize(s string) string {
	s = unsafeChars.ReplaceAllString(s, "-")
	if s == "" || s == "." || s == ".." {
		return "unnamed"
	}
	return s
}
