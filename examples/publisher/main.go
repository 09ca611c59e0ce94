// Command publisher joins a LiveKit room and publishes media files: .ivf
// (VP8, VP9, AV1), .h264 or .264 (H.264 Annex-B) and .ogg (Opus).
//
//	go run ./examples/publisher -room myroom -identity player video.ivf audio.ogg
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
	"sync"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go"
)

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to join")
	identity := flag.String("identity", "publisher", "participant identity")
	fps := flag.Float64("fps", 0, "video frame rate (0: from the file)")
	loop := flag.Bool("loop", false, "play the files over and over")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: publisher -url URL -api-key KEY -api-secret SECRET -room ROOM [-identity ID] [-fps N] [-loop] FILE...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, lksdk.ConnectInfo{
		APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity,
	}, flag.Args(), *fps, *loop); err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, info lksdk.ConnectInfo, files []string, fps float64, loop bool) error {
	room, err := lksdk.ConnectToRoom(url, info, &lksdk.RoomCallback{
		OnReconnecting: func() { fmt.Println("connection lost, reconnecting") },
		OnReconnected:  func() { fmt.Println("reconnected") },
	})
	if err != nil {
		return err
	}
	defer room.Disconnect()
	fmt.Printf("joined room %s as %s\n", room.Name(), info.ParticipantIdentity)

	var wg sync.WaitGroup
	tracks := map[string]*lksdk.LocalSampleTrack{}
	for _, file := range files {
		opts := []lksdk.ReaderSampleProviderOption{
			lksdk.ReaderTrackWithLoop(loop),
			lksdk.ReaderTrackWithStartOnSubscribe(),
			lksdk.ReaderTrackWithOnWriteComplete(wg.Done),
		}
		if fps > 0 {
			opts = append(opts, lksdk.ReaderTrackWithFrameDuration(time.Duration(float64(time.Second)/fps)))
		}
		track, err := lksdk.NewLocalFileTrack(file, opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		wg.Add(1)
		if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: filepath.Base(file)}); err != nil {
			return fmt.Errorf("publishing %s: %w", file, err)
		}
		tracks[filepath.Base(file)] = track
		fmt.Printf("publishing %s (%s)\n", file, track.Codec().MimeType)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			fmt.Println("all files sent")
			return nil
		case <-room.Done():
			return fmt.Errorf("disconnected: %s", room.DisconnectReason())
		case <-tick.C:
			for name, t := range tracks {
				st := t.Stats()
				fmt.Printf("  %-20s %6d samples %8d bytes\n", name, st.Samples, st.Bytes)
			}
		}
	}
}
