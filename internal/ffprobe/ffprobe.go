// Package ffprobe runs FFmpeg's ffprobe on a media file for tests: how many
// frames it decodes and how long it says the file lasts. It is the
// independent decoder the recording tests check their files with.
//
// `make deps` installs ffprobe (Debian's ffmpeg package) when it is
// missing. In -short mode the tests that need it are skipped, saying so;
// otherwise a missing ffprobe fails the test with that advice.
package ffprobe

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Result is what ffprobe reports of a file's first stream.
type Result struct {
	// Frames is the number of frames ffprobe decoded (nb_read_frames).
	Frames int
	// Duration is the file's duration in seconds as ffprobe reports it
	// for the format, from the container's own fields; 0 for a raw stream
	// (Annex-B H.264), which has none ("N/A").
	Duration float64
	// Codec is ffprobe's codec name, such as "vp8" or "opus".
	Codec string
}

// Probe decodes every frame of path's first stream with ffprobe. It skips
// the test in -short mode and fails it if ffprobe is not installed.
func Probe(t testing.TB, path string) Result {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that decodes with ffprobe")
	}
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatal("ffprobe not found: `make deps` installs it (apt-get install ffmpeg)")
	}
	cmd := exec.Command(bin, "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=codec_name,nb_read_frames:format=duration",
		"-of", "default=noprint_wrappers=1", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, stderr.String())
	}
	r, err := parse(string(out))
	if err != nil {
		t.Fatalf("ffprobe %s: %v in %q", path, err, out)
	}
	return r
}

// parse reads ffprobe's key=value output.
func parse(out string) (Result, error) {
	var r Result
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "codec_name":
			r.Codec = v
		case "nb_read_frames":
			r.Frames, err = strconv.Atoi(v)
			seen++
		case "duration":
			if v != "N/A" {
				r.Duration, err = strconv.ParseFloat(v, 64)
			}
			seen++
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", k, err)
		}
	}
	if seen != 2 {
		return r, fmt.Errorf("frame count or duration missing")
	}
	return r, nil
}
