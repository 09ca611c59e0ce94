// Command e2ee is a bot in an end-to-end encrypted LiveKit room: it joins
// with the room's passphrase, publishes a VP8 (IVF) and an Opus (Ogg) file
// with their frames encrypted, sends and receives its data encrypted, and
// records what the others publish, decrypted, into a folder.
//
//	go run ./examples/e2ee -url ws://localhost:7880 -api-key KEY -api-secret SECRET \
//		-room myroom -passphrase 'the room passphrase' -video testdata/vp8.ivf -audio testdata/opus.ogg
//
// The URL, key and secret default to LIVEKIT_URL, LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET. A browser with livekit-client joined with the same
// passphrase (ExternalE2EEKeyProvider.setKey) sees and hears the files, and
// the bot records the browser's camera and microphone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
	"github.com/livekit/server-sdk-go/pkg/recorder"
)

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to join")
	identity := flag.String("identity", "e2ee-bot", "participant identity")
	passphrase := flag.String("passphrase", "", "the room's end-to-end encryption passphrase")
	video := flag.String("video", "", "VP8 IVF file to publish, looped (none when empty)")
	audio := flag.String("audio", "", "Opus Ogg file to publish, looped (none when empty)")
	dir := flag.String("dir", "recordings", "folder for the recordings of the others' tracks")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" || *passphrase == "" {
		fmt.Fprintln(os.Stderr, "usage: e2ee -url URL -api-key KEY -api-secret SECRET -room ROOM -passphrase PASS [-identity ID] [-video F.ivf] [-audio F.ogg] [-dir DIR] [-duration D]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	cfg := Config{
		URL:        *url,
		Info:       lksdk.ConnectInfo{APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity},
		Passphrase: *passphrase, Video: *video, Audio: *audio, Dir: *dir,
	}
	if err := Run(ctx, cfg); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "e2ee:", err)
		os.Exit(1)
	}
}

// Config is what the bot does.
type Config struct {
	URL        string
	Info       lksdk.ConnectInfo
	Passphrase string
	Video      string // VP8 IVF file to publish, or ""
	Audio      string // Opus Ogg file to publish, or ""
	Dir        string // where the others' tracks are recorded
	// Loop makes the files play again and again (the command always
	// loops).
	Loop bool
	// Connect are more options for the room (tests use them).
	Connect []lksdk.ConnectOption
	// OnRecording, if set, is told of each recording when it starts;
	// its Stats tell how it goes.
	OnRecording func(*recorder.RecordedFile)
}

// Run joins the room encrypted, publishes the files, records the others
// and returns when ctx is done or the room is disconnected, once the
// recordings are finished.
func Run(ctx context.Context, cfg Config) error {
	keys, err := e2ee.NewExternalKeyProvider()
	if err != nil {
		return err
	}
	if err := keys.SetKeyFromPassphrase(cfg.Passphrase, 0); err != nil {
		return err
	}
	// What the bot sends is encrypted: its tracks' frames and its data.
	encryption, err := e2ee.NewEncryptionOptions(keys)
	if err != nil {
		return err
	}

	// The others' tracks are recorded decrypted; a participant without
	// the passphrase shows up as frames that do not decrypt.
	rec, err := recorder.NewRoomRecorder(cfg.Dir, recorder.WithFrameTransformerFunc(e2ee.TrackDecryptors(keys, nil)))
	if err != nil {
		return err
	}
	rec.OnRecordingEnded(func(f *recorder.RecordedFile) {
		st := f.Stats()
		fmt.Printf("recorded %s's %q into %s: %d frames, %d did not decrypt\n",
			f.Participant, f.TrackName, f.Path, st.FramesWritten, st.TransformFailed)
	})
	if cfg.OnRecording != nil {
		rec.OnRecordingStarted(cfg.OnRecording)
	}
	cb := rec.Callback()
	cb.OnDataReceived = func(payload []byte, rp *lksdk.RemoteParticipant) {
		if rp != nil {
			fmt.Printf("data from %s: %q\n", rp.Identity(), payload)
		}
	}
	// Each participant that joins is greeted with encrypted data, from a
	// goroutine: callbacks must not wait on the network.
	var greeting sync.WaitGroup
	defer greeting.Wait() // after the room is left (deferred below)
	var room *lksdk.Room
	joined := make(chan struct{})
	cb.OnParticipantConnected = func(rp *lksdk.RemoteParticipant) {
		greeting.Add(1)
		go func() {
			defer greeting.Done()
			<-joined
			if room == nil {
				return // the join failed
			}
			hello := []byte("hello from " + cfg.Info.ParticipantIdentity)
			if err := room.LocalParticipant.PublishDataPacket(ctx, hello, lksdk.WithDataReliable(true),
				lksdk.WithDataDestinations(rp.Identity())); err != nil {
				fmt.Printf("could not greet %s: %v\n", rp.Identity(), err)
			}
		}()
	}

	opts := append([]lksdk.ConnectOption{lksdk.WithEncryption(encryption)}, cfg.Connect...)
	room, err = lksdk.ConnectToRoom(cfg.URL, cfg.Info, cb, opts...)
	close(joined)
	if err != nil {
		_ = rec.Close()
		return err
	}
	defer func() {
		room.Disconnect()
		_ = rec.Close()
	}()
	fmt.Printf("joined room %s as %s, encrypted\n", room.Name(), cfg.Info.ParticipantIdentity)

	for _, file := range []string{cfg.Video, cfg.Audio} {
		if file == "" {
			continue
		}
		if err := publish(room, file, cfg.Loop); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-room.Done():
		return nil
	}
}

// publish publishes a media file; the room encrypts its frames with the
// bot's key and announces the track as encrypted, so that subscribers
// decrypt it.
func publish(room *lksdk.Room, file string, loop bool) error {
	track, err := lksdk.NewLocalFileTrack(file, lksdk.ReaderTrackWithLoop(loop))
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: name}); err != nil {
		return fmt.Errorf("publishing %s: %w", file, err)
	}
	fmt.Printf("publishing %s encrypted (%s)\n", file, track.Codec().MimeType)
	return nil
}
