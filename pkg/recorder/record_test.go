package recorder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media/ivfreader"
	"github.com/pion/webrtc/v3/pkg/media/oggreader"
)

// outFrame is a frame read back from a recording.
type outFrame struct {
	data []byte
	pts  uint64
}

// recordResult is what recording a packet sequence gave.
type recordResult struct {
	file     []byte
	stats    Stats
	requests int
}

// record records pkts of codec mime from a source (with Read when raw) into
// memory and closes the recorder.
func record(t testing.TB, mime string, pkts []*rtp.Packet, raw bool, opts ...Option) recordResult {
	t.Helper()
	var src RTPSource
	if raw {
		src = newRawSource(codecParams(mime), pkts, false)
	} else {
		src = &sliceSource{codec: codecParams(mime), pkts: pkts}
	}
	var requests atomic.Int32
	opts = append([]Option{WithKeyFrameRequester(func() { requests.Add(1) })}, opts...)
	f := &memFile{}
	r, err := NewTrackRecorderWriter(src, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := r.Stats()
	if int(requests.Load()) != st.KeyFrameRequests {
		t.Fatalf("%d keyframe requests made, stats say %d", requests.Load(), st.KeyFrameRequests)
	}
	return recordResult{file: f.data, stats: st, requests: int(requests.Load())}
}

// readIVFOut reads a recorded IVF file with pion's reader.
func readIVFOut(t testing.TB, data []byte) (*ivfreader.IVFFileHeader, []outFrame) {
	t.Helper()
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var frames []outFrame
	for {
		f, fh, err := r.ParseNextFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, outFrame{data: f, pts: fh.Timestamp})
	}
	return hdr, frames
}

// ivfLength is the header length field the recorder writes for frames at
// pts (in timebase units): their span plus one average frame interval, 0
// for fewer than two frames.
func ivfLength(pts ...uint64) uint32 {
	if len(pts) < 2 {
		return 0
	}
	span := pts[len(pts)-1] - pts[0]
	return uint32(span + span/uint64(len(pts)-1))
}

// outLength is ivfLength of recorded frames.
func outLength(frames []outFrame) uint32 {
	pts := make([]uint64, len(frames))
	for i, f := range frames {
		pts[i] = f.pts
	}
	return ivfLength(pts...)
}

// oggOut is a recorded Ogg Opus file read back.
type oggOut struct {
	head     *oggreader.OggHeader
	packets  [][]byte // audio packets, fillers included
	granules []uint64 // of the audio pages
	eos      bool     // the last page is flagged end-of-stream
	pages    int
}

// readOggOut reads a recorded Ogg file with pion's page reader (which checks
// the CRCs) and the SDK's packet reader.
func readOggOut(t testing.TB, data []byte) oggOut {
	t.Helper()
	r, head, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := oggOut{head: head, pages: 1}
	for {
		_, ph, err := r.ParseNextPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out.pages++
		if out.pages > 2 {
			out.granules = append(out.granules, ph.GranulePosition)
		}
	}
	// Flags of the last page: walk the pages.
	for off := 0; off+27 <= len(data); {
		nseg := int(data[off+26])
		size := 27 + nseg
		for _, l := range data[off+27 : off+27+nseg] {
			size += int(l)
		}
		out.eos = data[off+5]&oggFlagEOS != 0
		off += size
	}
	pr, _, err := mediaparse.NewOggOpusReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out.packets = append(out.packets, bytes.Clone(p))
	}
	return out
}

// codecCase is a test stream of one codec.
type codecCase struct {
	mime   string
	frames func(testing.TB) []mediaFrame
}

var codecCases = []codecCase{
	{webrtc.MimeTypeVP8, func(t testing.TB) []mediaFrame { return loadIVF(t, "vp8.ivf", isVP8Key) }},
	{webrtc.MimeTypeVP9, func(t testing.TB) []mediaFrame { return loadIVF(t, "vp9.ivf", isVP9Key) }},
	{webrtc.MimeTypeH264, loadH264},
	{webrtc.MimeTypeAV1, func(testing.TB) []mediaFrame { return syntheticAV1(90) }},
	{webrtc.MimeTypeOpus, loadOpus},
}

