package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

// RoomRecorder records every track a room subscribes to, each into its own
// file in a directory, named after the participant and the track:
// "alice_camera_TR_xxxx.ivf" (see the package documentation for how names
// are made safe, short and unique). Give its Callback to ConnectToRoom;
// recording stops cleanly when the room is disconnected, or on Close.
//
// What other participants send is bounded: each file by the options given
// (WithMaxFileBytes, WithMaxDuration, WithMaxGapFill), and the number of
// files by WithMaxFiles. RoomStats counts what reached a bound.
type RoomRecorder struct {
	dir      string
	opts     []Option
	maxFiles int
	log      logr.Logger
	tf       TransformerFunc

	mu      sync.Mutex
	active  map[*TrackRecorder]*RecordedFile
	files   []*RecordedFile
	names   map[string]int
	stats   RoomStats
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	onStart func(*RecordedFile)
	onEnd   func(*RecordedFile)
}

// RoomStats counts what a RoomRecorder did with the tracks it was given.
type RoomStats struct {
	// Files counts the files opened (or attempted: a file that could not
	// be created counts too), at most the WithMaxFiles bound.
	Files int
	// Recording is how many tracks are being recorded now.
	Recording int
	// Refused counts tracks not recorded because WithMaxFiles files had
	// been opened.
	Refused int
	// Unsupported counts tracks not recorded because of their codec.
	Unsupported int
	// Failed counts recordings that could not start or ended with an
	// error (a limit reached included), as RecordedFile.Failure reports.
	Failed int
}

// RecordedFile is one track's recording.
type RecordedFile struct {
	// Path is the file's path; "" when no file was opened (see Failure).
	Path        string
	Participant string // identity
	TrackSID    string
	TrackName   string
	MimeType    string
	// Err is why the recording ended early or could not start, if it did.
	// It is set when the recording ends: read it with Failure, which is
	// safe at any time; reading Err itself is safe only once the
	// RoomRecorder's Close has returned.
	Err error

	mu  sync.Mutex // guards Err
	rec *TrackRecorder
}

// Failure returns why the recording ended early or could not start: an
// error wrapping ErrLimitReached at a bound, ErrUnsupportedCodec for a
// codec the package does not record, or the error that stopped it; nil
// while it runs and after it ended normally (the track ended or the
// recorder was closed). It is safe to call at any time.
func (f *RecordedFile) Failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Err
}

func (f *RecordedFile) setFailure(err error) {
	f.mu.Lock()
	f.Err = err
	f.mu.Unlock()
}

// Stats returns the recording's figures so far (zero if no file was
// opened).
func (f *RecordedFile) Stats() Stats {
	if f.rec == nil {
		return Stats{}
	}
	return f.rec.Stats()
}

// NewRoomRecorder records into dir, which is created if needed. opts apply
// to every track's recorder (WithKeyFrameRequester is set for each track),
// and WithMaxFiles to the room recorder.
func NewRoomRecorder(dir string, opts ...Option) (*RoomRecorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &RoomRecorder{
		dir: dir, opts: opts, maxFiles: o.maxFiles, log: o.logger, tf: o.transformerFunc, ctx: ctx, cancel: cancel,
		active: map[*TrackRecorder]*RecordedFile{}, names: map[string]int{},
	}, nil
}

// OnRecordingStarted sets a function called when a track starts being
// recorded, before its first packet is written.
func (rr *RoomRecorder) OnRecordingStarted(f func(*RecordedFile)) {
	rr.mu.Lock()
	rr.onStart = f
	rr.mu.Unlock()
}

// OnRecordingEnded sets a function called once for every subscribed track
// the recorder was given: when its recording ends (the file is then
// complete), or at once when it could not start (unsupported codec, the
// WithMaxFiles bound, a file that could not be created). Failure tells
// why, nil for a normal end. It is called without the recorder's lock
// held, from the recording's goroutine or the room's callback.
func (rr *RoomRecorder) OnRecordingEnded(f func(*RecordedFile)) {
	rr.mu.Lock()
	rr.onEnd = f
	rr.mu.Unlock()
}

