package recorder

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
)

func TestExtensionFor(t *testing.T) {
	for mime, want := range map[string]string{
		"video/VP8": ".ivf", "video/vp9": ".ivf", "video/AV1": ".ivf",
		"video/H264": ".h264", "audio/opus": ".ogg",
	} {
		if got, err := ExtensionFor(mime); err != nil || got != want {
			t.Errorf("ExtensionFor(%q) = %q, %v", mime, got, err)
		}
	}
	if _, err := ExtensionFor("audio/PCMU"); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("PCMU: %v", err)
	}
}

func TestNewTrackRecorderUnsupported(t *testing.T) {
	src := &sliceSource{codec: codecParams("video/H265")}
	path := filepath.Join(t.TempDir(), "x")
	if _, err := NewTrackRecorder(src, path); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file created: %v", err)
	}
	if _, err := NewTrackRecorderWriter(src, &memFile{}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("err %v", err)
	}
}

// TestNewTrackRecorderFile records to a file and checks that Close
// finishes and closes it.
func TestNewTrackRecorderFile(t *testing.T) {
	frames := loadIVF(t, "vp9.ivf", isVP9Key)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP9), packetizeOpts{seqStart: 7})
	path := filepath.Join(t.TempDir(), "out.ivf")
	r, err := NewTrackRecorder(newRawSource(codecParams(webrtc.MimeTypeVP9), pkts, false), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if r.file.Close() == nil {
		t.Fatal("file left open")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr, out := readIVFOut(t, data)
	if len(out) != len(frames) || hdr.NumFrames != outLength(out) {
		t.Fatalf("%d frames, header length %d, want %d frames, length %d", len(out), hdr.NumFrames, len(frames), outLength(out))
	}
	if err := r.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
}

// TestCloseStopsRun closes a recorder whose Run is blocked reading: Run
// returns nil, and the file is complete.
func TestCloseStopsRun(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)[:30]
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 7})
	src := newRawSource(codecParams(webrtc.MimeTypeVP8), pkts, true)
	f := &memFile{}
	r, err := NewTrackRecorderWriter(src, f)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	for r.Stats().FramesWritten < 29 { // the last frame waits for a next one
		time.Sleep(time.Millisecond)
	}
	_ = r.Stats()
	errs := make(chan error, 2)
	go func() { errs <- r.Close() }()
	go func() { errs <- r.Close() }()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	hdr, out := readIVFOut(t, f.data)
	if len(out) != 30 || hdr.NumFrames != outLength(out) {
		t.Fatalf("%d frames, header %d", len(out), hdr.NumFrames)
	}
}

// TestContextStopsRun cancels Run's context while it is blocked reading.
func TestContextStopsRun(t *testing.T) {
	src := newRawSource(codecParams(webrtc.MimeTypeOpus), nil, true)
	r, err := NewTrackRecorderWriter(src, &memFile{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseBeforeRun closes first: Run returns at once, and the file is a
// valid empty recording.
func TestCloseBeforeRun(t *testing.T) {
	for _, mime := range []string{webrtc.MimeTypeVP8, webrtc.MimeTypeOpus, webrtc.MimeTypeH264} {
		f := &memFile{}
		r, err := NewTrackRecorderWriter(newRawSource(codecParams(mime), nil, true), f)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
		switch mime {
		case webrtc.MimeTypeVP8:
			if hdr, out := readIVFOut(t, f.data); len(out) != 0 || hdr.NumFrames != 0 {
				t.Fatalf("empty IVF has %d frames", len(out))
			}
		case webrtc.MimeTypeOpus:
			if o := readOggOut(t, f.data); len(o.packets) != 0 || !o.eos {
				t.Fatalf("empty Ogg: %+v", o)
			}
		default:
			if len(f.data) != 0 {
				t.Fatalf("empty H.264 file has %d bytes", len(f.data))
			}
		}
	}
}

// TestNonSeekableWriter records IVF into a writer that cannot seek: the
// header's length stays 0 (unknown) and the frames are all there.
func TestNonSeekableWriter(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)[:20]
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{})
	w := &noSeekFile{}
	r, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(webrtc.MimeTypeVP8), pkts: pkts}, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	hdr, out := readIVFOut(t, w.Bytes())
	if len(out) != 20 || hdr.NumFrames != 0 {
		t.Fatalf("%d frames, header length %d", len(out), hdr.NumFrames)
	}
}

// TestWriterAtOffset records into a writer already holding data: the IVF
// header written at the start position gets its length.
func TestWriterAtOffset(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)[:5]
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{})
	f := &memFile{}
	f.Write([]byte("prefix"))
	r, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(webrtc.MimeTypeVP8), pkts: pkts}, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if hdr, out := readIVFOut(t, f.data[6:]); len(out) != 5 || hdr.NumFrames != outLength(out) || hdr.NumFrames == 0 {
		t.Fatalf("%d frames, header length %d", len(out), hdr.NumFrames)
	}
	if f.pos != int64(len(f.data)) {
		t.Fatalf("left at %d of %d", f.pos, len(f.data))
	}
}

