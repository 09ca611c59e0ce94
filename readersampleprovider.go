package lksdk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

const (
	defaultVideoFrameDuration = time.Second / 30
	// maxGOPBytes bounds the group of pictures kept for keyframe requests:
	// no more than one replay may send (a larger group is not replayed).
	maxGOPBytes = MaxKeyFrameReplayBytes
	// readerBufferSize buffers a file's reads: several frames of a 500 kbps
	// video, seconds of Opus.
	readerBufferSize = 8 << 10
)

// ReaderSampleProviderOption configures a ReaderSampleProvider.
type ReaderSampleProviderOption func(*ReaderSampleProvider)

// ReaderSampleProvider reads encoded media from an io.ReadCloser: VP8, VP9
// or AV1 in IVF, H.264 as an Annex-B byte stream, or Opus in Ogg. Create
// one with NewLocalFileTrack or NewLocalReaderTrack.
//
// Video samples are whole frames (for H.264, whole access units, parameter
// sets included with the keyframe they precede). Their durations come from
// FrameDuration when set, else from the IVF timestamps, the H.264 SPS
// timing info (30 fps without it) or each Opus packet's TOC.
//
// A file cannot make a keyframe when a new subscriber asks for one, so the
// provider keeps the current group of pictures (from the last keyframe on)
// and sends it again, ahead of the next frame, with timestamps that fit
// between the last frame's and the next one's. Subscribers decode from that
// keyframe at once; the stream's timeline is not shifted.
type ReaderSampleProvider struct {
	// Mime is the media type of the input: webrtc.MimeTypeVP8, ...
	Mime string
	// FrameDuration, when set, is the duration of every sample.
	FrameDuration time.Duration
	// OnWriteComplete is called when the input ends or fails.
	OnWriteComplete func()
	// OnWriteCompleteWithError is called, after OnWriteComplete, with nil
	// when the input ended and with the error when it failed: corrupt data,
	// or timing that cannot be played (ErrInvalidTiming).
	OnWriteCompleteWithError func(err error)
	// AudioLevel is the level sent with audio samples, in -dBov (0 loudest,
	// 127 silence).
	AudioLevel uint8

	reader     io.ReadCloser
	buffered   *bufio.Reader // reader, for the IVF and Ogg readers
	loop       bool
	sampleOpts []LocalSampleTrackOptions

	mu        sync.Mutex // NextSample against Close
	closed    bool
	ivf       *mediaparse.IVFReader
	ivfHeader *mediaparse.IVFHeader
	h264      *mediaparse.AnnexBReader
	ogg       *mediaparse.OggOpusReader

	// IVF frames are read one ahead: a frame's duration is the distance to
	// the next one's timestamp.
	cur, next     []byte
	nextPTS       uint64
	haveNext      bool
	lastDuration  time.Duration
	frames        int // video frames read, for errors
	samePTS       int // frames in a row whose successor has the same pts
	ivfEOF        bool
	keyframeCheck func([]byte) bool

	// The current group of pictures, for replays.
	gop         []byte
	gopFrames   []int // end offsets in gop
	gopTooBig   bool
	replayNext  int  // next frame to replay; -1 when not replaying
	replayEnded bool // the last frame of a replay was given
	replayReq   atomic.Bool
}

// ReaderTrackWithMime sets the media type of the input.
func ReaderTrackWithMime(mime string) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.Mime = mime }
}

// ReaderTrackWithFrameDuration makes every sample last duration (at most
// 10 s; NewLocalReaderTrack refuses a longer one with ErrInvalidTiming).
func ReaderTrackWithFrameDuration(duration time.Duration) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.FrameDuration = duration }
}

// ReaderTrackWithOnWriteComplete sets a function called when the input
// ends or fails.
func ReaderTrackWithOnWriteComplete(f func()) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.OnWriteComplete = f }
}

// ReaderTrackWithOnWriteError sets a function called when the input ends
// (with nil) or fails (with the error); see OnWriteCompleteWithError.
func ReaderTrackWithOnWriteError(f func(err error)) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.OnWriteCompleteWithError = f }
}

// ReaderTrackWithLoop makes a seekable input (a file) start over when it
// ends, with timestamps that go on.
func ReaderTrackWithLoop(loop bool) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.loop = loop }
}

// ReaderTrackWithRTCPHandler sets a function called with each RTCP packet
// about the track (keyframe requests are also answered by the provider).
func ReaderTrackWithRTCPHandler(cb func(rtcp.Packet)) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.sampleOpts = append(p.sampleOpts, WithRTCPHandler(cb)) }
}

