package recorder

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
)

// loopSource replays marshalled packets forever, like a live track: each
// round continues the sequence numbers and advances the timestamps by the
// round's duration. It has Read, like *webrtc.TrackRemote, so the recorder
// reads into its own buffer.
type loopSource struct {
	codec webrtc.RTPCodecParameters
	pkts  [][]byte
	round uint32 // RTP ticks one round lasts
	i     int
}

func newLoopSource(mime string, pkts []*rtp.Packet, round uint32) *loopSource {
	s := &loopSource{codec: codecParams(mime), round: round}
	for _, p := range pkts {
		b, err := p.Marshal()
		if err != nil {
			panic(err)
		}
		s.pkts = append(s.pkts, b)
	}
	return s
}

func (s *loopSource) Codec() webrtc.RTPCodecParameters { return s.codec }

func (s *loopSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	return nil, nil, io.ErrUnexpectedEOF // not used: Read is
}

func (s *loopSource) Read(b []byte) (int, interceptor.Attributes, error) {
	k := s.i % len(s.pkts)
	n := copy(b, s.pkts[k])
	binary.BigEndian.PutUint16(b[2:], uint16(s.i))
	ts := binary.BigEndian.Uint32(b[4:]) + uint32(s.i/len(s.pkts))*s.round
	binary.BigEndian.PutUint32(b[4:], ts)
	s.i++
	return n, nil, nil
}

// benchmarkRecord measures the per-packet cost of recording: read into the
// recorder's buffer, unmarshal, jitter buffer, depacketize, write (to a
// writer that discards). One op is one packet.
func benchmarkRecord(b *testing.B, mime string, frames []mediaFrame, round uint32, audio bool) {
	pkts := packetize(frames, payloaderFor(mime), packetizeOpts{audio: audio})
	src := newLoopSource(mime, pkts, round)
	r, err := NewTrackRecorderWriter(src, &discardFile{})
	if err != nil {
		b.Fatal(err)
	}
	step := func() {
		pkt, err := r.read()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.handle(pkt); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: two rounds, so that buffers have grown to size.
	for i := 0; i < 2*len(pkts); i++ {
		step()
	}
	size := 0
	for _, p := range src.pkts {
		size += len(p)
	}
	b.SetBytes(int64(size / len(src.pkts)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.StopTimer()
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	if st := r.Stats(); st.FramesWritten == 0 || st.Gaps != 0 {
		b.Fatalf("stats %+v", st)
	}
}

func BenchmarkRecordVP8(b *testing.B) {
	frames := loadIVF(b, "vp8.ivf", isVP8Key)
	benchmarkRecord(b, webrtc.MimeTypeVP8, frames, uint32(len(frames))*3000, false)
}

func BenchmarkRecordH264(b *testing.B) {
	frames := loadH264(b)
	benchmarkRecord(b, webrtc.MimeTypeH264, frames, uint32(len(frames))*3000, false)
}

func BenchmarkRecordOpus(b *testing.B) {
	frames := loadOpus(b)
	last := frames[len(frames)-1]
	benchmarkRecord(b, webrtc.MimeTypeOpus, frames, last.pts+uint32(opusPacketSamples(last.data)), true)
}
