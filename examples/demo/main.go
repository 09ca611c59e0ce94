// Command demo shows the SDK at work against a LiveKit server: it creates a
// room, lists rooms, changes the room's metadata; one bot publishes a video
// and an audio file while another records them into ./demo-out; then it
// deletes the room. It prints the webhooks the server sends meanwhile.
//
// With LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET set it uses that
// server; otherwise it starts a local livekit-server (installed by
// `make deps`) on free loopback ports, and stops it when done.
//
//	make demo
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/pkg/recorder"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	url, key, secret := os.Getenv("LIVEKIT_URL"), os.Getenv("LIVEKIT_API_KEY"), os.Getenv("LIVEKIT_API_SECRET")
	local := url == ""
	if !local && (key == "" || secret == "") {
		return errors.New("LIVEKIT_URL is set: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET too")
	}
	if local {
		key, secret = "APIdemo", "demo-secret-demo-secret-demo-secret-demo"
	}

	// A webhook receiver on loopback, verifying with the same key pair.
	hooks := newHookLog()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hookURL := "http://" + ln.Addr().String() + "/webhook"
	mux := http.NewServeMux()
	mux.Handle("/webhook", lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(key, secret), hooks.receive))
	hookServer := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hookServer.Serve(ln) }()
	defer hookServer.Close()

	if local {
		step("starting a local livekit-server")
		srv, err := lkserver.Start(ctx, lkserver.Options{APIKey: key, APISecret: secret, WebhookURLs: []string{hookURL}})
		if err != nil {
			return err
		}
		defer func() {
			_ = srv.Close()
			step("local livekit-server stopped")
		}()
		url = srv.URL
		fmt.Printf("   server at %s, webhooks to %s\n", url, hookURL)
	} else {
		fmt.Printf("using %s; webhooks arrive only if that server posts them to %s\n", url, hookURL)
	}

	rooms := lksdk.NewRoomServiceClient(url, key, secret)
	name := fmt.Sprintf("demo-%d", time.Now().Unix())
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	step("creating room " + name)
	room, err := rooms.CreateRoom(callCtx, &livekit.CreateRoomRequest{
		Name: name, EmptyTimeout: 60, MaxParticipants: 10, Metadata: `{"purpose":"demo"}`,
	})
	if err != nil {
		return fmt.Errorf("CreateRoom: %w", err)
	}
	fmt.Printf("   sid %s, empty timeout %ds, max participants %d\n", room.Sid, room.EmptyTimeout, room.MaxParticipants)

	step("listing rooms")
	list, err := rooms.ListRooms(callCtx, &livekit.ListRoomsRequest{})
	if err != nil {
		return fmt.Errorf("ListRooms: %w", err)
	}
	for _, r := range list.Rooms {
		fmt.Printf("   %-28s %s participants=%d metadata=%s\n", r.Name, r.Sid, r.NumParticipants, r.Metadata)
	}

	step("updating the room's metadata")
	updated, err := rooms.UpdateRoomMetadata(callCtx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: `{"purpose":"demo","step":2}`})
	if err != nil {
		return fmt.Errorf("UpdateRoomMetadata: %w", err)
	}
	fmt.Printf("   metadata now %s\n", updated.Metadata)

	step("publishing testdata/vp8.ivf and testdata/opus.ogg, recording them into " + outDir)
	if err := roundTrip(ctx, url, key, secret, name, local, rooms); err != nil {
		return err
	}

	step("deleting the room")
	if _, err := rooms.DeleteRoom(callCtx, &livekit.DeleteRoomRequest{Room: name}); err != nil {
		return fmt.Errorf("DeleteRoom: %w", err)
	}

	if local {
		step("waiting for the server's webhooks")
		if err := hooks.waitFor(ctx, name, 15*time.Second, webhook.EventRoomStarted, webhook.EventParticipantJoined,
			webhook.EventTrackPublished, webhook.EventRoomFinished); err != nil {
			return err
		}
	}
	step("done")
	return nil
}

func step(s string) { fmt.Printf("== %s\n", s) }

const outDir = "demo-out"

