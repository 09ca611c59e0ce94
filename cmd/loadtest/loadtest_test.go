package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// TestMain fails the tests if a bot's goroutine outlives them.
// The floor's sink process is this test binary run again.
func TestMain(m *testing.M) {
	if os.Getenv(floorSinkEnv) == "1" {
		if err := runFloorSink(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestFloorRun sends the media from bare pion connections to the sink
// process and checks that it arrived and that the sender's cost was measured.
func TestFloorRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: it opens peer connections on loopback")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := runFloor(ctx, config{
		publishers: 2, duration: 2 * time.Second,
		video: filepath.Join("..", "..", "testdata", "vp8.ivf"),
		audio: filepath.Join("..", "..", "testdata", "opus.ogg"),
	})
	require.NoError(t, err)
	// 2 connections × (≈50 audio + ≈30 video packets a second) × 3 s or more.
	require.Greater(t, res.Video.Packets, int64(300), "packets the sink received")
	require.Positive(t, res.Process.CPUPercent)
	require.Positive(t, res.Process.RSSBytes)
}

// TestLoadRun runs a small load against a real server and checks that the
// report counts what the bots really did: every track published and
// subscribed, media of both kinds at every subscriber, and the process
// figures filled in.
func TestLoadRun(t *testing.T) {
	srv := lktest.Start(t)
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	var progress bytes.Buffer
	cfg := config{
		url: srv.URL, key: srv.APIKey, secret: srv.APISecret,
		publishers: 2, subscribers: 3, rooms: 2,
		duration: 3 * time.Second, connectTimeout: 30 * time.Second,
		video:      filepath.Join("..", "..", "testdata", "vp8.ivf"),
		audio:      filepath.Join("..", "..", "testdata", "opus.ogg"),
		roomPrefix: lktest.RoomName(t), connectOpts: opts, progress: &progress,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	require.NoError(t, err)

	// Rooms 0 and 1 get one publisher each; subscribers 0 and 2 are in room
	// 0, subscriber 1 in room 1: 3 subscribers × 1 publisher × 2 tracks.
	require.EqualValues(t, 4, res.TracksPublished)
	require.EqualValues(t, 6, res.TracksSubscribed)
	require.Equal(t, 3, res.Video.Tracks)
	require.Equal(t, 3, res.Audio.Tracks)
	require.Positive(t, res.Video.Frames)
	require.Positive(t, res.Audio.Packets)
	require.Positive(t, res.SubscriberVideoFPS[0], "a subscriber received no video")
	require.Positive(t, res.Process.CPUPercent)
	require.Positive(t, res.Process.RSSBytes)
	require.Positive(t, res.Process.Goroutines)
	require.Positive(t, res.ConnectMs[0])
	require.Contains(t, progress.String(), "tracks 4/6")

	var table bytes.Buffer
	res.writeTable(&table)
	for _, want := range []string{"connect latency", "video received", "audio received", "process CPU", "goroutines"} {
		require.True(t, strings.Contains(table.String(), want), "table lacks %q:\n%s", want, table.String())
	}
}

func TestPercentiles(t *testing.T) {
	var l latencies
	require.Equal(t, [3]time.Duration{}, func() [3]time.Duration { a, b, c := l.percentiles(); return [3]time.Duration{a, b, c} }())
	for i := 100; i >= 1; i-- {
		l.add(time.Duration(i) * time.Millisecond)
	}
	p50, p95, p99 := l.percentiles()
	require.Equal(t, 50*time.Millisecond, p50)
	require.Equal(t, 95*time.Millisecond, p95)
	require.Equal(t, 99*time.Millisecond, p99)
}

func TestSequenceLoss(t *testing.T) {
	s := &streamStats{video: true}
	// 65530 … 65535, 0 … 9 with 3 and 4 missing, one reordered, one marker.
	for _, seq := range []uint16{65530, 65531, 65533, 65532, 65534, 65535, 0, 1, 2, 5, 6, 7, 8, 9} {
		s.add(seq, seq == 9, 100)
	}
	require.EqualValues(t, 16, s.expected.Load())
	require.EqualValues(t, 14, s.packets.Load())
	require.EqualValues(t, 1, s.frames.Load())
	tot := sumStreams([]*streamStats{s}, true, time.Second)
	require.EqualValues(t, 2, tot.Lost)
}

// TestJoinsRun measures joins one after another and at once, and checks
// that every join and every phase of it was counted.
func TestJoinsRun(t *testing.T) {
	srv := lktest.Start(t)
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, parallel := range []int{1, 3} {
		cfg := config{
			url: srv.URL, key: srv.APIKey, secret: srv.APISecret,
			connectTimeout: 30 * time.Second,
			roomPrefix:     lktest.RoomName(t), connectOpts: opts,
		}
		var out bytes.Buffer
		require.NoError(t, runJoins(ctx, cfg, 3, parallel, &out, false))
		text := out.String()
		require.Contains(t, text, fmt.Sprintf("3 joins, %d at a time", parallel))
		for _, phase := range []string{"subscriber connected", "join returned", "publisher (after the join)"} {
			require.Regexp(t, regexp.QuoteMeta(phase)+` +3 `, text, "phase %q not counted three times:\n%s", phase, text)
		}
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*10*time.Millisecond)
	}
	s := summarize("x", d)
	require.Equal(t, 100, s.Count)
	require.InDelta(t, 500, s.P50, 1e-9)
	require.InDelta(t, 990, s.P99, 1e-9)
	require.InDelta(t, 1000, s.Max, 1e-9)
	require.Equal(t, []float64{1000, 990, 980, 970, 960}, s.Slowest)
	total := 0
	for _, c := range s.Histogram {
		total += c
	}
	require.Equal(t, 100, total)
	require.Equal(t, 2, s.Histogram[0], "10 and 20 ms are under 25 ms")
}

// With -e2ee the publishers' frames are sealed on the way out (a frame the
// encryptor failed on would be dropped), and they still reach subscribers.
func TestLoadRunEncrypted(t *testing.T) {
	srv := lktest.Start(t)
	opts, err := testclient.Loopback()
	require.NoError(t, err)
	cfg := config{
		url: srv.URL, key: srv.APIKey, secret: srv.APISecret,
		publishers: 1, subscribers: 1, rooms: 1,
		duration: 2 * time.Second, connectTimeout: 30 * time.Second,
		video:      filepath.Join("..", "..", "testdata", "vp8.ivf"),
		audio:      filepath.Join("..", "..", "testdata", "opus.ogg"),
		roomPrefix: lktest.RoomName(t), connectOpts: opts, e2ee: "load passphrase",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	require.NoError(t, err)
	require.EqualValues(t, 2, res.TracksPublished)
	require.Positive(t, res.Video.Frames, "encrypted video reached the subscriber")
	require.Positive(t, res.Audio.Packets, "encrypted audio reached the subscriber")
}
