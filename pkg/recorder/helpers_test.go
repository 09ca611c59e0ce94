package recorder

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	data []byte
	pos  int64
}

func (m *memFile) Write(p []byte) (int, error) {
	end := int(m.pos) + len(p)
	if end > len(m.data) {
		m.data = append(m.data, make([]byte, end-len(m.data))...)
	}
	copy(m.data[m.pos:], p)
	m.pos = int64(end)
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += int64(len(m.data))
	}
	if off < 0 {
		return 0, errors.New("memFile: negative position")
	}
	m.pos = off
	return off, nil
}

// noSeekFile is an io.WriteSeeker that cannot seek.
type noSeekFile struct {
	bytes.Buffer
}

func (*noSeekFile) Seek(int64, int) (int64, error) {
	return 0, errors.New("noSeekFile: cannot seek")
}

// discardFile is an io.WriteSeeker that keeps nothing.
type discardFile struct {
	pos, end int64
}

func (d *discardFile) Write(p []byte) (int, error) {
	d.pos += int64(len(p))
	d.end = max(d.end, d.pos)
	return len(p), nil
}

func (d *discardFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += d.pos
	case io.SeekEnd:
		off += d.end
	}
	d.pos = off
	return off, nil
}

// mediaFrame is a frame (or audio packet) of a test file.
type mediaFrame struct {
	data []byte
	pts  uint32 // in RTP clock ticks from the first frame
	key  bool
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadIVF reads the frames of a 30 fps IVF test file, with 90 kHz
// timestamps.
func loadIVF(t testing.TB, name string, isKey func([]byte) bool) []mediaFrame {
	t.Helper()
	r, hdr, err := mediaparse.NewIVFReader(bytes.NewReader(readTestdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	var frames []mediaFrame
	for {
		f, pts, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ticks := pts * 90000 * uint64(hdr.TimebaseNumerator) / uint64(hdr.TimebaseDenominator)
		frames = append(frames, mediaFrame{data: bytes.Clone(f), pts: uint32(ticks), key: isKey(f)})
	}
	return frames
}

// loadH264 reads the access units of the H.264 test file (30 fps).
func loadH264(t testing.TB) []mediaFrame {
	t.Helper()
	r := mediaparse.NewAnnexBReader(bytes.NewReader(readTestdata(t, "h264.h264")))
	var frames []mediaFrame
	for i := 0; ; i++ {
		au, key, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, mediaFrame{data: bytes.Clone(au), pts: uint32(i * 3000), key: key})
	}
	return frames
}

// loadOpus reads the packets of the Opus test file.
func loadOpus(t testing.TB) []mediaFrame {
	t.Helper()
	r, _, err := mediaparse.NewOggOpusReader(bytes.NewReader(readTestdata(t, "opus.ogg")))
	if err != nil {
		t.Fatal(err)
	}
	var frames []mediaFrame
	var pts uint32
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, mediaFrame{data: bytes.Clone(p), pts: pts, key: true})
		pts += uint32(opusPacketSamples(p))
	}
	return frames
}

// splitNALs returns the NAL units of an Annex-B stream.
func splitNALs(data []byte) [][]byte {
	var nals [][]byte
	for _, p := range bytes.Split(data, []byte{0, 0, 1}) {
		if p = bytes.TrimRight(p, "\x00"); len(p) > 0 {
			nals = append(nals, p)
		}
	}
	return nals
}

// normalizeAnnexB rewrites an Annex-B access unit with 4-byte start codes.
func normalizeAnnexB(au []byte) []byte {
	var out []byte
	for _, nal := range splitNALs(au) {
		out = append(out, 0, 0, 0, 1)
		out = append(out, nal...)
	}
	return out
}

// rtpUnit is a packet before sequence numbers are assigned.
type rtpUnit struct {
	ts      uint32
	marker  bool
	payload []byte
}

// packetizeOpts says how frames become packets.
type packetizeOpts struct {
	seqStart uint16
	tsStart  uint32
	mtu      uint16
	padding  bool // insert a padding-only packet after every 10th frame
	audio    bool // every packet is a frame, marker unset
}

// packetize turns frames into RTP packets with the payloader.
func packetize(frames []mediaFrame, pay rtp.Payloader, o packetizeOpts) []*rtp.Packet {
	if o.mtu == 0 {
		o.mtu = 1200
	}
	var units []rtpUnit
	for i, f := range frames {
		ts := o.tsStart + f.pts
		payloads := pay.Payload(o.mtu, f.data)
		for k, p := range payloads {
			units = append(units, rtpUnit{ts: ts, marker: !o.audio && k == len(payloads)-1, payload: p})
		}
		if o.padding && i%10 == 9 {
			units = append(units, rtpUnit{ts: ts})
		}
	}
	pkts := make([]*rtp.Packet, len(units))
	for i, u := range units {
		p := &rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				PayloadType:    96,
				SequenceNumber: o.seqStart + uint16(i),
				Timestamp:      u.ts,
				Marker:         u.marker,
				SSRC:           0x1234,
			},
			Payload: u.payload,
		}
		if len(u.payload) == 0 {
			p.Header.Padding = true
			p.Header.PaddingSize = 20
			p.PaddingSize = 20
		}
		pkts[i] = p
	}
	return pkts
}

// impairOpts says how a network mangles packets.
type impairOpts struct {
	loss    float64 // probability a packet is dropped
	dup     float64 // probability a packet is sent twice
	reorder float64 // probability a packet is swapped with one up to 4 later
	drop    func(i int, p *rtp.Packet) bool
}

