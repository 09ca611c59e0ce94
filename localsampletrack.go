package lksdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"

	"github.com/livekit/server-sdk-go/internal/codec"
)

const (
	rtpMTU = 1200
	// pauseThreshold is how far behind its schedule a writer may fall before
	// the track counts the delay as a pause and lets the RTP clock jump.
	pauseThreshold = 500 * time.Millisecond
)

// LocalSampleTrackOptions configure a LocalSampleTrack.
type LocalSampleTrackOptions func(s *LocalSampleTrack)

// WithSimulcast makes the track one layer of a simulcast publication: all
// layers share simulcastID, and layer says the layer's quality and size.
func WithSimulcast(simulcastID string, layer *livekit.VideoLayer) LocalSampleTrackOptions {
	return func(s *LocalSampleTrack) {
		s.layer = layer
		s.simulcastID = simulcastID
	}
}

// WithRTCPHandler sets a function called with each RTCP packet that
// subscribers (through the server) send about the track: receiver reports,
// NACKs, keyframe requests.
func WithRTCPHandler(cb func(rtcp.Packet)) LocalSampleTrackOptions {
	return func(s *LocalSampleTrack) { s.onRTCP = cb }
}

// WithStartOnSubscribe makes an audio track's writing from a provider
// (StartWrite) wait until the server reports that someone subscribed to
// it, so that a file's first moments are not sent to nobody. Video starts
// at once: the server announces a video track only when its media flows,
// and the first group of pictures reaches subscribers anyway, replayed on
// their keyframe request.
func WithStartOnSubscribe() LocalSampleTrackOptions {
	return func(s *LocalSampleTrack) { s.startOnSubscribe = true }
}

// SampleWriteOptions are per-sample settings of WriteSample.
type SampleWriteOptions struct {
	// AudioLevel is the sample's level in -dBov, 0 (loudest) to 127
	// (silence), sent in the audio level header extension so that the server
	// can tell who speaks.
	AudioLevel *uint8
}

// LocalSampleTrack is a track that sends media.Samples: whole encoded frames
// (for H.264, whole access units) that it packetizes into RTP.
//
// RTP timestamps advance by each sample's duration in the codec's clock. A
// gap in the media makes the timestamps jump by the time that passed: a gap
// is never hidden and never reused. With WriteSample, a writer more than
// half a second behind the schedule its samples' durations make counts as a
// gap; with StartWrite, a provider whose NextSample kept the track waiting
// that long does (a writer that was merely scheduled late catches up
// instead, keeping the timeline).
type LocalSampleTrack struct {
	codec       webrtc.RTPCodecCapability
	kind        webrtc.RTPCodecType
	id          string
	streamID    string
	rid         string
	simulcastID string
	layer       *livekit.VideoLayer
	onRTCP      func(rtcp.Packet)
	clockRate   uint32

	startOnSubscribe bool

	transformer     FrameTransformer  // WithFrameTransformer; nil: frames go as written
	isKeyFrame      func([]byte) bool // the codec's keyframe test, when transforming video
	transformFailed atomic.Int64
	transformLog    rateLog

	mu           sync.RWMutex
	bound        bool
	ssrc         webrtc.SSRC
	payloadType  uint8
	writer       webrtc.TrackLocalWriter
	audioExt     uint8 // negotiated header extension ids, 0 when absent
	midExt       uint8
	ridExt       uint8
	transceiver  *webrtc.RTPTransceiver
	rtcpSender   *webrtc.RTPSender // whose RTCP is read for this track
	onBind       func()
	onUnbind     func()
	provider     SampleProvider
	cancelWrite  context.CancelFunc
	writeDone    chan struct{}
	writerMember *groupMember    // the writer's place in the room's goroutines
	group        *goroutineGroup // of the room that published the track
	// binding ties the track to the session it is published on, when it
	// is published through a room.
	binding *trackBinding

	log      atomic.Pointer[logr.Logger] // the room's, once published
	muted    atomic.Bool
	writerID atomic.Uint64 // the goroutine writing from the provider

	samplesSent atomic.Int64
	packetsSent atomic.Int64
	bytesSent   atomic.Int64

	writeMu    sync.Mutex
	packetizer packetizer
	hdr        rtp.Header // reused for every packet
	level      [1]byte    // audio level extension payload
	ridBytes   []byte
	midBytes   []byte
	sendErr    error
	sendWriter webrtc.TrackLocalWriter
	seq        uint16
	nextTS     uint32    // timestamp of the next sample
	nextAt     time.Time // when the next sample is due, by the durations so far
	lastTS     uint32
	replays    uint32 // replayed frames since the last regular one
	started    bool

	keyFrames    keyFrameLimiter // keyframe requests, merged when too fast
	keyFrameWake chan struct{}   // a request was passed to the provider
}