// roundTrip has one bot publish the test files while another records the
// room, showing progress, and lists what was recorded.
func roundTrip(ctx context.Context, url, key, secret, room string, local bool, rooms *lksdk.RoomServiceClient) error {
	var opts []lksdk.ConnectOption
	if local {
		// The local server offers only loopback candidates.
		var err error
		if opts, err = testclient.Loopback(); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	rec, err := recorder.NewRoomRecorder(outDir)
	if err != nil {
		return err
	}
	info := func(identity string) lksdk.ConnectInfo {
		return lksdk.ConnectInfo{APIKey: key, APISecret: secret, RoomName: room, ParticipantIdentity: identity}
	}
	recorderBot, err := lksdk.ConnectToRoom(url, info("demo-recorder"), rec.Callback(), opts...)
	if err != nil {
		return fmt.Errorf("recorder joining: %w", err)
	}
	defer recorderBot.Disconnect()
	publisherBot, err := lksdk.ConnectToRoom(url, info("demo-publisher"), nil, opts...)
	if err != nil {
		return fmt.Errorf("publisher joining: %w", err)
	}
	defer publisherBot.Disconnect()

	done := make(chan string, 2)
	var tracks []*lksdk.LocalSampleTrack
	for _, file := range []string{"testdata/vp8.ivf", "testdata/opus.ogg"} {
		file := file
		track, err := lksdk.NewLocalFileTrack(file, lksdk.ReaderTrackWithStartOnSubscribe(),
			lksdk.ReaderTrackWithOnWriteComplete(func() { done <- file }))
		if err != nil {
			return err
		}
		if _, err := publisherBot.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: filepath.Base(file)}); err != nil {
			return fmt.Errorf("publishing %s: %w", file, err)
		}
		tracks = append(tracks, track)
	}
	if parts, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room}); err == nil {
		fmt.Printf("   %d participants in the room\n", len(parts.Participants))
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	timeout := time.After(60 * time.Second)
	for finished := 0; finished < len(tracks); {
		select {
		case <-done:
			finished++
		case <-tick.C:
			v, a := tracks[0].Stats(), tracks[1].Stats()
			fmt.Printf("   sent: %3d video frames, %3d audio packets | recorded:", v.Samples, a.Samples)
			for _, f := range rec.Files() {
				fmt.Printf(" %s %d", filepath.Ext(f.Path), f.Stats().FramesWritten)
			}
			fmt.Println()
		case <-timeout:
			return errors.New("the files were not sent within 60 s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(time.Second) // the last packets in flight
	publisherBot.Disconnect()
	recorderBot.Disconnect()
	if err := rec.Close(); err != nil {
		return err
	}
	step("recorded files")
	files := rec.Files()
	if len(files) != 2 {
		return fmt.Errorf("%d files recorded, expected 2", len(files))
	}
	for _, f := range files {
		st := f.Stats()
		fi, err := os.Stat(f.Path)
		if err != nil {
			return err
		}
		fmt.Printf("   %-50s %4d frames, %s, %d bytes", f.Path, st.FramesWritten, st.Duration.Round(10*time.Millisecond), fi.Size())
		if st.Width > 0 {
			fmt.Printf(", %dx%d", st.Width, st.Height)
		}
		fmt.Println()
		if st.FramesWritten == 0 || f.Failure() != nil {
			return fmt.Errorf("recording %s failed: %v", f.Path, f.Failure())
		}
	}
	return nil
}

// hookLog prints webhook events as they arrive and lets run wait for some.
type hookLog struct {
	mu      sync.Mutex
	seen    map[string]bool // event + room
	arrived chan struct{}
}

func newHookLog() *hookLog {
	return &hookLog{seen: map[string]bool{}, arrived: make(chan struct{}, 1)}
}

func (h *hookLog) receive(_ context.Context, ev *livekit.WebhookEvent) error {
	fmt.Printf("   webhook: %-18s room=%s id=%s\n", ev.Event, ev.GetRoom().GetName(), ev.Id)
	h.mu.Lock()
	h.seen[ev.Event+"/"+ev.GetRoom().GetName()] = true
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (h *hookLog) waitFor(ctx context.Context, room string, timeout time.Duration, events ...string) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		var missing []string
		h.mu.Lock()
		for _, e := range events {
			if !h.seen[e+"/"+room] {
				missing = append(missing, e)
			}
		}
		h.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-h.arrived:
		case <-deadline.C:
			return fmt.Errorf("webhooks not received within %s: %s", timeout, strings.Join(missing, ", "))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
