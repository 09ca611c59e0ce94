package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// result is what a run reports; -json prints it as it is.
type result struct {
	Publishers       int        `json:"publishers"`
	Subscribers      int        `json:"subscribers"`
	Rooms            int        `json:"rooms"`
	GOMAXPROCS       int        `json:"gomaxprocs"`
	WindowSeconds    float64    `json:"window_seconds"`
	ConnectPhaseMs   float64    `json:"connect_phase_ms"`
	ConnectMs        [3]float64 `json:"connect_ms_p50_p95_p99"`
	TracksPublished  int64      `json:"tracks_published"`
	TracksSubscribed int64      `json:"tracks_subscribed"`
	Video            kindTotals `json:"video"`
	Audio            kindTotals `json:"audio"`
	// SubscriberVideoFPS is the least and the mean video frame rate a
	// subscriber received (all its video tracks together).
	SubscriberVideoFPS [2]float64     `json:"subscriber_video_fps_min_mean"`
	Process            processFigures `json:"process"`
}

// processFigures is this process's cost over the window.
type processFigures struct {
	CPUPercent       float64 `json:"cpu_percent"`        // of one core
	CPUPerBot        float64 `json:"cpu_cores_per_bot"`  // core-seconds per second
	RSSBytes         int64   `json:"rss_bytes"`          // at the end of the window
	RSSGrowthBytes   int64   `json:"rss_growth_bytes"`   // since before the bots connected
	RSSPerBotBytes   float64 `json:"rss_per_bot_bytes"`  // growth per bot
	Goroutines       int     `json:"goroutines"`         // at the end of the window
	GoroutinesPerBot float64 `json:"goroutines_per_bot"` // growth per bot
}

// countsByKind is the video and audio totals at one moment.
type countsByKind struct{ video, audio kindTotals }

func totals(streams []*streamStats, elapsed time.Duration) countsByKind {
	return countsByKind{video: sumStreams(streams, true, elapsed), audio: sumStreams(streams, false, elapsed)}
}

// minus is the counts between an earlier moment b and t; tracks are t's.
func (t kindTotals) minus(b kindTotals) kindTotals {
	d := kindTotals{Tracks: t.Tracks, Packets: t.Packets - b.Packets, Lost: t.Lost - b.Lost,
		Bytes: t.Bytes - b.Bytes, Frames: t.Frames - b.Frames}
	if d.Lost < 0 {
		d.Lost = 0
	}
	return d
}

// rates fills the per-second figures of counts taken over window.
func (t kindTotals) rates(window time.Duration) kindTotals {
	if exp := t.Packets + t.Lost; exp > 0 {
		t.LossPct = 100 * float64(t.Lost) / float64(exp)
	}
	if s := window.Seconds(); s > 0 {
		t.Kbps = float64(t.Bytes) * 8 / 1000 / s
		if t.Tracks > 0 {
			t.FPSTrack = float64(t.Frames) / s / float64(t.Tracks)
		}
	}
	return t
}

func minMeanRate(counts []int64, window time.Duration) [2]float64 {
	s := window.Seconds()
	if len(counts) == 0 || s <= 0 {
		return [2]float64{}
	}
	lo, sum := counts[0], int64(0)
	for _, c := range counts {
		lo = min(lo, c)
		sum += c
	}
	return [2]float64{float64(lo) / s, float64(sum) / s / float64(len(counts))}
}

// write prints r as JSON or as a table; a floor run has only the process
// figures and the sink's packet count.
func (r *result) write(w io.Writer, asJSON, floor bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if !floor {
		r.writeTable(w)
		return nil
	}
	fmt.Fprintf(w, "floor: %d bare pion connections sending the same media, %.1f s window; the sink received %d packets\n",
		r.Publishers, r.WindowSeconds, r.Video.Packets)
	r.writeProcess(w)
	return nil
}

func (r *result) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "bots\t%d publishers, %d subscribers in %d rooms (GOMAXPROCS %d)\n", r.Publishers, r.Subscribers, r.Rooms, r.GOMAXPROCS)
	fmt.Fprintf(tw, "connect latency\tp50 %.0f ms, p95 %.0f ms, p99 %.0f ms (all connected in %.0f ms)\n",
		r.ConnectMs[0], r.ConnectMs[1], r.ConnectMs[2], r.ConnectPhaseMs)
	fmt.Fprintf(tw, "tracks\t%d published, %d subscribed\n", r.TracksPublished, r.TracksSubscribed)
	fmt.Fprintf(tw, "window\t%.1f s\n", r.WindowSeconds)
	for _, k := range []struct {
		name string
		t    kindTotals
	}{{"video", r.Video}, {"audio", r.Audio}} {
		fmt.Fprintf(tw, "%s received\t%d tracks, %.0f kbps in all, %.2f%% lost (%d of %d packets), %.1f frames/s per track\n",
			k.name, k.t.Tracks, k.t.Kbps, k.t.LossPct, k.t.Lost, k.t.Packets+k.t.Lost, k.t.FPSTrack)
	}
	if r.Subscribers > 0 {
		fmt.Fprintf(tw, "video frames per subscriber\tleast %.1f/s, mean %.1f/s\n", r.SubscriberVideoFPS[0], r.SubscriberVideoFPS[1])
	}
	tw.Flush()
	r.writeProcess(w)
}

func (r *result) writeProcess(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := r.Process
	fmt.Fprintf(tw, "process CPU\t%.1f%% of a core; %.4f core-seconds per second per bot\n", p.CPUPercent, p.CPUPerBot)
	fmt.Fprintf(tw, "process memory\t%.1f MB resident (+%.1f MB); %.2f MB per bot\n",
		float64(p.RSSBytes)/1e6, float64(p.RSSGrowthBytes)/1e6, p.RSSPerBotBytes/1e6)
	fmt.Fprintf(tw, "goroutines\t%d; %.1f per bot\n", p.Goroutines, p.GoroutinesPerBot)
	tw.Flush()
}
