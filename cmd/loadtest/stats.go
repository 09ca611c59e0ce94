package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// streamStats counts what one subscribed track delivered. It is written by
// the track's reader goroutine and read by the reporter, so every field is
// atomic.
type streamStats struct {
	video bool

	packets atomic.Int64
	bytes   atomic.Int64
	frames  atomic.Int64
	// expected is the number of packets the sequence numbers span so far.
	expected atomic.Int64

	// Only the reader goroutine touches these.
	started  bool
	firstSeq int64
	lastSeq  int64 // extended: counts wraparounds
}

// addRTP records one received RTP packet, reading only the fixed header.
func (s *streamStats) addRTP(b []byte) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return
	}
	s.add(uint16(b[2])<<8|uint16(b[3]), b[1]&0x80 != 0, len(b))
}

// add records one received packet.
func (s *streamStats) add(sequence uint16, marker bool, size int) {
	s.packets.Add(1)
	s.bytes.Add(int64(size))
	if !s.video || marker {
		// A video frame ends with the marker bit; every audio packet is one.
		s.frames.Add(1)
	}
	seq := int64(sequence)
	if !s.started {
		s.started, s.firstSeq, s.lastSeq = true, seq, seq
	} else {
		// Extend the 16-bit number to the one nearest the last seen.
		ext := s.lastSeq&^0xFFFF | seq
		switch {
		case ext < s.lastSeq-0x8000:
			ext += 0x10000
		case ext > s.lastSeq+0x8000:
			ext -= 0x10000
		}
		if ext > s.lastSeq {
			s.lastSeq = ext
		}
	}
	s.expected.Store(s.lastSeq - s.firstSeq + 1)
}

// kindTotals sums the streams of one kind.
type kindTotals struct {
	Tracks   int     `json:"tracks"`
	Packets  int64   `json:"packets"`
	Lost     int64   `json:"lost"`
	LossPct  float64 `json:"loss_percent"`
	Bytes    int64   `json:"bytes"`
	Kbps     float64 `json:"kbps"`
	Frames   int64   `json:"frames"`
	FPSTrack float64 `json:"frames_per_second_per_track"`
}

func sumStreams(streams []*streamStats, video bool, elapsed time.Duration) kindTotals {
	var t kindTotals
	var expected int64
	for _, s := range streams {
		if s.video != video {
			continue
		}
		t.Tracks++
		t.Packets += s.packets.Load()
		t.Bytes += s.bytes.Load()
		t.Frames += s.frames.Load()
		expected += s.expected.Load()
	}
	if expected > t.Packets {
		t.Lost = expected - t.Packets
	}
	if expected > 0 {
		t.LossPct = 100 * float64(t.Lost) / float64(expected)
	}
	if sec := elapsed.Seconds(); sec > 0 {
		t.Kbps = float64(t.Bytes) * 8 / 1000 / sec
		if t.Tracks > 0 {
			t.FPSTrack = float64(t.Frames) / sec / float64(t.Tracks)
		}
	}
	return t
}

// latencies collects connect times.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// percentiles returns p50, p95 and p99 (nearest rank), zero when empty.
func (l *latencies) percentiles() (p50, p95, p99 time.Duration) {
	l.mu.Lock()
	d := append([]time.Duration(nil), l.d...)
	l.mu.Unlock()
	if len(d) == 0 {
		return 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(d) {
			i = len(d) - 1
		}
		return d[i]
	}
	return rank(0.50), rank(0.95), rank(0.99)
}

// procSample is this process's resource use at one moment.
type procSample struct {
	at         time.Time
	cpu        time.Duration // user + system
	rss        int64         // bytes
	goroutines int
}

func sampleProcess() procSample {
	s := procSample{at: time.Now(), goroutines: runtime.NumGoroutine(), rss: residentBytes()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

// cpuPercent is the CPU used between a and b, in percent of one core.
func cpuPercent(a, b procSample) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.cpu-a.cpu) / float64(wall)
}

// residentBytes reads VmRSS from /proc (Linux); 0 elsewhere.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

// figures is the cost of bots over the window from start to stop; before
// is the process before they connected.
func figures(before, start, stop procSample, bots int) processFigures {
	n := float64(bots)
	cpu := cpuPercent(start, stop)
	return processFigures{
		CPUPercent:       cpu,
		RSSBytes:         stop.rss,
		RSSGrowthBytes:   stop.rss - before.rss,
		Goroutines:       stop.goroutines,
		CPUPerBot:        cpu / 100 / n,
		RSSPerBotBytes:   float64(stop.rss-before.rss) / n,
		GoroutinesPerBot: float64(stop.goroutines-before.goroutines) / n,
	}
}
