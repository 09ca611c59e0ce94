package lksdk_test

import (
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// lineLog records the lines logged to it, at every verbosity.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, args)
		l.mu.Unlock()
	}, funcr.Options{Verbosity: 10})
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func TestRoomLoggerGetsEveryLineOfTheRoom(t *testing.T) {
	srv := lktest.Start(t)
	noLeaks(t)
	pkg, own := &lineLog{}, &lineLog{}
	lksdk.SetLogger(pkg.logger())
	t.Cleanup(func() {
		lksdk.SetLogger(funcr.New(func(prefix, args string) { log.Printf("livekit: %s %s", prefix, args) }, funcr.Options{}))
	})

	reconnected := make(chan struct{}, 1)
	r, err := lksdk.ConnectToRoom(srv.URL, info(srv, lktest.RoomName(t), "alice"),
		&lksdk.RoomCallback{OnReconnected: func() { reconnected <- struct{}{} }},
		append(loopback(t), lksdk.WithLogger(own.logger()))...)
	require.NoError(t, err)
	r.Simulate(lksdk.SimulateSignalReconnect)
	recv(t, reconnected, 20*time.Second, "the resume")
	r.DisconnectWithReason(livekit.DisconnectReason_USER_UNAVAILABLE)

	lines := own.all()
	for _, want := range []string{"joined room", "signal connection lost", "connection lost, recovering", "connection recovered", "leaving room"} {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, want)
		}
		require.True(t, found, "the room's logger has no %q line; it has:\n%s", want, strings.Join(lines, "\n"))
	}
	require.Empty(t, pkg.all(), "lines of the room went to the package logger")
}