// NewLocalSampleTrack returns a track for samples of codec c: VP8, VP9, AV1,
// H.264, Opus, PCMU, PCMA or G722.
func NewLocalSampleTrack(c webrtc.RTPCodecCapability, opts ...LocalSampleTrackOptions) (*LocalSampleTrack, error) {
	pk, kind, clock, err := packetizerFor(c.MimeType)
	if err != nil {
		return nil, err
	}
	if c.ClockRate == 0 {
		c.ClockRate = clock
	}
	s := &LocalSampleTrack{
		codec:      c,
		kind:       kind,
		id:         "TR_" + randomID(),
		streamID:   "ST_" + randomID(),
		clockRate:  c.ClockRate,
		packetizer: pk,

		keyFrameWake: make(chan struct{}, 1),
	}
	seq := make([]byte, 6)
	_, _ = rand.Read(seq)
	s.seq = uint16(seq[0])<<8 | uint16(seq[1])
	s.nextTS = uint32(seq[2])<<24 | uint32(seq[3])<<16 | uint32(seq[4])<<8 | uint32(seq[5])
	for _, o := range opts {
		o(s)
	}
	if s.transformer != nil {
		s.isKeyFrame = keyFrameCheck(s.codec.MimeType)
	}
	if s.layer != nil {
		if kind != webrtc.RTPCodecTypeVideo {
			return nil, ErrUnsupportedSimulcastKind
		}
		s.rid = ridForQuality(s.layer.Quality)
		s.ridBytes = []byte(s.rid)
		s.id, s.streamID = s.simulcastID, s.simulcastID
	}
	return s, nil
}

// packetizerFor returns the packetizer of the codec mime, with the codec's
// kind and RTP clock rate from the codec table.
func packetizerFor(mime string) (packetizer, webrtc.RTPCodecType, uint32, error) {
	info, ok := codec.Lookup(mime)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: %q", ErrUnsupportedFileType, mime)
	}
	var pk packetizer
	switch info.MimeType {
	case webrtc.MimeTypeVP8:
		pk = &vp8Packetizer{}
	case webrtc.MimeTypeVP9:
		pk = &vp9Packetizer{}
	case webrtc.MimeTypeAV1:
		pk = pionPacketizer{&codecs.AV1Payloader{}}
	case webrtc.MimeTypeH264:
		pk = &h264Packetizer{}
	case webrtc.MimeTypeOpus:
		pk = opusPacketizer{}
	case webrtc.MimeTypePCMU, webrtc.MimeTypePCMA:
		pk = pionPacketizer{&codecs.G711Payloader{}}
	case webrtc.MimeTypeG722:
		pk = pionPacketizer{&codecs.G722Payloader{}}
	default:
		return nil, 0, 0, fmt.Errorf("%w: %q", ErrUnsupportedFileType, mime)
	}
	return pk, info.Kind, info.ClockRate, nil
}

