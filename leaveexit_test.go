package lksdk_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// departures records, by identity, how the participants that left a room
// left it.
type departures struct {
	mu   sync.Mutex
	seen map[string]chan departure
}

type departure struct {
	at     time.Time
	reason livekit.DisconnectReason
}

func newDepartures() *departures { return &departures{seen: map[string]chan departure{}} }

func (d *departures) ch(identity string) chan departure {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.seen[identity]
	if c == nil {
		c = make(chan departure, 1)
		d.seen[identity] = c
	}
	return c
}

func (d *departures) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) {
		d.ch(rp.Identity()) <- departure{at: time.Now(), reason: rp.ParticipantInfo().GetDisconnectReason()}
	}}
}

// runChild runs the test binary as a participant process (see
// runTestChild) and returns when it has exited, with the time it exited.
func runChild(t *testing.T, srv *lkserver.Server, mode, room, identity, file string) time.Time {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		"LKSDK_TEST_CHILD="+mode,
		"LKSDK_CHILD_URL="+srv.URL,
		"LKSDK_CHILD_KEYS="+srv.APIKey+":"+srv.APISecret,
		"LKSDK_CHILD_ROOM="+room,
		"LKSDK_CHILD_IDENTITY="+identity,
		"LKSDK_CHILD_FILE="+file,
		// The race detector would otherwise wait a second in os.Exit.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "the participant process %s failed:\n%s", identity, out.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the participant process %s did not exit within 60 s:\n%s", identity, out.String())
	}
	return time.Now()
}

// A program that publishes a file, calls Disconnect from OnWriteComplete and
// exits at once has told the server it left: the other participant sees it
// leave because it asked to (CLIENT_INITIATED), not because the server gave
// up on a vanished connection.
func TestDisconnectFromOnWriteCompleteThenExit(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	file := filepath.Join(t.TempDir(), "short.ivf")
	require.NoError(t, os.WriteFile(file, shortIVF(t, "vp8.ivf", 15), 0o600))
	left := newDepartures()
	join(t, srv, room, "observer", left.callback())

	const runs, together = 20, 4
	var delays []time.Duration
	for first := 0; first < runs; first += together {
		var wg sync.WaitGroup
		exited := make([]time.Time, together)
		for i := range together {
			wg.Add(1)
			go func() {
				defer wg.Done()
				exited[i] = runChild(t, srv, "leave", room, fmt.Sprintf("bot-%d", first+i), file)
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for i := range together {
			identity := fmt.Sprintf("bot-%d", first+i)
			d := recv(t, left.ch(identity), 20*time.Second, identity+" to leave")
			require.Equal(t, livekit.DisconnectReason_CLIENT_INITIATED.String(), d.reason.String(),
				"%s left because it said so, not because the server gave up on it", identity)
			delays = append(delays, d.at.Sub(exited[i]))
		}
	}
	t.Logf("the observer saw each of %d processes leave, %v after it exited", runs, delays)
}