// ReaderTrackWithStartOnSubscribe makes an audio input start playing once
// someone has subscribed to the track, rather than as soon as it is
// published (see WithStartOnSubscribe).
func ReaderTrackWithStartOnSubscribe() func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.sampleOpts = append(p.sampleOpts, WithStartOnSubscribe()) }
}

// ReaderTrackWithSampleTrackOptions passes options to the LocalSampleTrack,
// such as WithSimulcast to make the file one layer of a simulcast track.
func ReaderTrackWithSampleTrackOptions(opts ...LocalSampleTrackOptions) func(provider *ReaderSampleProvider) {
	return func(p *ReaderSampleProvider) { p.sampleOpts = append(p.sampleOpts, opts...) }
}

// NewLocalFileTrack opens file and returns a track that sends it once
// published: .ivf (VP8, VP9 or AV1, told by the file's FourCC), .h264 or
// .264 (H.264 Annex-B), .ogg or .opus (Opus). Another extension gives
// ErrUnsupportedFileType.
func NewLocalFileTrack(file string, options ...ReaderSampleProviderOption) (*LocalSampleTrack, error) {
	var mime string
	switch infos := codec.ForExtension(filepath.Ext(file)); len(infos) {
	case 0:
		return nil, fmt.Errorf("%w: %q (use %s)", ErrUnsupportedFileType, filepath.Ext(file), strings.Join(codec.Extensions(), ", "))
	case 1:
		mime = infos[0].MimeType
	default:
		mime = "" // a container of several codecs: its header says which
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	return NewLocalReaderTrack(f, mime, options...)
}

// NewLocalReaderTrack returns a track that sends what in holds, of media
// type mime (webrtc.MimeTypeVP8, MimeTypeVP9 or MimeTypeAV1 for IVF,
// MimeTypeH264 for Annex-B, MimeTypeOpus for Ogg), once published. Writing
// starts when the track is bound and stops at the end of in. in is closed
// then, or when the track is unpublished or its room left.
func NewLocalReaderTrack(in io.ReadCloser, mime string, options ...ReaderSampleProviderOption) (*LocalSampleTrack, error) {
	p := &ReaderSampleProvider{Mime: mime, reader: in, replayNext: -1}
	for _, o := range options {
		o(p)
	}
	if err := checkSampleDuration(p.FrameDuration); err != nil {
		_ = in.Close()
		return nil, fmt.Errorf("lksdk: frame duration: %w", err)
	}
	if err := p.open(); err != nil {
		_ = in.Close()
		return nil, err
	}
	track, err := NewLocalSampleTrack(codecCapability(p.Mime), p.sampleOpts...)
	if err != nil {
		_ = in.Close()
		return nil, err
	}
	track.OnBind(func() {
		if err := track.StartWriteWithError(p, p.complete); err != nil {
			track.logger().Info("could not start writing", "track", track.ID(), "error", err)
		}
	})
	return track, nil
}

// complete tells the provider's completion functions that writing ended.
func (p *ReaderSampleProvider) complete(err error) {
	if p.OnWriteComplete != nil {
		p.OnWriteComplete()
	}
	if p.OnWriteCompleteWithError != nil {
		p.OnWriteCompleteWithError(err)
	}
}

// codecCapability is what a track of the codec mime offers.
func codecCapability(mime string) webrtc.RTPCodecCapability {
	if info, ok := codec.Lookup(mime); ok {
		return info.Capability()
	}
	return webrtc.RTPCodecCapability{MimeType: mime}
}

// open reads the input's header and checks it holds what Mime says.
func (p *ReaderSampleProvider) open() error {
	// The IVF and Ogg readers make small reads (a frame's header, then the
	// frame): a buffer turns two system calls per frame into one per few
	// frames. It is reset after a rewind. The Annex-B reader buffers itself.
	if p.buffered == nil {
		p.buffered = bufio.NewReaderSize(p.reader, readerBufferSize)
	} else {
		p.buffered.Reset(p.reader)
	}
	mime := strings.ToLower(p.Mime)
	info, _ := codec.Lookup(mime)
	switch {
	case mime == "" || info.FourCC != "":
		r, h, err := mediaparse.NewIVFReader(p.buffered)
		if err != nil {
			return fmt.Errorf("%w: reading IVF header: %w", ErrUnsupportedFileType, err)
		}
		fileCodec, ok := codec.ByFourCC(h.FourCC)
		if !ok {
			return fmt.Errorf("%w: IVF with codec %q", ErrUnsupportedFileType, h.FourCC)
		}
		fileMime := fileCodec.MimeType
		if mime != "" && mime != strings.ToLower(fileMime) {
			return fmt.Errorf("%w: the IVF holds %s, not %s", ErrUnsupportedFileType, fileMime, p.Mime)
		}
		p.Mime, p.ivf, p.ivfHeader = fileMime, r, h
		p.keyframeCheck = map[string]func([]byte) bool{
			webrtc.MimeTypeVP8: mediaparse.IsVP8Keyframe,
			webrtc.MimeTypeVP9: mediaparse.IsVP9Keyframe,
			webrtc.MimeTypeAV1: mediaparse.IsAV1Keyframe,
		}[fileMime]
	case mime == strings.ToLower(webrtc.MimeTypeH264):
		p.h264 = mediaparse.NewAnnexBReader(p.reader)
		p.keyframeCheck = mediaparse.IsH264Keyframe
	case mime == strings.ToLower(webrtc.MimeTypeOpus):
		r, _, err := mediaparse.NewOggOpusReader(p.buffered)
		if err != nil {
			return fmt.Errorf("%w: reading Ogg Opus header: %w", ErrUnsupportedFileType, err)
		}
		p.ogg = r
	default:
		return fmt.Errorf("%w: %q", ErrUnsupportedFileType, p.Mime)
	}
	return nil
}

// OnBind does nothing: the input was opened when the track was made.
func (p *ReaderSampleProvider) OnBind() error { return nil }

// OnUnbind does nothing: a track bound again (after a reconnect) goes on
// from where it was. The input is closed when it ends or fails, when the
// track is unpublished, and when the room is left.
func (p *ReaderSampleProvider) OnUnbind() error { return nil }

// Close closes the input; NextSample then returns io.EOF.
func (p *ReaderSampleProvider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeLocked()
}

func (p *ReaderSampleProvider) closeLocked() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.reader.Close()
}