// scenario is how the network treats a test stream.
type scenario struct {
	name    string
	impair  impairOpts
	padding bool
	lossy   bool
}

var scenarios = []scenario{
	{name: "clean"},
	{name: "shuffled", impair: impairOpts{dup: 0.05, reorder: 0.2}, padding: true},
	{name: "lossy", impair: impairOpts{loss: 0.01, dup: 0.05, reorder: 0.2}, padding: true, lossy: true},
}

// Sequence numbers and timestamps start just before they wrap.
const (
	testSeqStart = 65500
	testTSStart  = 0xffffffff - 200000
)

func TestRecordEndToEnd(t *testing.T) {
	for _, cc := range codecCases {
		frames := cc.frames(t)
		for _, sc := range scenarios {
			for _, raw := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/raw=%v", cc.mime, sc.name, raw)
				t.Run(name, func(t *testing.T) {
					audio := cc.mime == webrtc.MimeTypeOpus
					pkts := packetize(frames, payloaderFor(cc.mime), packetizeOpts{
						seqStart: testSeqStart, tsStart: testTSStart, padding: sc.padding, audio: audio,
					})
					pkts = impair(pkts, 42, sc.impair)
					res := record(t, cc.mime, pkts, raw)
					checkRecording(t, cc.mime, frames, res, sc.lossy)
					st := res.stats
					if sc.padding && st.PaddingPackets == 0 {
						t.Errorf("no padding packets counted")
					}
					if sc.impair.dup > 0 && st.DuplicatePackets == 0 {
						t.Errorf("no duplicates counted")
					}
					if !sc.lossy && (st.Gaps != 0 || st.FramesDropped != 0) {
						t.Errorf("lossless stream: %+v", st)
					}
					if sc.lossy && st.Gaps == 0 {
						t.Errorf("lossy stream without gaps: %+v", st)
					}
					if !audio && st.KeyFrameRequests < 1 {
						t.Errorf("no keyframe requested at start")
					}
				})
			}
		}
	}
}

// checkRecording checks a recording of frames. Without loss every frame
// must be there, byte for byte, with its timestamp. With loss the written
// frames must be a subsequence of the frames, starting with a keyframe,
// where every frame that is not a keyframe follows its predecessor.
func checkRecording(t *testing.T, mime string, frames []mediaFrame, res recordResult, lossy bool) {
	t.Helper()
	st := res.stats
	switch mime {
	case webrtc.MimeTypeOpus:
		checkOggRecording(t, frames, res, lossy)
		return
	case webrtc.MimeTypeH264:
		checkH264Recording(t, frames, res, lossy)
		return
	}
	hdr, out := readIVFOut(t, res.file)
	wantFourCC := map[string]string{webrtc.MimeTypeVP8: "VP80", webrtc.MimeTypeVP9: "VP90", webrtc.MimeTypeAV1: "AV01"}[mime]
	if string(hdr.FourCC[:]) != wantFourCC || hdr.TimebaseDenominator != 90000 || hdr.TimebaseNumerator != 1 {
		t.Fatalf("header %+v", hdr)
	}
	if hdr.NumFrames != outLength(out) || len(out) != st.FramesWritten {
		t.Fatalf("header length %d, want %d; file has %d frames, stats %d", hdr.NumFrames, outLength(out), len(out), st.FramesWritten)
	}
	wantW, wantH := 320, 240
	if mime == webrtc.MimeTypeAV1 {
		wantW, wantH = 640, 360
	}
	if hdr.Width != uint16(wantW) || hdr.Height != uint16(wantH) || st.Width != wantW || st.Height != wantH {
		t.Fatalf("size %dx%d in header, %dx%d in stats", hdr.Width, hdr.Height, st.Width, st.Height)
	}
	first := int((st.FirstTimestamp - testTSStart) / 3000)
	prev := -1
	for i, f := range out {
		idx := first + int(f.pts/3000)
		if f.pts%3000 != 0 || idx >= len(frames) {
			t.Fatalf("frame %d: pts %d", i, f.pts)
		}
		if !bytes.Equal(f.data, frames[idx].data) {
			t.Fatalf("frame %d (source frame %d) differs: %d bytes, want %d", i, idx, len(f.data), len(frames[idx].data))
		}
		checkOrder(t, i, idx, prev, frames[idx].key, lossy)
		prev = idx
	}
	if !lossy && len(out) != len(frames) {
		t.Fatalf("%d frames written, want %d", len(out), len(frames))
	}
	if lossy && len(out) < len(frames)/4 {
		t.Fatalf("only %d of %d frames written", len(out), len(frames))
	}
	if want := time.Duration(out[len(out)-1].pts) * time.Second / 90000; st.Duration != want {
		t.Fatalf("duration %v, want %v", st.Duration, want)
	}
	if st.FramesWritten+st.FramesDropped < len(out) {
		t.Fatalf("stats %+v", st)
	}
}

