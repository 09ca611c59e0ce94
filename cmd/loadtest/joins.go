package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	lksdk "github.com/livekit/server-sdk-go"
)

// joinPhases is what one join took, each from the start of the join.
type joinPhases struct {
	// subscriber: the subscriber peer connection reported connected.
	subscriber time.Duration
	// join: JoinWithContext returned (the primary connection is up and
	// the server's data channel open).
	join time.Duration
	// publisher: from the join's return until the first reliable data
	// packet was sent, which connects the publisher peer connection and
	// opens its data channel.
	publisher time.Duration
}

// runJoins measures joins instead of a steady state: n bots join, parallel
// of them at a time (each in a room of its own), and each then sends one
// reliable data packet, which connects its publisher connection. Once all
// have, they leave; the report gives the distribution of every phase.
func runJoins(ctx context.Context, cfg config, n, parallel int, w io.Writer, asJSON bool) error {
	if n < 1 || parallel < 1 {
		return fmt.Errorf("-joins %d -join-parallel %d: both must be at least 1", n, parallel)
	}
	var (
		mu     sync.Mutex
		phases []joinPhases
		rooms  []*lksdk.Room
		first  error
	)
	defer func() {
		var wg sync.WaitGroup
		for _, r := range rooms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Disconnect()
			}()
		}
		wg.Wait()
	}()
	begin := time.Now()
	for done := 0; done < n; done += parallel {
		batch := min(parallel, n-done)
		var wg sync.WaitGroup
		for i := done; i < done+batch; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room, p, err := measureJoin(ctx, cfg, i)
				mu.Lock()
				defer mu.Unlock()
				if room != nil {
					rooms = append(rooms, room)
				}
				if err != nil {
					if first == nil {
						first = err
					}
					return
				}
				phases = append(phases, p)
			}()
		}
		wg.Wait()
		if first != nil {
			return first
		}
		if parallel == 1 {
			// Sequential joins leave at once: the server then holds
			// one participant at a time, as it would for a single join.
			mu.Lock()
			for _, r := range rooms {
				r.Disconnect()
			}
			rooms = nil
			mu.Unlock()
		}
	}
	rep := joinReport{Joins: n, Parallel: parallel, Seconds: time.Since(begin).Seconds()}
	for _, ph := range []struct {
		name string
		get  func(joinPhases) time.Duration
	}{
		{"subscriber connected", func(p joinPhases) time.Duration { return p.subscriber }},
		{"join returned", func(p joinPhases) time.Duration { return p.join }},
		{"publisher (after the join)", func(p joinPhases) time.Duration { return p.publisher }},
		{"both connected (join + publisher)", func(p joinPhases) time.Duration {
			if p.join <= 0 || p.publisher <= 0 {
				return 0
			}
			return p.join + p.publisher
		}},
	} {
		d := make([]time.Duration, 0, len(phases))
		for _, p := range phases {
			if v := ph.get(p); v > 0 {
				d = append(d, v)
			}
		}
		rep.Phases = append(rep.Phases, summarize(ph.name, d))
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.write(w)
	return nil
}

// measureJoin joins bot i to a room of its own, then sends one reliable
// data packet; it returns the room (to be left) and the times.
func measureJoin(ctx context.Context, cfg config, i int) (*lksdk.Room, joinPhases, error) {
	var p joinPhases
	sink := &phaseSink{}
	room := lksdk.CreateRoom(nil)
	opts := append(append([]lksdk.ConnectOption(nil), cfg.connectOpts...), lksdk.WithLogger(logr.New(sink)))
	identity := fmt.Sprintf("join-%d", i)
	ctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	sink.begin = time.Now()
	err := room.JoinWithContext(ctx, cfg.url, lksdk.ConnectInfo{
		APIKey: cfg.key, APISecret: cfg.secret,
		RoomName: fmt.Sprintf("%s-%d", cfg.roomPrefix, i), ParticipantIdentity: identity,
	}, opts...)
	if err != nil {
		return nil, p, fmt.Errorf("%s: %w", identity, err)
	}
	p.join = time.Since(sink.begin)
	sent := time.Now()
	if err := room.LocalParticipant.PublishDataPacket(ctx, []byte("hello")); err != nil {
		return room, p, fmt.Errorf("%s: sending data: %w", identity, err)
	}
	p.publisher = time.Since(sent)
	p.subscriber = sink.connected("SUBSCRIBER")
	return room, p, nil
}

