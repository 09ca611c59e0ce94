package lksdk

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// testChildEnv, when set in the environment of the test binary, makes it run
// as a participant process for a test instead of running the tests; see
// runTestChild.
const testChildEnv = "LKSDK_TEST_CHILD"

// runTestChild is a participant in a process of its own, as a user's program
// is: it joins the room named by the environment, publishes the IVF file
// LKSDK_CHILD_FILE and, when the file ends, does what mode says inside
// OnWriteComplete, then exits with status 0 at once:
//
//	leave: Disconnect, then exit
//	exit:  exit without Disconnect (the control case)
//
// Any failure exits with status 2 and says why on stderr.
func runTestChild(mode string) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "test child: "+format+"\n", args...)
		os.Exit(2)
	}
	env := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			fail("%s is not set", k)
		}
		return v
	}
	api, err := NewWebRTCAPI(loopbackSettingEngine())
	if err != nil {
		fail("%v", err)
	}
	keys := strings.SplitN(env("LKSDK_CHILD_KEYS"), ":", 2)
	room, err := ConnectToRoom(env("LKSDK_CHILD_URL"), ConnectInfo{
		APIKey: keys[0], APISecret: keys[1], RoomName: env("LKSDK_CHILD_ROOM"), ParticipantIdentity: env("LKSDK_CHILD_IDENTITY"),
	}, nil, WithWebRTCAPI(api), WithICEServers())
	if err != nil {
		fail("joining: %v", err)
	}
	track, err := NewLocalFileTrack(env("LKSDK_CHILD_FILE"), ReaderTrackWithOnWriteComplete(func() {
		switch mode {
		case "leave":
			room.Disconnect()
		case "exit":
		default:
			fail("unknown mode %q", mode)
		}
		os.Exit(0)
	}))
	if err != nil {
		fail("%v", err)
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &TrackPublicationOptions{Name: "file"}); err != nil {
		fail("publishing: %v", err)
	}
	time.Sleep(30 * time.Second)
	fail("the file did not end within 30 s")
}
