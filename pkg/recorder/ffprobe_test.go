package recorder

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/pion/webrtc/v3"

	"github.com/livekit/server-sdk-go/internal/ffprobe"
)

// TestIVFDurationForFFprobe records the 8 s VP8 test file from RTP and
// checks that FFmpeg, reading the header's length field, reports 8 s
// (within a frame) and decodes every frame.
func TestIVFDurationForFFprobe(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 65000, tsStart: 1<<32 - 90000})
	path := filepath.Join(t.TempDir(), "vp8.ivf")
	r, err := NewTrackRecorder(&sliceSource{codec: codecParams(webrtc.MimeTypeVP8), pkts: pkts}, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	res := ffprobe.Probe(t, path)
	t.Logf("ffprobe: %s, %d frames, %.4f s", res.Codec, res.Frames, res.Duration)
	if res.Codec != "vp8" || res.Frames != len(frames) {
		t.Fatalf("ffprobe decoded %d %s frames, want %d vp8", res.Frames, res.Codec, len(frames))
	}
	if math.Abs(res.Duration-8) > 1.0/30 {
		t.Fatalf("ffprobe says %.4f s, want 8 s within a frame", res.Duration)
	}
}