// CurrentAudioLevel returns AudioLevel.
func (p *ReaderSampleProvider) CurrentAudioLevel() uint8 { return p.AudioLevel }

// RequestKeyFrame makes NextReplay give the current group of pictures
// again, from its keyframe.
func (p *ReaderSampleProvider) RequestKeyFrame() {
	if p.keyframeCheck != nil {
		p.replayReq.Store(true)
	}
}

// NextSample returns the next frame or audio packet.
func (p *ReaderSampleProvider) NextSample() (media.Sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return media.Sample{}, io.EOF
	}
	sample, err := p.read()
	if errors.Is(err, io.EOF) && p.loop {
		if err = p.rewind(); err == nil {
			sample, err = p.read()
		}
	}
	if err != nil {
		_ = p.closeLocked() // the end, or a corrupt input
		return media.Sample{}, err
	}
	p.keep(sample.Data)
	return sample, nil
}

// NextReplay returns the next frame of the group of pictures to send again,
// once RequestKeyFrame asked for it; false when there is none (more). A
// replay ends with false even when another was asked for meanwhile: that
// one starts at the next call, so that each replay is bounded on its own
// (MaxKeyFrameReplayBytes).
func (p *ReaderSampleProvider) NextReplay() ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	if p.replayEnded {
		p.replayEnded = false
		return nil, false
	}
	if p.replayNext < 0 && p.replayReq.Swap(false) && len(p.gopFrames) > 0 && !p.gopTooBig {
		p.replayNext = 0
	}
	if p.replayNext < 0 {
		return nil, false
	}
	i := p.replayNext
	start := 0
	if i > 0 {
		start = p.gopFrames[i-1]
	}
	frame := p.gop[start:p.gopFrames[i]]
	p.replayNext++
	if p.replayNext == len(p.gopFrames) {
		p.replayNext, p.replayEnded = -1, true
	}
	return frame, true
}

// keep adds a video frame to the current group of pictures.
func (p *ReaderSampleProvider) keep(frame []byte) {
	if p.keyframeCheck == nil {
		return
	}
	if p.keyframeCheck(frame) {
		p.gop, p.gopFrames, p.gopTooBig = p.gop[:0], p.gopFrames[:0], false
	}
	if p.gopTooBig || len(p.gop)+len(frame) > maxGOPBytes {
		p.gopTooBig = true
		return
	}
	p.gop = append(p.gop, frame...)
	p.gopFrames = append(p.gopFrames, len(p.gop))
}

