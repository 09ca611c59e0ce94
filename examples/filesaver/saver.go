package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/pion/webrtc/v3/pkg/media/h264writer"
	"github.com/pion/webrtc/v3/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v3/pkg/media/oggwriter"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/samplebuilder"
)

// maxLate is how many packets a track's sample builder holds while it
// waits for a missing one: about a second of video at 1 Mbit/s.
const maxLate = 200

// pliInterval is the least time between two keyframe requests for a track.
const pliInterval = time.Second

// SavedFile is one subscribed track being written to a file.
type SavedFile struct {
	Path        string
	Participant string
	TrackName   string
	MimeType    string
}

// Saver writes every subscribed VP8, H.264 and Opus track into a file in
// a directory: each track's RTP goes through a sample builder, which puts
// it in order and hands back whole frames' packets, into pion's IVF, H.264
// or Ogg writer. Other codecs are ignored.
type Saver struct {
	dir string

	mu     sync.Mutex
	files  []SavedFile
	names  map[string]int
	tracks map[*webrtc.TrackRemote]struct{}
	closed bool
	wg     sync.WaitGroup
	errs   []error
}

// NewSaver returns a saver writing into dir, which is created if needed.
func NewSaver(dir string) (*Saver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Saver{dir: dir, names: map[string]int{}, tracks: map[*webrtc.TrackRemote]struct{}{}}, nil
}

// Callback returns the room callbacks that start saving each subscribed
// track.
func (s *Saver) Callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{OnTrackSubscribed: s.trackSubscribed},
	}
}

// Files returns the files started so far.
func (s *Saver) Files() []SavedFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SavedFile(nil), s.files...)
}

// Close stops reading every track (their files are finished with what
// was received) and waits for the writers to close. It returns the errors
// the tracks ended with, if any.
func (s *Saver) Close() error {
	s.mu.Lock()
	s.closed = true
	for t := range s.tracks {
		// Interrupts the blocked read; the track's goroutine finishes.
		_ = t.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// writerFor creates the file base plus the codec's extension and returns
// its writer, a sample builder for the codec and the file's path. For a
// codec it does not save it returns a nil writer.
func writerFor(codec webrtc.RTPCodecParameters, base string, onDrop func()) (media.Writer, *samplebuilder.SampleBuilder, string, error) {
	drop := samplebuilder.WithPacketDroppedHandler(onDrop)
	switch {
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8):
		w, err := ivfwriter.New(base+".ivf", ivfwriter.WithCodec(webrtc.MimeTypeVP8))
		return w, samplebuilder.New(maxLate, &codecs.VP8Packet{}, codec.ClockRate, drop), base + ".ivf", err
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeH264):
		w, err := h264writer.New(base + ".h264")
		return w, samplebuilder.New(maxLate, &codecs.H264Packet{}, codec.ClockRate, drop), base + ".h264", err
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus):
		w, err := oggwriter.New(base+".ogg", 48000, max(codec.Channels, 1))
		return w, samplebuilder.New(maxLate, &codecs.OpusPacket{}, 48000, drop), base + ".ogg", err
	}
	return nil, nil, "", nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileBase returns a file name (without extension) for a track, unique in
// the saver, at most about 100 bytes.
func (s *Saver) fileBase(identity, name, sid string) string {
	clean := func(v string, n int) string {
		v = strings.Trim(unsafeChars.ReplaceAllString(v, "-"), ".-")
		if v == "" {
			v = "unnamed"
		}
		return v[:min(len(v), n)]
	}
	base := clean(identity, 40) + "_" + clean(name, 40) + "_" + clean(sid, 20)
	s.names[base]++
	if n := s.names[base]; n > 1 {
		base = fmt.Sprintf("%s-%d", base, n)
	}
	return base
}

func (s *Saver) trackSubscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	var lastPLI time.Time
	pli := func() {
		// Called from the track's goroutine: a frame was lost, ask for a
		// keyframe so that the file decodes again soon.
		if time.Since(lastPLI) >= pliInterval {
			lastPLI = time.Now()
			rp.WritePLI(track.SSRC())
		}
	}
	base := filepath.Join(s.dir, s.fileBase(rp.Identity(), pub.Name(), pub.SID()))
	w, sb, path, err := writerFor(track.Codec(), base, pli)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %w", pub.SID(), err))
		return
	}
	if w == nil {
		return // a codec this example does not save
	}
	s.files = append(s.files, SavedFile{Path: path, Participant: rp.Identity(), TrackName: pub.Name(), MimeType: track.Codec().MimeType})
	s.tracks[track] = struct{}{}
	s.wg.Add(1)
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		rp.WritePLI(track.SSRC()) // start with a keyframe
	}
	go func() {
		defer s.wg.Done()
		err := save(track, sb, w)
		s.mu.Lock()
		delete(s.tracks, track)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", pub.SID(), err))
		}
		s.mu.Unlock()
	}()
}

// save reads track until it ends or its read deadline passes, writing
// every complete frame, then writes what the builder still holds and
// closes the writer.
func save(track *webrtc.TrackRemote, sb *samplebuilder.SampleBuilder, w media.Writer) error {
	write := func(pkts []*rtp.Packet) error {
		for _, p := range pkts {
			if err := w.WriteRTP(p); err != nil {
				return err
			}
		}
		return nil
	}
	var werr error
	for werr == nil {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			break // the track ended, or Close interrupted the read
		}
		sb.Push(pkt)
		for pkts := sb.PopPackets(); pkts != nil && werr == nil; pkts = sb.PopPackets() {
			werr = write(pkts)
		}
	}
	for pkts := sb.ForcePopPackets(); pkts != nil && werr == nil; pkts = sb.ForcePopPackets() {
		werr = write(pkts)
	}
	return errors.Join(werr, w.Close())
}