// phaseSink is a logger that takes from the SDK's verbose lines the moment
// each peer connection reported itself connected.
type phaseSink struct {
	begin time.Time
	mu    sync.Mutex
	at    map[string]time.Duration // target → since begin
}

func (s *phaseSink) Init(logr.RuntimeInfo)       {}
func (s *phaseSink) Enabled(level int) bool      { return level <= 1 }
func (s *phaseSink) Error(error, string, ...any) {}
func (s *phaseSink) WithValues(...any) logr.LogSink {
	return s
}
func (s *phaseSink) WithName(string) logr.LogSink { return s }

func (s *phaseSink) Info(_ int, msg string, kv ...any) {
	if msg != "peer connection state" {
		return
	}
	var target, state string
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "target":
			target = fmt.Sprint(kv[i+1])
		case "state":
			state = fmt.Sprint(kv[i+1])
		}
	}
	if state != "connected" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[string]time.Duration{}
	}
	if _, seen := s.at[target]; !seen {
		s.at[target] = time.Since(s.begin)
	}
}

// connected is when target first reported connected; 0 if it did not.
func (s *phaseSink) connected(target string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at[target]
}

// joinReport is what -joins prints; -json prints it as it is.
type joinReport struct {
	Joins    int            `json:"joins"`
	Parallel int            `json:"parallel"`
	Seconds  float64        `json:"seconds"`
	Phases   []phaseSummary `json:"phases"`
}

// phaseSummary is the distribution of one phase's times, in milliseconds.
type phaseSummary struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	// Histogram counts the times in each bucket of histogramBounds (the
	// last bucket: at least the last bound).
	Histogram []int `json:"histogram"`
	// Slowest are the five longest times, longest first.
	Slowest []float64 `json:"slowest_ms"`
}

// histogramBounds are the upper bounds of the histogram's buckets, in ms.
var histogramBounds = []float64{25, 50, 100, 200, 400, 800, 1200, 1600, 3200}

func summarize(name string, d []time.Duration) phaseSummary {
	s := phaseSummary{Name: name, Count: len(d), Histogram: make([]int, len(histogramBounds)+1)}
	if len(d) == 0 {
		return s
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1
		return ms(d[max(0, min(i, len(d)-1))])
	}
	s.P50, s.P95, s.P99, s.Max = rank(0.50), rank(0.95), rank(0.99), ms(d[len(d)-1])
	for _, v := range d {
		b := sort.SearchFloat64s(histogramBounds, ms(v))
		s.Histogram[b]++
	}
	for i := len(d) - 1; i >= 0 && len(s.Slowest) < 5; i-- {
		s.Slowest = append(s.Slowest, ms(d[i]))
	}
	return s
}

func (r joinReport) write(w io.Writer) {
	fmt.Fprintf(w, "%d joins, %d at a time, in %.1f s\n\n", r.Joins, r.Parallel, r.Seconds)
	fmt.Fprintf(w, "%-32s %6s %8s %8s %8s %8s\n", "phase (ms)", "count", "p50", "p95", "p99", "max")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "%-32s %6d %8.1f %8.1f %8.1f %8.1f\n", p.Name, p.Count, p.P50, p.P95, p.P99, p.Max)
	}
	for _, p := range r.Phases {
		if p.Count == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", p.Name)
		lo := 0.0
		for i, c := range p.Histogram {
			label := fmt.Sprintf("≥ %.0f", lo)
			if i < len(histogramBounds) {
				label = fmt.Sprintf("%.0f–%.0f", lo, histogramBounds[i])
				lo = histogramBounds[i]
			}
			bar := strings.Repeat("#", (c*50+p.Count-1)/p.Count)
			fmt.Fprintf(w, "  %10s ms %5d %s\n", label, c, bar)
		}
	}
}