func ridForQuality(q livekit.VideoQuality) string {
	switch q {
	case livekit.VideoQuality_LOW:
		return "q"
	case livekit.VideoQuality_MEDIUM:
		return "h"
	default:
		return "f"
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID returns the track's id (for a simulcast layer, the simulcast id).
func (s *LocalSampleTrack) ID() string { return s.id }

// StreamID returns the id of the track's media stream.
func (s *LocalSampleTrack) StreamID() string { return s.streamID }

// RID returns the simulcast layer's RTP stream id ("q", "h" or "f"), or "".
func (s *LocalSampleTrack) RID() string { return s.rid }

// Kind returns audio or video.
func (s *LocalSampleTrack) Kind() webrtc.RTPCodecType { return s.kind }

// Codec returns the track's codec.
func (s *LocalSampleTrack) Codec() webrtc.RTPCodecCapability { return s.codec }

// Bind is called by pion when the track's sender is negotiated.
func (s *LocalSampleTrack) Bind(t webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	for _, c := range t.CodecParameters() {
		if !strings.EqualFold(c.MimeType, s.codec.MimeType) {
			continue
		}
		c := c
		if chosen == nil || (s.codec.SDPFmtpLine != "" && c.SDPFmtpLine == s.codec.SDPFmtpLine) {
			chosen = &c
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	s.mu.Lock()
	s.bound = true
	s.ssrc, s.payloadType, s.writer = t.SSRC(), uint8(chosen.PayloadType), t.WriteStream()
	s.audioExt, s.midExt, s.ridExt = 0, 0, 0
	for _, ext := range t.HeaderExtensions() {
		switch ext.URI {
		case sdp.AudioLevelURI:
			s.audioExt = uint8(ext.ID)
		case sdp.SDESMidURI:
			s.midExt = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			s.ridExt = uint8(ext.ID)
		}
	}
	onBind := s.onBind
	s.mu.Unlock()
	if onBind != nil {
		onBind()
	}
	return *chosen, nil
}

// Unbind is called by pion when the track's sender stops; writing from a
// provider stops with it.
func (s *LocalSampleTrack) Unbind(webrtc.TrackLocalContext) error {
	s.mu.Lock()
	s.bound = false
	s.writer = nil
	cancel, onUnbind := s.cancelWrite, s.onUnbind
	s.cancelWrite = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if onUnbind != nil {
		onUnbind()
	}
	return nil
}

// IsBound reports whether the track is negotiated and can send.
func (s *LocalSampleTrack) IsBound() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bound
}

// OnBind sets a function called when the track is bound; it must not block.
func (s *LocalSampleTrack) OnBind(f func()) {
	s.mu.Lock()
	s.onBind = f
	s.mu.Unlock()
}

// OnUnbind sets a function called when the track is unbound; it must not
// block.
func (s *LocalSampleTrack) OnUnbind(f func()) {
	s.mu.Lock()
	s.onUnbind = f
	s.mu.Unlock()
}

// SetTransceiver gives the track its transceiver and starts reading the RTCP
// of its sender, for keyframe requests and WithRTCPHandler. Publishing with
// LocalParticipant does this; call it when adding the track to a
// PeerConnection of your own. A sender's RTCP has one reader: calling it
// for a sender the track already reads does nothing more.
func (s *LocalSampleTrack) SetTransceiver(transceiver *webrtc.RTPTransceiver) {
	s.mu.Lock()
	s.transceiver = transceiver
	s.mu.Unlock()
	sender := transceiver.Sender()
	if !s.claimRTCP(sender) {
		return
	}
	go func() {
		for {
			var pkts []rtcp.Packet
			var err error
			if s.rid != "" {
				pkts, _, err = sender.ReadSimulcastRTCP(s.rid)
			} else {
				pkts, _, err = sender.ReadRTCP()
			}
			if err != nil {
				return
			}
			s.handleRTCP(pkts)
		}
	}()
}

// logger returns the logger of the room the track is published in, or the
// package's.
func (s *LocalSampleTrack) logger() logr.Logger {
	if l := s.log.Load(); l != nil {
		return *l
	}
	return getLogger()
}

// claimRTCP reports whether the caller is the first to read sender's RTCP
// for this track, and records it as read.
func (s *LocalSampleTrack) claimRTCP(sender *webrtc.RTPSender) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rtcpSender == sender {
		return false
	}
	s.rtcpSender = sender
	return true
}

// attach ties the track to a binding on a room's session: its writer
// goroutine belongs to the room, and waits until the session can carry
// media.
func (s *LocalSampleTrack) attach(b *trackBinding) {
	room := b.room
	if l := room.ownLogger(); l != nil {
		s.log.Store(l)
	}
	s.mu.Lock()
	s.group, s.binding, s.transceiver = &room.goroutines, b, b.transceiver
	s.mu.Unlock()
}

// handleRTCP passes keyframe requests to the provider and every packet to
// the WithRTCPHandler function.
func (s *LocalSampleTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			s.requestKeyFrame()
		}
		if s.onRTCP != nil {
			s.onRTCP(pkt)
		}
	}
}

// setMuted stops (or resumes) sending; on resuming video, the provider is
// asked for a keyframe so that subscribers can decode at once.
func (s *LocalSampleTrack) setMuted(muted bool) {
	if s.muted.Swap(muted) && !muted && s.kind == webrtc.RTPCodecTypeVideo {
		s.requestKeyFrame()
	}
}

// WriteSample packetizes sample and sends it. It does nothing while the
// track is not bound or is muted, but the RTP clock still advances.
func (s *LocalSampleTrack) WriteSample(sample media.Sample, opts *SampleWriteOptions) error {
	return s.writeSample(sample, opts, true)
}

// writeSample sends a sample; with mayPause, a writer far behind schedule
// counts as paused and the clock jumps.
func (s *LocalSampleTrack) writeSample(sample media.Sample, opts *SampleWriteOptions, mayPause bool) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ts := s.advance(sample.Duration, mayPause)
	return s.send(sample.Data, ts, opts, false)
}

// advance returns the timestamp of a sample of duration d and moves the
// clock past it.
func (s *LocalSampleTrack) advance(d time.Duration, mayPause bool) uint32 {
	now := time.Now()
	if !s.started {
		s.started, s.nextAt = true, now
	} else if late := now.Sub(s.nextAt); mayPause && late > pauseThreshold {
		// The writer paused: the clock jumps by the pause.
		s.nextTS += s.ticks(late)
		s.nextAt = now
	}
	ts := s.nextTS
	step := s.ticks(d)
	if step == 0 {
		step = 1 // a timestamp is never reused
	}
	s.nextTS += step
	s.nextAt = s.nextAt.Add(d)
	s.lastTS, s.replays = ts, 0
	return ts
}

