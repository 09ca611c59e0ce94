package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/ffprobe"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/pkg/recorder"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangBound bounds waits that only end when something hung.
const hangBound = 60 * time.Second

// Frames in one play of the test files.
const (
	vp8Frames   = 240
	opusPackets = 401
)

// bot is one instance of the command in the test's room.
type bot struct {
	mu    sync.Mutex
	files []*recorder.RecordedFile
	ran   chan error
}

func (b *bot) recordings() []*recorder.RecordedFile {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*recorder.RecordedFile(nil), b.files...)
}

// recordedEnough reports whether the bot has written a whole play of each
// file the other publishes.
func (b *bot) recordedEnough() bool {
	var video, audio bool
	for _, f := range b.recordings() {
		st := f.Stats()
		switch f.MimeType {
		case "video/VP8":
			video = video || st.FramesWritten >= vp8Frames
		case "audio/opus":
			audio = audio || st.FramesWritten >= opusPackets
		}
	}
	return video && audio
}

// TestTwoBotsRecordEachOtherDecrypted runs two instances of the bot in one
// room on a real server; each publishes the VP8 and Opus test files
// encrypted with the passphrase and records the other's tracks. The files
// they write decode: FFmpeg reads nearly every frame written, and nearly
// every frame received decrypted.
func TestTwoBotsRecordEachOtherDecrypted(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	opts, err := testclient.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	bots := map[string]*bot{}
	for _, id := range []string{"alice", "bob"} {
		b := &bot{ran: make(chan error, 1)}
		bots[id] = b
		cfg := Config{
			URL:        srv.URL,
			Info:       lksdk.ConnectInfo{APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: id},
			Passphrase: "the room's passphrase",
			Video:      filepath.Join("..", "..", "testdata", "vp8.ivf"),
			Audio:      filepath.Join("..", "..", "testdata", "opus.ogg"),
			Dir:        t.TempDir(),
			Loop:       true,
			Connect:    opts,
			OnRecording: func(f *recorder.RecordedFile) {
				b.mu.Lock()
				b.files = append(b.files, f)
				b.mu.Unlock()
			},
		}
		go func() { b.ran <- Run(ctx, cfg) }()
	}

	deadline := time.Now().Add(hangBound)
	for !bots["alice"].recordedEnough() || !bots["bob"].recordedEnough() {
		for id, b := range bots {
			select {
			case err := <-b.ran:
				t.Fatalf("%s stopped early: %v", id, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bots did not record a whole play of each other's files in %v", hangBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	for id, b := range bots {
		select {
		case err := <-b.ran:
			if err != nil && err != context.Canceled {
				t.Fatalf("%s: %v", id, err)
			}
		case <-time.After(hangBound):
			t.Fatalf("%s did not stop", id)
		}
	}

	for id, b := range bots {
		files := b.recordings()
		if len(files) != 2 {
			t.Fatalf("%s recorded %d tracks, want 2", id, len(files))
		}
		for _, f := range files {
			if err := f.Failure(); err != nil {
				t.Fatalf("%s: %s: %v", id, f.Path, err)
			}
			if f.Participant == id {
				t.Fatalf("%s recorded its own track", id)
			}
			st := f.Stats()
			res := ffprobe.Probe(t, f.Path)
			t.Logf("%s recorded %s's %s: %d frames written, %d did not decrypt; ffprobe decodes %d %s frames",
				id, f.Participant, f.MimeType, st.FramesWritten, st.TransformFailed, res.Frames, res.Codec)
			if res.Frames*100 < st.FramesWritten*95 {
				t.Fatalf("%s: ffprobe decodes %d of the %d frames written", f.Path, res.Frames, st.FramesWritten)
			}
			if st.TransformFailed*100 > (st.FramesWritten+st.TransformFailed)*5 {
				t.Fatalf("%s: %d frames did not decrypt, %d did", f.Path, st.TransformFailed, st.FramesWritten)
			}
		}
	}
}
