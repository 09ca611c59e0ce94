// Command voice is the skeleton of a voice agent, without the speech
// services: it joins a LiveKit room, greets each participant it hears with
// a WAV file or a tone, listens to each one at 16 kHz mono (the format speech-to-text
// services take), prints each one's speech level once a second, and, one
// second after a participant stops speaking, repeats what they said. When
// that participant speaks again while the bot repeats them, the bot stops
// at once (an interruption) and says how much of the repeat was played.
//
//	go run ./examples/voice -room myroom [-greet hello.wav]
//
// The server and credentials come from -url, -api-key and -api-secret, or
// LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
//
// pkg/media, which this command uses, needs libopus and its headers (make
// deps installs Debian's libopus-dev).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go"
)

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to join")
	identity := flag.String("identity", "voice-bot", "participant identity")
	greet := flag.String("greet", "", "WAV file to greet with (any rate, mono or stereo); a tone when empty")
	threshold := flag.Float64("threshold", DefaultConfig.SpeechThreshold, "level in dBFS above which a 20 ms frame is speech")
	pause := flag.Duration("pause", DefaultConfig.EndOfTurn, "silence that ends a participant's turn")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" {
		fmt.Fprintln(os.Stderr, "usage: voice -url URL -api-key KEY -api-secret SECRET -room ROOM [-greet FILE.wav] [-threshold dBFS] [-pause D] [-duration D]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	cfg := DefaultConfig
	cfg.Greeting = *greet
	cfg.SpeechThreshold = *threshold
	cfg.EndOfTurn = *pause
	info := lksdk.ConnectInfo{APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity}
	if err := run(ctx, *url, info, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "voice:", err)
		os.Exit(1)
	}
}

// DefaultConfig is what the command runs with unless its flags say otherwise.
var DefaultConfig = Config{
	SpeechThreshold: -40,
	EndOfTurn:       time.Second,
	MaxTurn:         20 * time.Second,
	ToneHz:          440,
}