func (p *ReaderSampleProvider) read() (media.Sample, error) {
	switch {
	case p.ivf != nil:
		return p.readIVF()
	case p.h264 != nil:
		au, _, err := p.h264.Next()
		if err != nil {
			return media.Sample{}, err
		}
		n := p.frames
		p.frames++
		d := p.FrameDuration
		if d == 0 {
			d = defaultVideoFrameDuration
			if sps := p.h264.SPS(); sps != nil && sps.FrameRate > 0 {
				d = time.Duration(min(float64(time.Second)/sps.FrameRate, float64(maxSampleDuration+time.Nanosecond)))
				if err := checkFrameDuration(n, d, "H.264 SPS timing info"); err != nil {
					return media.Sample{}, err
				}
			}
		}
		return media.Sample{Data: au, Duration: d}, nil
	default:
		pkt, err := p.ogg.Next()
		if err != nil {
			return media.Sample{}, err
		}
		d := p.FrameDuration
		if d == 0 {
			if d, err = mediaparse.OpusPacketDuration(pkt); err != nil {
				return media.Sample{}, err
			}
		}
		return media.Sample{Data: pkt, Duration: d}, nil
	}
}

// readIVF returns the next IVF frame, with the duration up to the frame
// after it (the last duration for a frame whose successor has the same
// timestamp, as a hidden alt-ref frame may). Timestamps that go back or
// stand still for more than one frame, or a timebase that makes a frame
// impossibly long or short, end the input with ErrInvalidTiming.
func (p *ReaderSampleProvider) readIVF() (media.Sample, error) {
	if !p.haveNext {
		if p.ivfEOF {
			return media.Sample{}, io.EOF
		}
		frame, pts, err := p.ivf.Next()
		if err != nil {
			return media.Sample{}, err
		}
		p.next, p.nextPTS, p.haveNext = append(p.next[:0], frame...), pts, true
	}
	p.cur, p.next = p.next, p.cur
	curPTS := p.nextPTS
	p.haveNext = false
	n := p.frames
	p.frames++

	frame, pts, err := p.ivf.Next()
	switch {
	case err == nil:
		p.next, p.nextPTS, p.haveNext = append(p.next[:0], frame...), pts, true
		if p.FrameDuration == 0 {
			if err := p.checkPTS(n, curPTS, pts); err != nil {
				return media.Sample{}, err
			}
			if pts > curPTS {
				p.lastDuration = p.ptsDuration(pts - curPTS)
			}
		}
	case errors.Is(err, io.EOF):
		p.ivfEOF = true
	default:
		return media.Sample{}, err
	}
	d := p.FrameDuration
	if d == 0 {
		d = p.lastDuration
		if d == 0 {
			d = p.ptsDuration(1)
		}
		if err := checkFrameDuration(n, d, "IVF timestamps"); err != nil {
			return media.Sample{}, err
		}
	}
	return media.Sample{Data: p.cur, Duration: d}, nil
}

// checkPTS reports IVF timestamps that cannot be played: frame n+1's pts
// before frame n's, or the same pts on three frames in a row.
func (p *ReaderSampleProvider) checkPTS(n int, cur, next uint64) error {
	switch {
	case next < cur:
		return fmt.Errorf("%w: IVF frame %d has timestamp %d, before frame %d's %d", ErrInvalidTiming, n+1, next, n, cur)
	case next == cur:
		p.samePTS++
		if p.samePTS > 1 {
			return fmt.Errorf("%w: IVF frames %d to %d all have timestamp %d", ErrInvalidTiming, n-1, n+1, cur)
		}
	default:
		p.samePTS = 0
	}
	return nil
}

// ptsDuration converts IVF timebase units to a duration.
func (p *ReaderSampleProvider) ptsDuration(units uint64) time.Duration {
	return ivfDuration(units, p.ivfHeader.TimebaseNumerator, p.ivfHeader.TimebaseDenominator)
}

// rewind starts a seekable input over.
func (p *ReaderSampleProvider) rewind() error {
	seeker, ok := p.reader.(io.Seeker)
	if !ok {
		return io.EOF
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return err
	}
	p.haveNext, p.ivfEOF, p.frames, p.samePTS = false, false, 0, 0
	mime := p.Mime
	if p.ivf != nil {
		mime = "" // read the header again
	}
	p.ivf, p.h264, p.ogg = nil, nil, nil
	saved := p.Mime
	p.Mime = mime
	err := p.open()
	if p.Mime == "" {
		p.Mime = saved
	}
	return err
}
