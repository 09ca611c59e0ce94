// Command loadtest runs many publishing and subscribing bots in one process
// against a LiveKit server and reports what they cost and what arrived.
//
//	go run ./cmd/loadtest -publishers 50 -subscribers 0 -rooms 50 -duration 15s
//	go run ./cmd/loadtest -url wss://… -api-key … -api-secret … -publishers 10 -subscribers 10 -rooms 1
//
// Publisher i joins room i mod R and publishes the video and audio files in
// a loop; subscriber j joins room j mod R and subscribes to everything. All
// bots connect at once. After they have connected, the steady-state window
// of -duration begins: progress is printed once a second, and at the end a
// table (or, with -json, one JSON object) gives connect latency, tracks,
// bitrate, packet loss and frames per kind, and this process's CPU, resident
// memory and goroutines in total and per bot, measured over the window.
//
// With -joins N it measures joining instead: N bots join (-join-parallel of
// them at a time, each in a room of its own), each connects its publisher by
// sending one data packet, and a table and histograms give each phase's
// p50/p95/p99/max:
//
//	go run ./cmd/loadtest -joins 200
//	go run ./cmd/loadtest -joins 50 -join-parallel 50
//
// Without -url (or LIVEKIT_URL) it starts a local livekit-server (installed
// by `make deps`) on free loopback ports and keeps all media on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/testclient"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// config is one run's settings.
type config struct {
	url, key, secret string
	publishers       int
	subscribers      int
	rooms            int
	duration         time.Duration
	connectTimeout   time.Duration
	video, audio     string
	roomPrefix       string
	connectOpts      []lksdk.ConnectOption
	progress         io.Writer // nil: no progress lines
	cpuProfile       string    // file for a CPU profile of the window
	// retransmissionBuffer, when set, gives the bots an API of their own
	// with that NACK buffer (lksdk.WithRetransmissionBuffer).
	retransmissionBuffer int
	memProfile           string // file for a heap profile at the window's end
	// joins, when set, measures that many joins instead (runJoins),
	// joinParallel of them at a time.
	joins, joinParallel int
	// loopback keeps the bots' media on loopback with -url too, as it is
	// without (for a server on this machine).
	loopback bool
	// e2ee, when set, is the passphrase the publishers encrypt their
	// frames with (pkg/e2ee), publishing them as GCM-encrypted tracks.
	e2ee string
}