// failingFile fails writes after a number of bytes.
type failingFile struct {
	memFile
	left int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if len(p) > f.left {
		return 0, errors.New("disk full")
	}
	f.left -= len(p)
	return f.memFile.Write(p)
}

func TestWriteErrorStopsRun(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)[:20]
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{})
	r, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(webrtc.MimeTypeVP8), pkts: pkts}, &failingFile{left: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Fatal("Run succeeded")
	}
	if err := r.Close(); err == nil {
		t.Fatal("Close succeeded")
	}
}

// TestKeyFrameRequestRateLimit checks the rate limit with a fake clock.
func TestKeyFrameRequestRateLimit(t *testing.T) {
	p := newPipeline(true, 90000, 16, time.Second, &vp8Depacketizer{}, &annexBWriter{w: io.Discard}, logr.Discard(), true)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	requests := 0
	step := func(d time.Duration) {
		now = now.Add(d)
		p.requestKeyFrame()
		if p.takeRequest() {
			requests++
		}
	}
	step(0)
	step(100 * time.Millisecond)
	step(300 * time.Millisecond)
	if requests != 1 {
		t.Fatalf("%d requests within 400 ms", requests)
	}
	step(100 * time.Millisecond)
	if requests != 2 || p.keyRequests != 2 {
		t.Fatalf("%d requests after 500 ms", requests)
	}
}

// TestStatsWhileRunning reads Stats concurrently with Run (for the race
// detector).
func TestStatsWhileRunning(t *testing.T) {
	frames := loadOpus(t)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeOpus), packetizeOpts{audio: true})
	r, err := NewTrackRecorderWriter(newRawSource(codecParams(webrtc.MimeTypeOpus), pkts, false), &memFile{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			_ = r.Stats()
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.FramesWritten != len(frames) || st.Duration != time.Duration(frames[len(frames)-1].pts)*time.Second/48000 {
		t.Fatalf("stats %+v", st)
	}
}

// TestShortReadGrowsBuffer has a read fail with io.ErrShortBuffer, as
// pion's does for a packet larger than the buffer: the packet is lost, the
// buffer grows and the recording goes on.
func TestShortReadGrowsBuffer(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)[:10]
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{})
	src := &shortBufferSource{rawSource: newRawSource(codecParams(webrtc.MimeTypeVP8), pkts, false), at: len(pkts) - 3}
	r, err := NewTrackRecorderWriter(src, &memFile{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != 2*readBufferSize {
		t.Fatalf("read buffer of %d bytes", len(r.buf))
	}
	if st := r.Stats(); st.FramesWritten != 7 || st.Gaps != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// shortBufferSource fails the read of packet at with io.ErrShortBuffer,
// losing it.
type shortBufferSource struct {
	*rawSource
	at int
}

func (s *shortBufferSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if s.i == s.at {
		s.i++
		return 0, nil, io.ErrShortBuffer
	}
	return s.rawSource.Read(b)
}

func TestBinaryLayout(t *testing.T) {
	// The IVF header as libvpx lays it out.
	f := &memFile{}
	w := newIVFWriter(f, "VP80", 90000)
	if err := w.begin(640, 480); err != nil {
		t.Fatal(err)
	}
	if err := w.writeFrame([]byte{1, 2, 3}, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.writeFrame([]byte{4, 5}, 3000); err != nil {
		t.Fatal(err)
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	// The length field (offset 24) holds the duration in timebase units:
	// two frames 3000 ticks apart last 6000 ticks.
	h := f.data
	if string(h[:4]) != "DKIF" || binary.LittleEndian.Uint16(h[6:]) != 32 || string(h[8:12]) != "VP80" ||
		binary.LittleEndian.Uint16(h[12:]) != 640 || binary.LittleEndian.Uint16(h[14:]) != 480 ||
		binary.LittleEndian.Uint32(h[16:]) != 90000 || binary.LittleEndian.Uint32(h[20:]) != 1 ||
		binary.LittleEndian.Uint32(h[24:]) != 6000 || len(h) != 32+12+3+12+2 ||
		binary.LittleEndian.Uint32(h[32:]) != 3 || binary.LittleEndian.Uint64(h[36:]) != 0 ||
		binary.LittleEndian.Uint32(h[47:]) != 2 || binary.LittleEndian.Uint64(h[51:]) != 3000 {
		t.Fatalf("IVF bytes % x", h)
	}
}
