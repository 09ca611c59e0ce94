package lksdk_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

// The README's examples, kept here so that `go test` compiles them.

func getJoinToken(apiKey, apiSecret, room, identity string) (string, error) {
	at := auth.NewAccessToken(apiKey, apiSecret)
	grant := &auth.VideoGrant{
		RoomJoin: true,
		Room:     room,
	}
	at.AddGrant(grant).
		SetIdentity(identity).
		SetValidFor(time.Hour)

	return at.ToJWT()
}

// Create a token that lets a participant join a room.
func Example_tokenCreation() {
	token, err := getJoinToken("api-key", "api-secret-api-secret-api-secret", "myroom", "participantIdentity")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(token) > 0)
	// Output: true
}

// The same, from a ConnectInfo.
func ExampleNewJoinToken() {
	token, err := lksdk.NewJoinToken(lksdk.ConnectInfo{
		APIKey:              "api-key",
		APISecret:           "api-secret-api-secret-api-secret",
		RoomName:            "myroom",
		ParticipantIdentity: "botuser",
		ParticipantName:     "Bot",
	}, nil, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(token) > 0)
	// Output: true
}

func ExampleNewRoomServiceClient() {
	host := "host"
	apiKey := "key"
	apiSecret := "secret"

	roomName := "myroom"
	identity := "participantIdentity"

	roomClient := lksdk.NewRoomServiceClient(host, apiKey, apiSecret)

	// create a new room
	room, _ := roomClient.CreateRoom(context.Background(), &livekit.CreateRoomRequest{
		Name: roomName,
	})

	// list rooms
	res, _ := roomClient.ListRooms(context.Background(), &livekit.ListRoomsRequest{})
	_ = res

	// terminate a room and cause participants to leave
	roomId := room.GetName() // DeleteRoom takes the room's name
	roomClient.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{
		Room: roomId,
	})

	// list participants in a room
	participants, _ := roomClient.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{
		Room: roomName,
	})
	_ = participants

	// disconnect a participant from room
	roomClient.RemoveParticipant(context.Background(), &livekit.RoomParticipantIdentity{
		Room:     roomName,
		Identity: identity,
	})

	// mute/unmute participant's tracks
	roomClient.MutePublishedTrack(context.Background(), &livekit.MuteRoomTrackRequest{
		Room:     roomName,
		Identity: identity,
		TrackSid: "track_sid",
		Muted:    true,
	})
}

const apiKey, apiSecret = "api-key", "api-secret-api-secret-api-secret"

var authProvider = auth.NewSimpleKeyProvider(
	apiKey, apiSecret,
)

func ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// event is a livekit.WebhookEvent{} object
	event, err := webhook.ReceiveWebhookEvent(r, authProvider)
	if err != nil {
		// could not validate, handle error
		return
	}

	// consume WebhookEvent
	_ = event
}

// Receive webhooks with protocol's webhook package, in a handler of your own.
func Example_receiveWebhook() {
	http.HandleFunc("/livekit/webhook", ServeHTTP)
}

// Receive webhooks with a handler that answers the server with the right
// status for each failure.
func ExampleNewWebhookHandler() {
	h := lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(apiKey, apiSecret),
		func(ctx context.Context, event *livekit.WebhookEvent) error {
			log.Printf("%s in room %s", event.Event, event.GetRoom().GetName())
			return nil
		})
	http.Handle("/livekit/webhook", h)
}

// Join a room as a participant and be told of every track subscribed.
func Example_participant() {
	host := "<host>"
	apiKey := "api-key"
	apiSecret := "api-secret"
	roomName := "myroom"
	identity := "botuser"
	roomCB := &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: trackSubscribed,
		},
	}
	room, err := lksdk.ConnectToRoom(host, lksdk.ConnectInfo{
		APIKey:              apiKey,
		APISecret:           apiSecret,
		RoomName:            roomName,
		ParticipantIdentity: identity,
	}, roomCB)
	if err != nil {
		panic(err)
	}

	// ...
	room.Disconnect()
}

