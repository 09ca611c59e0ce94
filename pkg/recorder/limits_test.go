package recorder

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
)

// recordLimited records the VP8 test file (8 s, 240 frames) with opts and
// returns the file, the stats and Run's error.
func recordLimited(t *testing.T, opts ...Option) ([]outFrame, Stats, error, int) {
	t.Helper()
	frames := loadIVF(t, "vp8.ivf", isVP8Key)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 65000, tsStart: 1<<32 - 5000})
	f := &memFile{}
	r, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(webrtc.MimeTypeVP8), pkts: pkts}, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	runErr := r.Run(context.Background())
	if err := r.Close(); err != nil {
		t.Fatalf("Close after a limit: %v", err)
	}
	_, out := readIVFOut(t, f.data) // the file is finished and valid
	return out, r.Stats(), runErr, len(f.data)
}

func TestMaxFileBytes(t *testing.T) {
	const limit = 50_000
	out, st, err, size := recordLimited(t, WithMaxFileBytes(limit))
	if !errors.Is(err, ErrLimitReached) || !strings.Contains(err.Error(), "size") {
		t.Fatalf("Run: %v, want the size limit", err)
	}
	if size > limit || st.BytesWritten != int64(size) {
		t.Fatalf("file of %d bytes (stats %d), limit %d", size, st.BytesWritten, limit)
	}
	// Stopped at the frame that did not fit: it would have passed the
	// limit, and every frame before it is there.
	all, _, _, _ := recordLimited(t)
	if len(out) == 0 || len(out) >= len(all) {
		t.Fatalf("%d frames of %d written", len(out), len(all))
	}
	if next := size + ivfFrameHeaderSize + len(all[len(out)].data); next <= limit {
		t.Fatalf("stopped at %d bytes although the next frame fitted (%d)", size, next)
	}
	t.Logf("stopped at %d bytes of %d: %d frames of %d", size, limit, len(out), len(all))
}

func TestMaxDuration(t *testing.T) {
	out, st, err, _ := recordLimited(t, WithMaxDuration(2*time.Second))
	if !errors.Is(err, ErrLimitReached) || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("Run: %v, want the duration limit", err)
	}
	// Frames at 0, 1/30 s, ... 2 s: 61 of them.
	if len(out) != 61 || out[len(out)-1].pts != 2*90000 || st.Duration != 2*time.Second {
		t.Fatalf("%d frames, last at %d, duration %s", len(out), out[len(out)-1].pts, st.Duration)
	}
}

func TestNoLimitsByDefault(t *testing.T) {
	out, _, err, _ := recordLimited(t)
	if err != nil || len(out) != 240 {
		t.Fatalf("Run: %v, %d frames", err, len(out))
	}
}
