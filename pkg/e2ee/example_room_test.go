package e2ee_test

import (
	"log"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// A bot that joins a room encrypted with a passphrase, sends its data
// encrypted and publishes a file whose frames are encrypted.
func Example_room() {
	keys, err := e2ee.NewExternalKeyProvider()
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.SetKeyFromPassphrase("the room's passphrase", 0); err != nil {
		log.Fatal(err)
	}
	data, _ := e2ee.NewDataCryptor(keys)
	room, err := lksdk.ConnectToRoom("ws://localhost:7880", lksdk.ConnectInfo{
		APIKey: "key", APISecret: "secret", RoomName: "room", ParticipantIdentity: "bot",
	}, lksdk.NewRoomCallback(), lksdk.WithDataCryptor(data))
	if err != nil {
		log.Fatal(err)
	}
	defer room.Disconnect()

	frames, err := e2ee.NewTrackEncryptor(keys, "bot", webrtc.MimeTypeVP8)
	if err != nil {
		log.Fatal(err)
	}
	track, err := lksdk.NewLocalFileTrack("video.ivf",
		lksdk.ReaderTrackWithSampleTrackOptions(lksdk.WithFrameTransformer(frames)))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "video", Encryption: livekit.Encryption_GCM,
	}); err != nil {
		log.Fatal(err)
	}
}
