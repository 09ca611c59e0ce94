package recorder

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media/ivfreader"
	"github.com/pion/webrtc/v3/pkg/media/oggreader"
)

// The fuzz targets check that no input makes the jitter buffer or a
// depacketizer panic or use unbounded memory, and that whatever is recorded
// is a valid file. Run one with
//
//	go test ./pkg/recorder -run '^$' -fuzz '^FuzzJitterBuffer$' -fuzztime 10s
//
// Their seed corpora are in testdata/fuzz/<FuzzName>/, made from the
// repository's test media by TestFuzzSeeds -update-fuzz-seeds.

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzCodecs are the codecs FuzzJitterBuffer chooses from by its first byte.
var fuzzCodecs = []string{webrtc.MimeTypeVP8, webrtc.MimeTypeVP9, webrtc.MimeTypeH264, webrtc.MimeTypeAV1, webrtc.MimeTypeOpus}

// fuzzTSScale is the unit, in RTP ticks, of the timestamp steps of a
// FuzzJitterBuffer input (3000 ticks, one 30 fps frame, is 50; 960, one
// 20 ms Opus packet, is 16).
const fuzzTSScale = 60

// decodeFuzzPackets decodes a FuzzJitterBuffer input: a header of three
// bytes (codec, buffer size, latency), then packets of [sequence number
// step as int8] [timestamp step as int8, in fuzzTSScale ticks] [flags: bit 0
// marker] [payload length] [payload].
func decodeFuzzPackets(data []byte) (mime string, size int, latency uint32, pkts []*rtp.Packet) {
	if len(data) < 3 {
		return "", 0, 0, nil
	}
	mime = fuzzCodecs[int(data[0])%len(fuzzCodecs)]
	size = 2 + int(data[1])%64
	latency = uint32(data[2]) * 100
	var seq uint16
	var ts uint32
	for p := data[3:]; len(p) >= 4; {
		seq += uint16(int8(p[0]))
		ts += uint32(int32(int8(p[1])) * fuzzTSScale)
		marker := p[2]&1 != 0
		n := min(int(p[3]), len(p)-4)
		payload := p[4 : 4+n]
		p = p[4+n:]
		pkts = append(pkts, &rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: marker},
			Payload: payload,
		})
	}
	return mime, size, latency, pkts
}

// encodeFuzzPackets is the inverse of decodeFuzzPackets, for seeds. Steps
// that do not fit are clamped.
func encodeFuzzPackets(codec byte, size, latency byte, pkts []*rtp.Packet) []byte {
	out := []byte{codec, size, latency}
	var seq uint16
	var ts uint32
	for _, pkt := range pkts {
		ds := int8(min(max(int(int16(pkt.SequenceNumber-seq)), -128), 127))
		dt := int8(min(max(int(int32(pkt.Timestamp-ts))/fuzzTSScale, -128), 127))
		seq += uint16(ds)
		ts += uint32(int32(dt) * fuzzTSScale)
		flags := byte(0)
		if pkt.Marker {
			flags = 1
		}
		n := min(len(pkt.Payload), 255)
		out = append(out, byte(ds), byte(dt), flags, byte(n))
		out = append(out, pkt.Payload[:n]...)
	}
	return out
}

func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 8, 5, 1, 0, 1, 3, 0x10, 0, 0, 2, 1, 0, 1, 2, 0, 0})
	f.Add([]byte{4, 3, 1, 1, 16, 0, 1, 0xf8, 2, 16, 0, 1, 0xf8, 0xff, 16, 0, 1, 0xf8})
	f.Fuzz(fuzzJitterBuffer)
}

