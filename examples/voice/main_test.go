package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"
	"go.uber.org/goleak"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/pkg/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangBound bounds waits that only end when something hung.
const hangBound = 30 * time.Second

// lines hands out what the bot prints, line by line.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line) // an unfinished line waits for its end
			return len(p), nil
		}
		select {
		case l.ch <- strings.TrimSuffix(line, "\n"):
		default: // the test stopped reading
		}
	}
}

// waitLine returns the next line the bot prints that starts with prefix.
func (l *lines) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(hangBound)
	for {
		select {
		case line := <-l.ch:
			t.Log("bot:", line)
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline:
			t.Fatalf("the bot printed no line starting with %q in %v", prefix, hangBound)
		}
	}
}

// heard is what alice receives from the bot, at 16 kHz mono.
type heard struct {
	mu  sync.Mutex
	pcm []int16
}

func (h *heard) WriteSample(pcm []int16) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pcm = append(h.pcm, pcm...)
	return nil
}

func (h *heard) Close() error { return nil }

func (h *heard) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pcm)
}

// burst waits for a loud stretch of the bot's voice that starts at or after
// sample from and is followed by 200 ms of quiet, and returns its bounds.
func (h *heard) burst(t *testing.T, from int) (start, end int) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		pcm := h.pcm
		h.mu.Unlock()
		start, end = -1, -1
		for i := from; i+frameLength <= len(pcm); i += frameLength {
			loud := level(pcm[i:i+frameLength]) > -30
			switch {
			case loud && start < 0:
				start = i
			case loud:
				end = -1
			case start >= 0 && end < 0:
				end = i
			case start >= 0 && i-end >= sampleRate/5:
				return start, end
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no burst of the bot's voice after %v of it in %v", duration(from), hangBound)
	return 0, 0
}

func (h *heard) span(start, end int) []int16 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pcm[start:end]
}

// turnLength reads the turn's length from the bot's "repeating alice's
// 1.02s turn".
func turnLength(t *testing.T, line string) time.Duration {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("no turn length in %q", line)
	}
	d, err := time.ParseDuration(f[2])
	if err != nil {
		t.Fatalf("no turn length in %q: %v", line, err)
	}
	return d
}

func level(pcm []int16) float64 {
	var sq float64
	for _, s := range pcm {
		sq += float64(s) * float64(s)
	}
	return dBFS(sq, len(pcm))
}

// frequency of a pure tone, from its rising zero crossings (the edges of
// a burst, faded and mixed with quiet, are left out by the callers).
func frequency(pcm []int16) float64 {
	first, last, n := -1, -1, 0
	for i := 1; i < len(pcm); i++ {
		if pcm[i-1] < 0 && pcm[i] >= 0 {
			if first < 0 {
				first = i
			} else {
				n++
			}
			last = i
		}
	}
	if n == 0 {
		return 0
	}
	return float64(n) * sampleRate / float64(last-first)
}

// TestVoiceBotGreetsRepeatsAndStopsWhenInterrupted runs the bot in a room
// on a real server with alice, who speaks with tones through a PCM track
// and listens to the bot at 16 kHz: she hears the greeting, then her own
// turn repeated after her pause, and a long turn of hers cut short when
// she speaks over its repeat.
func TestVoiceBotGreetsRepeatsAndStopsWhenInterrupted(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	opts, err := testclient.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	out := &lines{ch: make(chan string, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		ran <- run(ctx, srv.URL, lksdk.ConnectInfo{
			APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: "bot",
		}, DefaultConfig, out, opts...)
	}()
	defer func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(hangBound):
			t.Errorf("the bot did not stop in %v", hangBound)
		}
	}()

	h := &heard{}
	subscribed := make(chan *media.PCMRemoteTrack, 1)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		// A deep jitter buffer: this checks what alice hears, not how soon,
		// and under make test's load a packet held up past the default
		// 60 ms would be dropped as late and cut the bot's repeat short.
		pt, err := media.NewPCMRemoteTrack(track, h, media.WithTargetSampleRate(sampleRate), media.WithTargetChannels(1),
			media.WithJitterDelay(250*time.Millisecond, media.MaxJitterDelay))
		if err != nil {
			t.Errorf("NewPCMRemoteTrack: %v", err)
			return
		}
		subscribed <- pt
	}
	alice, err := lksdk.ConnectToRoom(srv.URL, lksdk.ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: "alice",
	}, cb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Disconnect()
	select {
	case pt := <-subscribed:
		defer pt.Close()
	case <-time.After(hangBound):
		t.Fatalf("alice was not subscribed to the bot's voice in %v", hangBound)
	}
	mic, err := media.NewPCMLocalTrack(sampleRate, 1, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()
	if _, err := alice.LocalParticipant.PublishTrack(mic, &lksdk.TrackPublicationOptions{Name: "mic"}); err != nil {
		t.Fatal(err)
	}
	out.waitLine(t, "listening to alice")

	// The greeting, once the bot hears alice's track: half a second of
	// the bot's tone.
	start, end := h.burst(t, 0)
	if f := frequency(h.span(start+2*frameLength, end-2*frameLength)); math.Abs(f-DefaultConfig.ToneHz) > 10 {
		t.Fatalf("the greeting's tone is %.1f Hz, want %.0f Hz", f, DefaultConfig.ToneHz)
	}
	// Under load a packet may come late and be concealed, so the length is
	// bounded, not matched.
	if got := duration(end - start); got < 250*time.Millisecond || got > 600*time.Millisecond {
		t.Errorf("the greeting lasted %v, want 500 ms", got)
	}

	// A turn of one second at 1 kHz, then silence: the bot repeats it.
	from := h.len()
	say := func(hz float64, d time.Duration) {
		t.Helper()
		if err := mic.WriteSampleContext(context.Background(), tone(hz, d)); err != nil {
			t.Fatal(err)
		}
	}
	say(1000, time.Second)
	turn := turnLength(t, out.waitLine(t, "repeating alice's"))
	if turn < 500*time.Millisecond || turn > 1100*time.Millisecond {
		t.Errorf("the bot heard a turn of %v from alice's 1 s", turn)
	}
	start, end = h.burst(t, from)
	if f := frequency(h.span(start+2*frameLength, end-2*frameLength)); math.Abs(f-1000) > 10 {
		t.Errorf("the repeat's tone is %.1f Hz, want 1000 Hz", f)
	}
	// The repeat is the turn the bot heard; its faded edges (below the
	// burst's -30 dBFS, above the turn's -40) and a concealed packet make
	// the difference.
	if got := duration(end - start); got < turn-200*time.Millisecond || got > turn+100*time.Millisecond {
		t.Errorf("the repeat of a %v turn lasted %v", turn, got)
	}

	// A turn of three seconds at 700 Hz; alice speaks again as soon as she
	// hears its repeat begin, and the repeat stops.
	from = h.len()
	say(700, 3*time.Second)
	out.waitLine(t, "repeating alice's")
	for deadline := time.Now().Add(hangBound); ; {
		n := h.len()
		if n-frameLength >= from && level(h.span(n-frameLength, n)) > -30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice heard no repeat of her long turn in %v", hangBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	say(1000, 300*time.Millisecond)
	line := out.waitLine(t, "alice interrupted")
	start, end = h.burst(t, from)
	if f := frequency(h.span(start+2*frameLength, end-2*frameLength)); math.Abs(f-700) > 10 {
		t.Errorf("the long turn's repeat is %.1f Hz, want 700 Hz", f)
	}
	if got := duration(end - start); got > 2*time.Second {
		t.Errorf("alice heard %v of the repeat of her 3 s turn though she interrupted it (%s)", got, line)
	}
}