// checkOrder checks the frame at output position i, source index idx.
func checkOrder(t *testing.T, i, idx, prev int, key, lossy bool) {
	t.Helper()
	if i == 0 && !key {
		t.Fatalf("first frame written (source frame %d) is not a keyframe", idx)
	}
	if i > 0 && idx <= prev {
		t.Fatalf("frame %d: source frame %d after %d", i, idx, prev)
	}
	if !lossy && idx != i {
		t.Fatalf("frame %d is source frame %d", i, idx)
	}
	if i > 0 && !key && idx != prev+1 {
		t.Fatalf("frame %d: inter frame %d written after frame %d", i, idx, prev)
	}
}

func checkH264Recording(t *testing.T, frames []mediaFrame, res recordResult, lossy bool) {
	t.Helper()
	r := mediaparse.NewAnnexBReader(bytes.NewReader(res.file))
	var out [][]byte
	for {
		au, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(au))
	}
	if len(out) != res.stats.FramesWritten {
		t.Fatalf("%d access units, stats say %d", len(out), res.stats.FramesWritten)
	}
	if res.stats.Width != 320 || res.stats.Height != 240 {
		t.Fatalf("size %dx%d", res.stats.Width, res.stats.Height)
	}
	prev := -1
	for i, au := range out {
		idx := prev + 1
		for idx < len(frames) && !bytes.Equal(au, normalizeAnnexB(frames[idx].data)) {
			if !lossy {
				t.Fatalf("access unit %d differs from source access unit %d", i, idx)
			}
			idx++
		}
		if idx == len(frames) {
			t.Fatalf("access unit %d matches no source access unit after %d", i, prev)
		}
		checkOrder(t, i, idx, prev, frames[idx].key, lossy)
		prev = idx
	}
	if !lossy && len(out) != len(frames) {
		t.Fatalf("%d access units written, want %d", len(out), len(frames))
	}
}

func checkOggRecording(t *testing.T, frames []mediaFrame, res recordResult, lossy bool) {
	t.Helper()
	o := readOggOut(t, res.file)
	if o.head.Channels != 2 || o.head.PreSkip != opusPreSkip || o.head.SampleRate != 48000 {
		t.Fatalf("OpusHead %+v", o.head)
	}
	if !o.eos {
		t.Fatal("last page is not flagged end-of-stream")
	}
	real := 0
	prev := -1
	var samples uint64
	for i, p := range o.packets {
		samples += uint64(opusPacketSamples(p))
		if isFiller(p) {
			if !lossy {
				t.Fatalf("filler packet %d in a lossless recording", i)
			}
			continue
		}
		idx := prev + 1
		for idx < len(frames) && !bytes.Equal(p, frames[idx].data) {
			idx++
		}
		if idx == len(frames) || (!lossy && idx != real) {
			t.Fatalf("packet %d matches source packet %d", i, idx)
		}
		if i == 0 && idx != 0 {
			t.Fatalf("first packet is source packet %d", idx)
		}
		prev = idx
		real++
	}
	if real != res.stats.FramesWritten {
		t.Fatalf("%d packets, stats say %d", real, res.stats.FramesWritten)
	}
	if !lossy && real != len(frames) {
		t.Fatalf("%d packets, want %d", real, len(frames))
	}
	// The granule position of the last page is the end of the last
	// packet, from RTP timestamps, and the packets' durations add up to
	// it.
	last := o.granules[len(o.granules)-1]
	want := uint64(frames[prev].pts-frames[0].pts) + uint64(opusPacketSamples(frames[prev].data))
	if last != want || samples != want {
		t.Fatalf("last granule %d, packets add up to %d, want %d", last, samples, want)
	}
	for i := 1; i < len(o.granules); i++ {
		if o.granules[i] < o.granules[i-1] {
			t.Fatalf("granule positions go back: %v", o.granules)
		}
	}
}