func fuzzJitterBuffer(t *testing.T, data []byte) {
	{
		mime, size, latency, pkts := decodeFuzzPackets(data)
		if mime == "" {
			return
		}
		checkJitterBufferOrder(t, size, latency, pkts)

		// The whole pipeline, with the codec's depacketizer and writer.
		out := &memFile{}
		r, err := NewTrackRecorderWriter(&sliceSource{codec: codecParams(mime)}, out,
			WithMaxPackets(size), WithKeyFrameRequester(func() {}))
		if err != nil {
			t.Fatal(err)
		}
		r.p.jb.latency = latency
		for _, pkt := range pkts {
			if err := r.handle(pkt); err != nil {
				t.Fatal(err)
			}
			if held := r.p.jb.heldPackets(); held > size || len(r.p.jb.free) > size {
				t.Fatalf("holds %d packets, %d free buffers, size %d", held, len(r.p.jb.free), size)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		checkFuzzOutput(t, mime, out.data, r.Stats())
	}
}

// checkJitterBufferOrder pushes pkts through a bare jitter buffer whose
// payloads are replaced by their extended sequence numbers, computed
// independently, and checks that they come out in increasing order.
func checkJitterBufferOrder(t *testing.T, size int, latency uint32, pkts []*rtp.Packet) {
	s := &extSink{}
	jb := newJitterBuffer(size, latency, s)
	var highest int64
	for i, pkt := range pkts {
		ext := int64(pkt.SequenceNumber)
		if i > 0 {
			ext = highest + int64(int16(pkt.SequenceNumber-uint16(highest)))
		}
		if i == 0 || ext > highest {
			highest = ext
		}
		var payload [8]byte
		binary.BigEndian.PutUint64(payload[:], uint64(ext+1<<40))
		if len(pkt.Payload) == 0 {
			jb.push(pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, nil)
		} else {
			jb.push(pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, payload[:])
		}
		if jb.heldPackets() > size {
			t.Fatalf("holds %d packets, size %d", jb.heldPackets(), size)
		}
	}
	jb.flush()
	if jb.heldPackets() != 0 {
		t.Fatalf("holds %d packets after flush", jb.heldPackets())
	}
	if jb.stats.resyncs > 0 {
		return // the order restarts at a resync
	}
	for i := 1; i < len(s.exts); i++ {
		if s.exts[i] <= s.exts[i-1] {
			t.Fatalf("emitted %d after %d", s.exts[i], s.exts[i-1])
		}
	}
}

type extSink struct {
	exts []uint64
}

func (s *extSink) onPacket(_ uint32, _ bool, p []byte) {
	s.exts = append(s.exts, binary.BigEndian.Uint64(p))
}

func (s *extSink) onLoss(uint64) {}

// checkFuzzOutput checks that a recording is a valid file of its format.
func checkFuzzOutput(t *testing.T, mime string, data []byte, st Stats) {
	switch mime {
	case webrtc.MimeTypeOpus:
		r, _, err := oggreader.NewWith(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for {
			_, ph, err := r.ParseNextPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ph.GranulePosition < last {
				t.Fatalf("granule position %d after %d", ph.GranulePosition, last)
			}
			last = ph.GranulePosition
		}
		pr, _, err := mediaparse.NewOggOpusReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := pr.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	case webrtc.MimeTypeH264:
		if len(data) > 0 && !bytes.HasPrefix(data, codec.StartCode) {
			t.Fatalf("H.264 output starts with % x", data[:min(len(data), 4)])
		}
	default:
		r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		frames := 0
		var last uint64
		for {
			_, fh, err := r.ParseNextFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if fh.Timestamp < last {
				t.Fatalf("pts %d after %d", fh.Timestamp, last)
			}
			last = fh.Timestamp
			frames++
		}
		var wantLength uint32
		if frames >= 2 {
			wantLength = uint32(min(last+last/uint64(frames-1), 0xffffffff))
		}
		if hdr.NumFrames != wantLength || frames != st.FramesWritten {
			t.Fatalf("%d frames, header length %d (want %d), stats %d", frames, hdr.NumFrames, wantLength, st.FramesWritten)
		}
	}
}

// splitFuzzPayloads splits a FuzzDepacketize input into payloads, each
// preceded by its length byte.
func splitFuzzPayloads(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		out = append(out, data[1:1+n])
		data = data[1+n:]
	}
	return out
}

// joinFuzzPayloads is the inverse of splitFuzzPayloads, for seeds.
func joinFuzzPayloads(payloads [][]byte) []byte {
	var out []byte
	for _, p := range payloads {
		p = p[:min(len(p), 255)]
		out = append(out, byte(len(p)))
		out = append(out, p...)
	}
	return out
}

// fuzzDepacketize runs the payloads of data through d as one frame, the
// way the pipeline does, and checks the output's size.
func fuzzDepacketize(t *testing.T, d depacketizer, data []byte) {
	var frame []byte
	var err error
	for i, p := range splitFuzzPayloads(data) {
		if frame, err = d.appendPayload(frame, p, i == 0); err != nil {
			return
		}
	}
	out, _, err := d.finish(frame, true)
	if err != nil {
		return
	}
	if len(out) > 6*len(data)+4096 {
		t.Fatalf("%d bytes out of %d in", len(out), len(data))
	}
}

func FuzzDepacketizeVP8(f *testing.F) {
	f.Add([]byte{4, 0x90, 0x80, 0x80, 0x01, 3, 0x50, 0x2a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDepacketize(t, &vp8Depacketizer{}, data) })
}

func FuzzDepacketizeVP9(f *testing.F) {
	f.Add([]byte{6, 0xaa, 0x80, 0x05, 0x00, 0x00, 0x82, 3, 0xa4, 0x80, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDepacketize(t, &vp9Depacketizer{}, data) })
}

func FuzzDepacketizeH264(f *testing.F) {
	f.Add([]byte{9, 24, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce, 4, 28, 0x85, 1, 2, 3, 28, 0x45, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDepacketize(t, newH264Depacketizer("sprop-parameter-sets=Z0LADdoFB+wEQAAAAwBAAAAPA8UKqA==,aM4PLIA="), data)
	})
}

func FuzzDepacketizeAV1(f *testing.F) {
	f.Add([]byte{5, 0x10, 0x0a, 1, 2, 3, 4, 0x50, 0x30, 1, 2, 3, 0x80, 4})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDepacketize(t, &av1Depacketizer{}, data) })
}

