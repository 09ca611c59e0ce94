// Package lktest starts a real livekit-server for a test and stops it when
// the test ends.
package lktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/server-sdk-go/internal/lkserver"
)

// Option configures the server a test starts.
type Option func(*lkserver.Options)

// WithWebhook makes the server post its webhooks to urls.
func WithWebhook(urls ...string) Option {
	return func(o *lkserver.Options) { o.WebhookURLs = append(o.WebhookURLs, urls...) }
}

// WithKeys sets the server's API key and secret (the secret must be at least
// 32 characters).
func WithKeys(key, secret string) Option {
	return func(o *lkserver.Options) { o.APIKey, o.APISecret = key, secret }
}

// WithRoomDefaults sets how long empty rooms live (seconds), how long a room
// lives after its last participant left (seconds), and how many participants
// a room takes (0: no limit).
func WithRoomDefaults(emptyTimeout, departureTimeout, maxParticipants uint32) Option {
	return func(o *lkserver.Options) {
		o.EmptyTimeout, o.DepartureTimeout, o.MaxParticipants = emptyTimeout, departureTimeout, maxParticipants
	}
}

// Start launches a livekit-server for t on free loopback ports and returns
// once it answers. It is stopped when the test ends, and its log is added to
// the test's output if the test failed.
//
// In -short mode the test is skipped (the skip says so). Without a server
// binary the test fails, saying how to install one.
func Start(t testing.TB, opts ...Option) *lkserver.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: it needs a livekit-server")
	}
	var o lkserver.Options
	for _, opt := range opts {
		opt(&o)
	}
	return start(t, o)
}

func start(t testing.TB, o lkserver.Options) *lkserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := lkserver.Start(ctx, o)
	if err != nil {
		if errors.Is(err, lkserver.ErrBinaryNotFound) {
			t.Fatalf("this test needs a livekit-server: %v", err)
		}
		t.Fatalf("starting livekit-server: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if t.Failed() {
			t.Logf("--- livekit-server log (%s, node %s) ---\n%s", s.HTTPURL, s.NodeID(), s.Logs())
		}
	})
	return s
}

// RoomName returns a room name unique to this test and call.
func RoomName(t testing.TB) string {
	roomSeqMu.Lock()
	defer roomSeqMu.Unlock()
	roomSeq++
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%d", name, roomSeq)
}

var (
	roomSeqMu sync.Mutex
	roomSeq   int
)