// Stats returns the recorder's counters.
func (rr *RoomRecorder) Stats() RoomStats {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	s := rr.stats
	s.Recording = len(rr.active)
	return s
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
	mime := track.Codec().MimeType
	f := &RecordedFile{Participant: rp.Identity(), TrackSID: pub.SID(), TrackName: pub.Name(), MimeType: mime}
	// The transformer is made before the lock is taken: rr.tf is user code.
	var transformer lksdk.FrameTransformer
	var transformErr error
	if rr.tf != nil {
		transformer, transformErr = rr.tf(track, pub, rp)
	}
	rr.mu.Lock()
	if rr.closed {
		rr.mu.Unlock()
		return
	}
	onEnd := rr.onEnd
	ext, err := ExtensionFor(mime)
	if err != nil {
		rr.stats.Unsupported++
		rr.mu.Unlock()
		rr.ended(onEnd, f, err)
		return
	}
	if rr.stats.Files >= rr.maxFiles {
		rr.stats.Refused++
		rr.stats.Failed++
		rr.mu.Unlock()
		rr.ended(onEnd, f, fmt.Errorf("%w: %d files opened", ErrLimitReached, rr.maxFiles))
		return
	}
	rr.stats.Files++
	rr.files = append(rr.files, f)
	var file *os.File
	err = transformErr
	if err == nil {
		file, err = rr.create(trackFileBase(rp.Identity(), pub.Name(), pub.SID()), ext)
	}
	var rec *TrackRecorder
	if err == nil {
		f.Path = file.Name()
		opts := append(append([]Option(nil), rr.opts...), WithKeyFrameRequester(func() { rp.WritePLI(track.SSRC()) }))
		if transformer != nil {
			opts = append(opts, WithFrameTransformer(transformer))
		}
		if rec, err = NewTrackRecorderWriter(track, file, opts...); err != nil {
			file.Close()
			os.Remove(file.Name())
		} else {
			rec.file = file
		}
	}
	if err != nil {
		rr.stats.Failed++
		rr.mu.Unlock()
		rr.ended(onEnd, f, fmt.Errorf("recorder: %s: %w", pub.SID(), err))
		return
	}
	f.rec = rec
	rr.active[rec] = f
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
		if errors.Is(err, context.Canceled) {
			err = nil // the recorder was closed
		}
		rr.mu.Lock()
		delete(rr.active, rec)
		if err != nil {
			rr.stats.Failed++
		}
		onEnd := rr.onEnd
		rr.mu.Unlock()
		rr.ended(onEnd, f, err)
	}()
}

// ended records why f ended and tells onEnd. rr.mu must not be held.
func (rr *RoomRecorder) ended(onEnd func(*RecordedFile), f *RecordedFile, err error) {
	f.setFailure(err)
	if err != nil && !errors.Is(err, ErrUnsupportedCodec) {
		rr.log.Info("recorder: track not recorded to the end", "participant", f.Participant, "track", f.TrackSID, "error", err.Error())
	}
	if onEnd != nil {
		onEnd(f)
	}
}

// create opens a new file named base plus ext in the directory, never one
// that exists already (as from an earlier run): on a clash it tries
// base-2, base-3 and so on. rr.mu must be held.
func (rr *RoomRecorder) create(base, ext string) (*os.File, error) {
	const attempts = 1000
	var err error
	for i := 0; i < attempts; i++ {
		rr.names[base]++
		name := base
		if n := rr.names[base]; n > 1 {
			name = fmt.Sprintf("%s-%d", base, n) // subscribed again, after a reconnect
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(rr.dir, name+ext), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free file name for %s%s after %d attempts: %w", base, ext, attempts, err)
}

// Files returns every recording made so far, in the order they started,
// including those whose file could not be created (Path "", Failure set).
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
