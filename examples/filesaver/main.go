// Command filesaver joins a LiveKit room as a bot and saves every VP8,
// H.264 and Opus track it subscribes to into a file, until interrupted:
// VP8 to .ivf, H.264 to .h264 and Opus to .ogg, with pion's writers fed
// through pkg/samplebuilder.
//
//	go run ./examples/filesaver -host ws://localhost:7880 -api-key KEY -api-secret SECRET -room-name myroom
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	lksdk "github.com/livekit/server-sdk-go"
)

func main() {
	host := flag.String("host", "ws://localhost:7880", "LiveKit server URL")
	key := flag.String("api-key", "", "API key")
	secret := flag.String("api-secret", "", "API secret")
	room := flag.String("room-name", "", "room to join")
	identity := flag.String("identity", "filesaver", "participant identity")
	dir := flag.String("dir", ".", "directory for the files")
	flag.Parse()
	if *key == "" || *secret == "" || *room == "" {
		fmt.Fprintln(os.Stderr, "usage: filesaver -host URL -api-key KEY -api-secret SECRET -room-name ROOM [-identity ID] [-dir DIR]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	info := lksdk.ConnectInfo{APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity}
	if err := run(ctx, *host, info, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "filesaver:", err)
		os.Exit(1)
	}
}

// run joins the room and saves tracks into dir until ctx is done or the
// room is disconnected, then finishes the files.
func run(ctx context.Context, host string, info lksdk.ConnectInfo, dir string, opts ...lksdk.ConnectOption) error {
	saver, err := NewSaver(dir)
	if err != nil {
		return err
	}
	room, err := lksdk.ConnectToRoom(host, info, saver.Callback(), opts...)
	if err != nil {
		return err
	}
	fmt.Printf("saving the tracks of room %s into %s\n", room.Name(), dir)
	select {
	case <-ctx.Done():
	case <-room.Done():
	}
	room.Disconnect()
	err = saver.Close()
	for _, f := range saver.Files() {
		fmt.Printf("  %s: %s's %q (%s)\n", f.Path, f.Participant, f.TrackName, f.MimeType)
	}
	return err
}