// TestRecordStartsMidStream starts a VP8 recording in the middle of the
// first group of pictures: the output starts at the next keyframe and a
// keyframe was requested.
func TestRecordStartsMidStream(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)
	pkts := packetize(frames[10:], payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 1, tsStart: 5000})
	res := record(t, webrtc.MimeTypeVP8, pkts, true)
	_, out := readIVFOut(t, res.file)
	if len(out) != len(frames)-120 {
		t.Fatalf("%d frames written, want %d", len(out), len(frames)-120)
	}
	if !isVP8Key(out[0].data) || !bytes.Equal(out[0].data, frames[120].data) || out[0].pts != 0 {
		t.Fatalf("first frame written is not source keyframe 120")
	}
	if res.stats.FirstTimestamp != 5000+frames[120].pts {
		t.Fatalf("first timestamp %d", res.stats.FirstTimestamp)
	}
	if res.stats.FramesDropped != 110 {
		t.Fatalf("%d frames dropped, want 110", res.stats.FramesDropped)
	}
	if res.requests < 1 {
		t.Fatal("no keyframe requested")
	}
}

// TestRecordLossRequestsKeyFrame loses one packet of an inter frame: the
// frames up to the next keyframe are dropped and a keyframe is requested.
func TestRecordLossRequestsKeyFrame(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 1, mtu: 200})
	// Lose the last packet of the first frame after 40 that has several.
	lostIdx := 40
	for len(frames[lostIdx].data) < 400 {
		lostIdx++
	}
	lostTS := frames[lostIdx].pts
	pkts = impair(pkts, 1, impairOpts{drop: func(_ int, p *rtp.Packet) bool { return p.Timestamp == lostTS && p.Marker }})
	old := keyFrameRequestInterval
	keyFrameRequestInterval = 0
	defer func() { keyFrameRequestInterval = old }()
	res := record(t, webrtc.MimeTypeVP8, pkts, true)
	_, out := readIVFOut(t, res.file)
	if len(out) != lostIdx+120 {
		t.Fatalf("%d frames written, want %d", len(out), lostIdx+120)
	}
	if out[lostIdx].pts != uint64(frames[120].pts) {
		t.Fatalf("frame after the loss has pts %d, want %d", out[lostIdx].pts, frames[120].pts)
	}
	st := res.stats
	if st.Gaps != 1 || st.FramesDropped != 120-lostIdx {
		t.Fatalf("stats %+v", st)
	}
	// One at the start, then more after the loss (no rate limit).
	if st.KeyFrameRequests < 2 {
		t.Fatalf("%d keyframe requests", st.KeyFrameRequests)
	}
}

// TestRecordPictureIDContinuity loses padding packets between frames: VP8
// picture IDs show that no frame was lost, so nothing is dropped.
func TestRecordPictureIDContinuity(t *testing.T) {
	frames := loadIVF(t, "vp8.ivf", isVP8Key)
	pkts := packetize(frames, payloaderFor(webrtc.MimeTypeVP8), packetizeOpts{seqStart: 1, padding: true})
	pkts = impair(pkts, 1, impairOpts{drop: func(_ int, p *rtp.Packet) bool { return len(p.Payload) == 0 }})
	res := record(t, webrtc.MimeTypeVP8, pkts, false)
	if st := res.stats; st.FramesWritten != len(frames) || st.Gaps != len(frames)/10-1 || st.FramesDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}