// impair returns pkts mangled as o says, deterministically for the seed.
func impair(pkts []*rtp.Packet, seed uint64, o impairOpts) []*rtp.Packet {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*rtp.Packet
	for i, p := range pkts {
		if o.drop != nil && o.drop(i, p) {
			continue
		}
		if rng.Float64() < o.loss {
			continue
		}
		out = append(out, p)
		if rng.Float64() < o.dup {
			out = append(out, p)
		}
	}
	for i := range out {
		if rng.Float64() < o.reorder {
			j := min(i+1+rng.IntN(4), len(out)-1)
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// sliceSource is an RTPSource replaying packets, then io.EOF.
type sliceSource struct {
	codec webrtc.RTPCodecParameters
	pkts  []*rtp.Packet
	i     int
}

func (s *sliceSource) Codec() webrtc.RTPCodecParameters { return s.codec }

func (s *sliceSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if s.i >= len(s.pkts) {
		return nil, nil, io.EOF
	}
	s.i++
	return s.pkts[s.i-1], nil, nil
}

// rawSource is an RTPSource with Read and SetReadDeadline, like
// *webrtc.TrackRemote. After the packets it returns io.EOF, or with block
// set it blocks until a read deadline in the past is set.
type rawSource struct {
	sliceSource
	block bool

	mu        sync.Mutex
	expired   chan struct{}
	deadlines int
}

func newRawSource(codec webrtc.RTPCodecParameters, pkts []*rtp.Packet, block bool) *rawSource {
	return &rawSource{sliceSource: sliceSource{codec: codec, pkts: pkts}, block: block, expired: make(chan struct{})}
}

func (s *rawSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if s.i < len(s.pkts) {
		s.i++
		n, err := s.pkts[s.i-1].MarshalTo(b)
		return n, nil, err
	}
	if !s.block {
		return 0, nil, io.EOF
	}
	<-s.expired
	return 0, nil, os.ErrDeadlineExceeded
}

func (s *rawSource) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadlines++
	if !t.IsZero() && !t.After(time.Now()) {
		select {
		case <-s.expired:
		default:
			close(s.expired)
		}
	}
	return nil
}

// codecParams returns codec parameters for mime.
func codecParams(mime string) webrtc.RTPCodecParameters {
	c := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, PayloadType: 96}
	if mime == webrtc.MimeTypeOpus {
		c.ClockRate = 48000
		c.Channels = 2
	}
	return c
}

// isVP8Key and isVP9Key classify test frames.
func isVP8Key(f []byte) bool { return len(f) > 0 && f[0]&1 == 0 }

func isVP9Key(f []byte) bool {
	key, _, _ := vp9KeyframeInfo(f)
	return key
}

// payloaders returns a fresh payloader for mime.
func payloaderFor(mime string) rtp.Payloader {
	switch mime {
	case webrtc.MimeTypeVP8:
		return &codecs.VP8Payloader{EnablePictureID: true}
	case webrtc.MimeTypeVP9:
		return &codecs.VP9Payloader{InitialPictureIDFn: func() uint16 { return 0x7ff0 }}
	case webrtc.MimeTypeH264:
		return &codecs.H264Payloader{}
	case webrtc.MimeTypeAV1:
		return &codecs.AV1Payloader{}
	default:
		return &codecs.OpusPayloader{}
	}
}

// syntheticAV1 makes AV1 temporal units (temporal delimiter, sequence
// header every 30 units, a frame OBU of pseudo-random bytes) with 30 fps
// timestamps. The recorder does not decode, so the content need not.
func syntheticAV1(n int) []mediaFrame {
	seq := av1TestSequenceHeader(640, 360)
	frames := make([]mediaFrame, n)
	for i := range frames {
		tu := []byte{0x12, 0x00}
		key := i%30 == 0
		if key {
			tu = append(tu, 0x0a)
			tu = codec.AppendLEB128(tu, uint64(len(seq)))
			tu = append(tu, seq...)
		}
		size := 300 + (i*7919)%3000
		if key {
			size = 5000
		}
		body := make([]byte, size)
		for k := range body {
			body[k] = byte(i*31 + k*17)
		}
		tu = append(tu, 0x32) // OBU_FRAME with size field
		tu = codec.AppendLEB128(tu, uint64(len(body)))
		tu = append(tu, body...)
		frames[i] = mediaFrame{data: tu, pts: uint32(i * 3000), key: key}
	}
	return frames
}

// av1TestSequenceHeader returns a sequence header OBU payload stating the
// given maximum frame size.
func av1TestSequenceHeader(width, height int) []byte {
	var bw bitWriter
	bw.put(0, 3)  // seq_profile
	bw.put(0, 1)  // still_picture
	bw.put(0, 1)  // reduced_still_picture_header
	bw.put(0, 1)  // timing_info_present_flag
	bw.put(0, 1)  // initial_display_delay_present_flag
	bw.put(0, 5)  // operating_points_cnt_minus_1
	bw.put(0, 12) // operating_point_idc[0]
	bw.put(8, 5)  // seq_level_idx[0]
	bw.put(0, 1)  // seq_tier[0]
	bw.put(15, 4) // frame_width_bits_minus_1
	bw.put(15, 4) // frame_height_bits_minus_1
	bw.put(uint32(width-1), 16)
	bw.put(uint32(height-1), 16)
	bw.put(0x5a5a, 16) // the rest, not parsed
	return bw.bytes()
}

// bitWriter writes bits most significant first.
type bitWriter struct {
	b []byte
	n int
}

func (w *bitWriter) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (7 - w.n%8)
		w.n++
	}
}

func (w *bitWriter) bytes() []byte { return w.b }

// isFiller tells the recorder's gap filler from a real Opus packet: code 3,
// constant bitrate, no padding, no frame data.
func isFiller(p []byte) bool {
	return len(p) == 2 && p[0]&3 == 3 && p[1]&0xc0 == 0
}
