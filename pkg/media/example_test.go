package media_test

import (
	"context"
	"log"
	"os"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/media"
)

// A bot that says hello from a WAV file and records what each participant
// says as 16 kHz mono WAV, the format speech-to-text services take.
func Example() {
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if track.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		file, err := media.CreateWAVFile(rp.Identity()+".wav", 16000, 1)
		if err != nil {
			log.Print(err)
			return
		}
		// The file is finished when the track ends.
		if _, err := media.NewPCMRemoteTrack(track, file, media.WithTargetSampleRate(16000), media.WithTargetChannels(1)); err != nil {
			log.Print(err)
			_ = file.Close()
		}
	}
	room, err := lksdk.ConnectToRoom(os.Getenv("LIVEKIT_URL"), lksdk.ConnectInfo{
		APIKey:              os.Getenv("LIVEKIT_API_KEY"),
		APISecret:           os.Getenv("LIVEKIT_API_SECRET"),
		RoomName:            "lobby",
		ParticipantIdentity: "greeter",
	}, cb)
	if err != nil {
		log.Fatal(err)
	}
	defer room.Disconnect()

	voice, err := media.NewPCMLocalTrack(24000, 1, logr.Discard()) // a text-to-speech voice's rate
	if err != nil {
		log.Fatal(err)
	}
	defer voice.Close()
	if _, err := room.LocalParticipant.PublishTrack(voice, &lksdk.TrackPublicationOptions{Name: "voice"}); err != nil {
		log.Fatal(err)
	}
	hello, err := os.Open("hello.wav") // any rate and channels: converted to the track's
	if err != nil {
		log.Fatal(err)
	}
	defer hello.Close()
	ctx := context.Background()
	if err := voice.WriteWAV(ctx, hello); err != nil {
		log.Fatal(err)
	}
	if err := voice.WaitForPlayout(ctx); err != nil {
		log.Fatal(err)
	}
}

// An interruption: the participant spoke while the bot did, so the bot
// stops at once and learns how much of its answer was heard.
func ExamplePCMLocalTrack_ClearQueue() {
	voice, err := media.NewPCMLocalTrack(16000, 1, logr.Discard())
	if err != nil {
		log.Fatal(err)
	}
	defer voice.Close()
	answer := make([]int16, 16000*5) // 5 s of speech from a text-to-speech service
	go func() {
		// Waits while the queue is full; returns ErrQueueCleared once cleared.
		_ = voice.WriteSample(answer)
	}()

	// ... the participant starts speaking:
	played := voice.ClearQueue()
	log.Printf("interrupted after %v of the answer", played)
}