func trackSubscribed(track *webrtc.TrackRemote, publication *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {

}

// Send data to some participants, on a topic, and receive it with its
// sender.
func ExampleLocalParticipant_PublishDataPacket() {
	room, err := lksdk.ConnectToRoom("wss://my.livekit.host", lksdk.ConnectInfo{
		APIKey: apiKey, APISecret: apiSecret, RoomName: "myroom", ParticipantIdentity: "bot",
	}, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(data []byte, params lksdk.DataReceiveParams) {
			log.Printf("%s on %q: %s", params.SenderIdentity, params.Topic, data)
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer room.Disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = room.LocalParticipant.PublishDataPacket(ctx, []byte(`{"type":"hello"}`),
		lksdk.WithDataTopic("chat"), lksdk.WithDataDestinations("alice", "bob"))
	if err != nil {
		log.Print(err)
	}
}

// The README's "Publish from file": the seed passed the file name as
// PublishTrack's second argument, which takes *TrackPublicationOptions; the
// name goes in its Name field.
func publishFromFile(room *lksdk.Room) error {
	file := "video.ivf"
	track, err := lksdk.NewLocalFileTrack(file,
		// control FPS to ensure synchronization
		lksdk.ReaderTrackWithFrameDuration(33*time.Millisecond),
		lksdk.ReaderTrackWithOnWriteComplete(func() { fmt.Println("track finished") }),
	)
	if err != nil {
		return err
	}
	if _, err = room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: file}); err != nil {
		return err
	}
	return nil
}

// The README's "Publish from io.ReadCloser".
func publishFromReader(room *lksdk.Room, in io.ReadCloser, mime string) error {
	// - `in` implements io.ReadCloser, such as buffer or file
	// - `mime` has to be one of webrtc.MimeType...
	track, err := lksdk.NewLocalReaderTrack(in, mime,
		lksdk.ReaderTrackWithFrameDuration(33*time.Millisecond),
		lksdk.ReaderTrackWithOnWriteComplete(func() { fmt.Println("track finished") }),
	)
	if err != nil {
		return err
	}
	if _, err = room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{}); err != nil {
		return err
	}
	return nil
}

// Publish a video file and an audio file from a bot.
func ExampleNewLocalFileTrack() {
	room, err := lksdk.ConnectToRoom("wss://my.livekit.host", lksdk.ConnectInfo{
		APIKey: apiKey, APISecret: apiSecret, RoomName: "myroom", ParticipantIdentity: "player",
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer room.Disconnect()
	if err := publishFromFile(room); err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("audio.ogg")
	if err != nil {
		log.Fatal(err)
	}
	if err := publishFromReader(room, f, webrtc.MimeTypeOpus); err != nil {
		log.Fatal(err)
	}
}

// Send three encodings of one video as a simulcast track; each subscriber
// gets the layer that fits it.
func ExampleLocalParticipant_PublishSimulcastTrack() {
	var room *lksdk.Room // connected
	var layers []*lksdk.LocalSampleTrack
	for _, l := range []struct {
		file    string
		quality livekit.VideoQuality
		w, h    uint32
	}{
		{"low.ivf", livekit.VideoQuality_LOW, 320, 180},
		{"mid.ivf", livekit.VideoQuality_MEDIUM, 640, 360},
		{"high.ivf", livekit.VideoQuality_HIGH, 1280, 720},
	} {
		track, err := lksdk.NewLocalFileTrack(l.file, lksdk.ReaderTrackWithSampleTrackOptions(
			lksdk.WithSimulcast("camera", &livekit.VideoLayer{Quality: l.quality, Width: l.w, Height: l.h})))
		if err != nil {
			log.Fatal(err)
		}
		layers = append(layers, track)
	}
	if _, err := room.LocalParticipant.PublishSimulcastTrack(layers, &lksdk.TrackPublicationOptions{Name: "camera"}); err != nil {
		log.Fatal(err)
	}
}