func main() {
	cfg := config{roomPrefix: fmt.Sprintf("load-%d", time.Now().Unix())}
	root := moduleRoot()
	flag.StringVar(&cfg.url, "url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL (empty: start a local server)")
	flag.StringVar(&cfg.key, "api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	flag.StringVar(&cfg.secret, "api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	flag.IntVar(&cfg.publishers, "publishers", 1, "publishing bots")
	flag.IntVar(&cfg.subscribers, "subscribers", 1, "subscribing bots")
	flag.IntVar(&cfg.rooms, "rooms", 1, "rooms the bots are spread over")
	flag.DurationVar(&cfg.duration, "duration", 15*time.Second, "steady-state window, after every bot has connected")
	flag.DurationVar(&cfg.connectTimeout, "connect-timeout", 60*time.Second, "bound on connecting and publishing")
	flag.StringVar(&cfg.video, "video", filepath.Join(root, "testdata", "vp8_640x360.ivf"), "video file to publish (empty: none)")
	flag.StringVar(&cfg.audio, "audio", filepath.Join(root, "testdata", "opus.ogg"), "audio file to publish (empty: none)")
	flag.IntVar(&cfg.retransmissionBuffer, "retransmission-buffer", 0, "sent video packets kept per track for NACKs (0: the SDK's default)")
	flag.IntVar(&cfg.joins, "joins", 0, "measure this many joins instead: each bot joins a room of its own, connects its publisher by sending one data packet, and the report gives each phase's distribution")
	flag.IntVar(&cfg.joinParallel, "join-parallel", 1, "with -joins: how many bots join at once (1: one after another, each leaving before the next joins)")
	flag.BoolVar(&cfg.loopback, "loopback", false, "with -url: gather only loopback candidates and use no ICE servers, as against the local server")
	flag.StringVar(&cfg.e2ee, "e2ee", "", "encrypt the publishers' frames end to end with this passphrase (pkg/e2ee), to set their cost beside unencrypted ones")
	floor := flag.Bool("floor", false, "measure the floor instead: the same media from bare pion peer connections (pion's defaults) to a sink process")
	asJSON := flag.Bool("json", false, "print the result as one JSON object")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the steady-state window to this file")
	flag.StringVar(&cfg.memProfile, "memprofile", "", "write a heap profile at the end of the window to this file")
	flag.Parse()

	if os.Getenv(floorSinkEnv) == "1" {
		if err := runFloorSink(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest floor sink:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *floor {
		res, err := runFloor(ctx, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest -floor:", err)
			os.Exit(1)
		}
		res.write(os.Stdout, *asJSON, true)
		return
	}
	if err := runMain(ctx, cfg, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func runMain(ctx context.Context, cfg config, asJSON bool) error {
	local := cfg.url == ""
	if local {
		srv, err := lkserver.Start(ctx, lkserver.Options{})
		if err != nil {
			return fmt.Errorf("starting a local livekit-server: %w", err)
		}
		defer srv.Close()
		cfg.url, cfg.key, cfg.secret = srv.URL, srv.APIKey, srv.APISecret
		if err := cfg.useAPI(testclient.LoopbackSettingEngine(), true); err != nil {
			return err
		}
	} else if cfg.key == "" || cfg.secret == "" {
		return errors.New("-url is set: set -api-key and -api-secret (or LIVEKIT_API_KEY/LIVEKIT_API_SECRET) too")
	} else if cfg.loopback {
		if err := cfg.useAPI(testclient.LoopbackSettingEngine(), true); err != nil {
			return err
		}
	}
	if cfg.retransmissionBuffer != 0 && !local && !cfg.loopback {
		if err := cfg.useAPI(webrtc.SettingEngine{}, false); err != nil {
			return err
		}
	}
	if cfg.joins > 0 {
		return runJoins(ctx, cfg, cfg.joins, cfg.joinParallel, os.Stdout, asJSON)
	}
	if !asJSON {
		cfg.progress = os.Stdout
	}
	res, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	return res.write(os.Stdout, asJSON, false)
}

// run connects the bots, measures the steady-state window and disconnects.
func run(ctx context.Context, cfg config) (*result, error) {
	if cfg.rooms < 1 || cfg.publishers < 0 || cfg.subscribers < 0 || cfg.publishers+cfg.subscribers == 0 {
		return nil, errors.New("need at least one room and one bot")
	}
	f := &fleet{cfg: cfg, allSubscribed: make(chan struct{})}
	if cfg.e2ee != "" {
		// One key provider for the fleet: the key is derived once, as a
		// process of bots sharing a room's passphrase would.
		kp, err := e2ee.NewExternalKeyProvider()
		if err == nil {
			err = kp.SetKeyFromPassphrase(cfg.e2ee, 0)
		}
		if err != nil {
			return nil, fmt.Errorf("e2ee: %w", err)
		}
		f.keys = kp
	}
	if f.expectedSubscriptions() == 0 {
		close(f.allSubscribed)
	}
	defer f.stop()

	before := sampleProcess()
	connectCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	begin := time.Now()
	f.start(connectCtx)
	cancel()
	connectPhase := time.Since(begin)
	if n := f.failed.Load(); n > 0 {
		err, _ := f.firstErr.Load().(error)
		return nil, fmt.Errorf("%d bots failed to connect or publish; first: %w", n, err)
	}
	if cfg.progress != nil {
		fmt.Fprintf(cfg.progress, "connected %d bots in %v; measuring for %v\n",
			cfg.publishers+cfg.subscribers, connectPhase.Round(time.Millisecond), cfg.duration)
	}

	// Wait for every subscription, and one second more for the replayed
	// groups of pictures that start them, before measuring.
	if err := f.waitSubscribed(ctx, cfg.connectTimeout); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Second):
	}
	startCounts := totals(f.streams(), time.Second)
	startFrames := f.videoFramesPerSubscriber()
	if cfg.cpuProfile != "" {
		stopProfile, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer stopProfile()
	}
	start := sampleProcess()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(cfg.duration)
	last := start
	lastCounts := startCounts
measure:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-end:
			break measure
		case <-tick.C:
			now := sampleProcess()
			counts := totals(f.streams(), time.Second)
			if cfg.progress != nil {
				v, a := counts.video.minus(lastCounts.video), counts.audio.minus(lastCounts.audio)
				fmt.Fprintf(cfg.progress, "%5.0fs  tracks %d/%d  video %6.0f kbps %5.0f fps  audio %5.0f kbps  loss %.2f%%/%.2f%%  cpu %5.1f%%  rss %4.0f MB  goroutines %d\n",
					now.at.Sub(start.at).Seconds(), f.published.Load(), f.subscribed.Load(),
					float64(v.Bytes)*8/1000/now.at.Sub(last.at).Seconds(), float64(v.Frames)/now.at.Sub(last.at).Seconds(),
					float64(a.Bytes)*8/1000/now.at.Sub(last.at).Seconds(),
					counts.video.LossPct, counts.audio.LossPct,
					cpuPercent(last, now), float64(now.rss)/1e6, now.goroutines)
			}
			last, lastCounts = now, counts
		}
	}
	stop := sampleProcess()
	window := stop.at.Sub(start.at)
	if cfg.memProfile != "" {
		if err := writeHeapProfile(cfg.memProfile); err != nil {
			return nil, err
		}
	}
	endCounts := totals(f.streams(), window)

	res := &result{
		Publishers: cfg.publishers, Subscribers: cfg.subscribers, Rooms: cfg.rooms,
		WindowSeconds: window.Seconds(), ConnectPhaseMs: ms(connectPhase),
		TracksPublished: f.published.Load(), TracksSubscribed: f.subscribed.Load(),
		Video:      endCounts.video.minus(startCounts.video).rates(window),
		Audio:      endCounts.audio.minus(startCounts.audio).rates(window),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	p50, p95, p99 := f.connect.percentiles()
	res.ConnectMs = [3]float64{ms(p50), ms(p95), ms(p99)}
	frames := f.videoFramesPerSubscriber()
	for i := range frames {
		if i < len(startFrames) {
			frames[i] -= startFrames[i]
		}
	}
	res.SubscriberVideoFPS = minMeanRate(frames, window)
	res.Process = figures(before, start, stop, cfg.publishers+cfg.subscribers)
	return res, nil
}

// useAPI makes every bot's peer connections come from one API built from se
// with the run's options; a loopback run also uses no ICE servers.
func (cfg *config) useAPI(se webrtc.SettingEngine, loopback bool) error {
	var opts []lksdk.WebRTCAPIOption
	if cfg.retransmissionBuffer < 0 || cfg.retransmissionBuffer > 1<<15 {
		return fmt.Errorf("-retransmission-buffer %d: must be a power of two up to 32768", cfg.retransmissionBuffer)
	}
	if cfg.retransmissionBuffer != 0 {
		opts = append(opts, lksdk.WithRetransmissionBuffer(uint16(cfg.retransmissionBuffer)))
	}
	api, err := lksdk.NewWebRTCAPIWithOptions(se, opts...)
	if err != nil {
		return err
	}
	cfg.connectOpts = append(cfg.connectOpts, lksdk.WithWebRTCAPI(api))
	if loopback {
		cfg.connectOpts = append(cfg.connectOpts, lksdk.WithICEServers())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// moduleRoot is the directory holding go.mod above the working directory,
// or the working directory.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
