// Command recorder joins a LiveKit room and records every track published
// in it into a directory: VP8, VP9 and AV1 to .ivf, H.264 to .h264, Opus to
// .ogg, one file per track, named by participant and track.
//
//	go run ./examples/recorder -room myroom -dir recordings -duration 1m
//
// The server and credentials come from -url, -api-key and -api-secret, or
// LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/recorder"
)

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to record")
	identity := flag.String("identity", "recorder", "participant identity")
	dir := flag.String("dir", "recordings", "directory for the files")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" {
		fmt.Fprintln(os.Stderr, "usage: recorder -url URL -api-key KEY -api-secret SECRET -room ROOM [-dir DIR] [-duration D]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, *url, lksdk.ConnectInfo{
		APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity,
	}, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "recorder:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, info lksdk.ConnectInfo, dir string) error {
	rec, err := recorder.NewRoomRecorder(dir)
	if err != nil {
		return err
	}
	rec.OnRecordingStarted(func(f *recorder.RecordedFile) {
		fmt.Printf("recording %s's %q into %s\n", f.Participant, f.TrackName, f.Path)
	})
	room, err := lksdk.ConnectToRoom(url, info, rec.Callback())
	if err != nil {
		return err
	}
	fmt.Printf("recording room %s into %s\n", room.Name(), dir)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-room.Done():
			break loop
		case <-tick.C:
			for _, f := range rec.Files() {
				st := f.Stats()
				fmt.Printf("  %-40s %6d frames %s\n", filepath.Base(f.Path), st.FramesWritten, st.Duration.Round(time.Millisecond))
			}
		}
	}
	room.Disconnect()
	if err := rec.Close(); err != nil {
		return err
	}
	fmt.Println("files:")
	for _, f := range rec.Files() {
		st := f.Stats()
		fmt.Printf("  %s: %d frames, %s, %d dropped, %d gaps\n", f.Path, st.FramesWritten, st.Duration.Round(time.Millisecond), st.FramesDropped, st.Gaps)
	}
	return nil
}
