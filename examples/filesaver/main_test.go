package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/ffprobe"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func source(name string) string { return filepath.Join("..", "..", "testdata", name) }

// TestFileSaverRecordsVP8AndOpus publishes the VP8 and Opus test files
// into a room on a real server, runs the file saver in it, and decodes
// what it wrote with ffprobe.
func TestFileSaverRecordsVP8AndOpus(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	opts, err := testclient.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- run(ctx, srv.URL, lksdk.ConnectInfo{
			APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: "saver",
		}, dir, opts...)
	}()

	alice, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: "alice",
	}, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Disconnect()
	files := []string{"vp8.ivf", "opus.ogg"}
	done := make(chan string, len(files))
	for _, name := range files {
		track, err := lksdk.NewLocalFileTrack(source(name), lksdk.ReaderTrackWithStartOnSubscribe(),
			lksdk.ReaderTrackWithOnWriteComplete(func() { done <- name }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
			Name: strings.TrimSuffix(name, filepath.Ext(name)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range files {
		select {
		case <-done:
		case err := <-ran:
			t.Fatalf("the saver stopped early: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("files not sent in 30 s")
		}
	}
	time.Sleep(time.Second) // the last packets in flight
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the saver did not stop within 15 s of its context ending")
	}

	for _, tc := range []struct{ src, saved, codec string }{
		{"vp8.ivf", "alice_vp8_TR_*.ivf", "vp8"},
		{"opus.ogg", "alice_opus_TR_*.ogg", "opus"},
	} {
		matches, err := filepath.Glob(filepath.Join(dir, tc.saved))
		if err != nil || len(matches) != 1 {
			t.Fatalf("files matching %s: %v (%v)", tc.saved, matches, err)
		}
		want := ffprobe.Probe(t, source(tc.src))
		got := ffprobe.Probe(t, matches[0])
		t.Logf("%s: ffprobe decoded %d %s frames of the source's %d (%.1f%%)",
			filepath.Base(matches[0]), got.Frames, got.Codec, want.Frames, 100*float64(got.Frames)/float64(want.Frames))
		if got.Codec != tc.codec {
			t.Fatalf("%s holds %s, want %s", matches[0], got.Codec, tc.codec)
		}
		if float64(got.Frames) < 0.95*float64(want.Frames) {
			t.Fatalf("%s: ffprobe decoded %d frames, fewer than 95%% of the source's %d", matches[0], got.Frames, want.Frames)
		}
	}
}