// writeReplay sends a frame again, right after the last one: its timestamp
// lies between the last frame's and the next one's, and the clock does not
// move.
func (s *LocalSampleTrack) writeReplay(data []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.replays++
	ts := s.lastTS + s.replays
	if ts-s.lastTS >= s.nextTS-s.lastTS {
		return nil // no room left before the next frame
	}
	return s.send(data, ts, nil, true)
}

func (s *LocalSampleTrack) ticks(d time.Duration) uint32 {
	return uint32((d.Nanoseconds()*int64(s.clockRate) + int64(time.Second)/2) / int64(time.Second))
}

// send packetizes data with timestamp ts, transformed first when the track
// has a FrameTransformer (replay says the frame is a replayed one); it runs
// under writeMu.
func (s *LocalSampleTrack) send(data []byte, ts uint32, opts *SampleWriteOptions, replay bool) error {
	if s.muted.Load() || len(data) == 0 {
		return nil
	}
	s.mu.RLock()
	writer, ssrc, pt := s.writer, s.ssrc, s.payloadType
	audioExt, midExt, ridExt, transceiver := s.audioExt, s.midExt, s.ridExt, s.transceiver
	s.mu.RUnlock()
	if writer == nil {
		return nil
	}
	if s.transformer != nil {
		if h, ok := s.packetizer.(clearHinted); ok {
			h.hintClear(data)
			defer h.hintClear(nil)
		}
		var err error
		if data, err = s.transform(data, ts, ssrc, replay); err != nil {
			return err
		}
	}
	h := &s.hdr
	h.Version, h.PayloadType, h.SSRC, h.Timestamp = 2, pt, uint32(ssrc), ts
	h.Extension, h.Extensions = false, h.Extensions[:0]
	if audioExt != 0 && opts != nil && opts.AudioLevel != nil {
		s.level[0] = 0x80 | *opts.AudioLevel&0x7f // voice activity + level
		_ = h.SetExtension(audioExt, s.level[:])
	}
	if s.rid != "" {
		if ridExt != 0 {
			_ = h.SetExtension(ridExt, s.ridBytes)
		}
		if midExt != 0 && transceiver != nil {
			if mid := transceiver.Mid(); mid != "" {
				if string(s.midBytes) != mid {
					s.midBytes = []byte(mid)
				}
				_ = h.SetExtension(midExt, s.midBytes)
			}
		}
	}
	s.sendErr, s.sendWriter = nil, writer
	s.samplesSent.Add(1)
	s.packetizer.packetize(data, s)
	s.sendWriter = nil
	if errors.Is(s.sendErr, io.ErrClosedPipe) {
		return nil // the connection is closing
	}
	return s.sendErr
}

// emit sends one payload of the frame being sent.
func (s *LocalSampleTrack) emit(payload []byte, last bool) {
	s.hdr.Marker = last
	s.hdr.SequenceNumber = s.seq
	s.seq++
	n, err := s.sendWriter.WriteRTP(&s.hdr, payload)
	if err != nil && s.sendErr == nil {
		s.sendErr = err
	}
	s.packetsSent.Add(1)
	s.bytesSent.Add(int64(n))
}

// SampleTrackStats counts what a LocalSampleTrack has sent.
type SampleTrackStats struct {
	Samples int64 // samples (frames, audio packets) sent
	Packets int64 // RTP packets sent
	Bytes   int64 // RTP bytes sent, headers included
	// TransformFailed counts frames dropped because the track's
	// FrameTransformer failed on them.
	TransformFailed int64
}

// Stats returns what the track has sent so far.
func (s *LocalSampleTrack) Stats() SampleTrackStats {
	return SampleTrackStats{
		Samples: s.samplesSent.Load(), Packets: s.packetsSent.Load(), Bytes: s.bytesSent.Load(),
		TransformFailed: s.transformFailed.Load(),
	}
}

// SimulcastTrack is one layer of a simulcast publication.
type SimulcastTrack struct {
	trackLocal webrtc.TrackLocal
	videoLayer *livekit.VideoLayer
}

// NewSimulcastTrack pairs a layer's track with its description.
func NewSimulcastTrack(trackLocal webrtc.TrackLocal, videoLayer *livekit.VideoLayer) *SimulcastTrack {
	return &SimulcastTrack{trackLocal: trackLocal, videoLayer: videoLayer}
}

// TrackLocal returns the layer's track.
func (t *SimulcastTrack) TrackLocal() webrtc.TrackLocal { return t.trackLocal }

// VideoLayer returns the layer's description.
func (t *SimulcastTrack) VideoLayer() *livekit.VideoLayer { return t.videoLayer }

// Quality returns the layer's quality.
func (t *SimulcastTrack) Quality() livekit.VideoQuality { return t.videoLayer.GetQuality() }