func FuzzDepacketizeOpus(f *testing.F) {
	f.Add([]byte{3, 0xfc, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDepacketize(t, opusDepacketizer{}, data)
		// The duration helpers must accept any packet.
		opusPacketSamples(data)
		if len(data) > 0 {
			codec.OpusFrameSamples(data[0])
		}
	})
}

// TestFuzzSeeds writes the seed corpora with -update-fuzz-seeds, and
// otherwise checks that they are there.
func TestFuzzSeeds(t *testing.T) {
	seeds := map[string][][]byte{}
	// FuzzJitterBuffer: the first packets of each test stream, in order
	// and mangled.
	for i, mime := range fuzzCodecs {
		var frames []mediaFrame
		switch mime {
		case webrtc.MimeTypeVP8:
			frames = loadIVF(t, "vp8.ivf", isVP8Key)[:6]
		case webrtc.MimeTypeVP9:
			frames = loadIVF(t, "vp9.ivf", isVP9Key)[:4]
		case webrtc.MimeTypeH264:
			frames = loadH264(t)[:4]
		case webrtc.MimeTypeAV1:
			frames = syntheticAV1(3)
		default:
			frames = loadOpus(t)[:20]
		}
		// Seeds are kept small (under 1 kB): the fuzzer minimizes every
		// new input it finds, which takes long for large ones.
		pkts := packetize(frames, payloaderFor(mime), packetizeOpts{seqStart: 65530, mtu: 48, padding: true, audio: mime == webrtc.MimeTypeOpus})
		pkts = pkts[:min(len(pkts), 16)]
		for _, p := range pkts {
			p.Payload = p.Payload[:min(len(p.Payload), 40)]
		}
		seeds["FuzzJitterBuffer"] = append(seeds["FuzzJitterBuffer"],
			encodeFuzzPackets(byte(i), 30, 50, pkts),
			encodeFuzzPackets(byte(i), 6, 2, impair(pkts, 3, impairOpts{loss: 0.1, dup: 0.1, reorder: 0.3})))

		// FuzzDepacketize<codec>: the packets of the first two frames.
		name := "FuzzDepacketize" + map[string]string{
			webrtc.MimeTypeVP8: "VP8", webrtc.MimeTypeVP9: "VP9", webrtc.MimeTypeH264: "H264",
			webrtc.MimeTypeAV1: "AV1", webrtc.MimeTypeOpus: "Opus",
		}[mime]
		for k := 0; k < 2; k++ {
			var payloads [][]byte
			for _, p := range packetize(frames[k:k+1], payloaderFor(mime), packetizeOpts{mtu: 120}) {
				payloads = append(payloads, p.Payload)
			}
			seeds[name] = append(seeds[name], joinFuzzPayloads(payloads[:min(len(payloads), 6)]))
		}
	}
	for name, inputs := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*updateFuzzSeeds {
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) == 0 {
				t.Errorf("no seed corpus for %s (run with -update-fuzz-seeds): %v", name, err)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(in)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
