package interop_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/livekit/server-sdk-go/interop"
)

// trackStats is what a peer reports of a subscribed track.
type trackStats struct {
	Participant    string         `json:"participant"`
	SID            string         `json:"sid"`
	Name           string         `json:"name"`
	Kind           string         `json:"kind"`
	MimeType       string         `json:"mimeType"`
	FramesReceived int            `json:"framesReceived"`
	Sizes          map[string]int `json:"sizes"`
	AudioFrames    int            `json:"audioFrames"`
	AudioSamples   int            `json:"audioSamples"`
	RTP            *rtpStats      `json:"rtp"`
}

func (tr trackStats) String() string {
	s := fmt.Sprintf("%s %s, sink: %d frames %v, %d audio frames of %d samples", tr.Kind, tr.MimeType,
		tr.FramesReceived, tr.Sizes, tr.AudioFrames, tr.AudioSamples)
	if r := tr.RTP; r != nil {
		s += fmt.Sprintf("; rtp: codec %s, %d packets (%d lost), %d frames decoded (%d key) at %dx%d by %q, %d samples (%d concealed)",
			r.Codec, r.PacketsReceived, r.PacketsLost, r.FramesDecoded, r.KeyFramesDecoded, r.FrameWidth, r.FrameHeight,
			r.DecoderImplementation, r.TotalSamplesReceived, r.ConcealedSamples)
	}
	return s
}

// rtpStats are the subscriber's inbound-rtp statistics of a track.
type rtpStats struct {
	SSRC                  uint32 `json:"ssrc"`
	Codec                 string `json:"codec"`
	PacketsReceived       int    `json:"packetsReceived"`
	PacketsLost           int    `json:"packetsLost"`
	FramesDecoded         int    `json:"framesDecoded"`
	KeyFramesDecoded      int    `json:"keyFramesDecoded"`
	FrameWidth            int    `json:"frameWidth"`
	FrameHeight           int    `json:"frameHeight"`
	TotalSamplesReceived  int    `json:"totalSamplesReceived"`
	ConcealedSamples      int    `json:"concealedSamples"`
	DecoderImplementation string `json:"decoderImplementation"`
}

type statsReply struct {
	Tracks []trackStats `json:"tracks"`
}

func peerStats(t *testing.T, peer *interop.Peer) statsReply {
	t.Helper()
	var s statsReply
	require.NoError(t, peer.Call(ctxFor(t, 30*time.Second), "stats", nil, &s))
	return s
}

func (s statsReply) byName(name string) (trackStats, bool) {
	for _, tr := range s.Tracks {
		if tr.Name == name {
			return tr, true
		}
	}
	return trackStats{}, false
}

// decoded is the number of frames the peer's decoder output (inbound-rtp
// framesDecoded). What reached the peer's sink (FramesReceived) can be less:
// rtc-node's VideoStream drops frames its reader has not taken in time.
func (tr trackStats) decoded() int {
	if tr.RTP != nil {
		return tr.RTP.FramesDecoded
	}
	return 0
}

// testFile is a file of testdata/ and the frames (video) or packets
// (audio) it holds, counted here from the file itself.
type testFile struct {
	name, path string
	frames     int
	video      bool
}

func countFrames(t *testing.T, path string) testFile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tf := testFile{name: filepath.Base(path), path: path}
	next := func() error { return errors.New("unknown file type") }
	switch filepath.Ext(path) {
	case ".ivf":
		r, _, err := mediaparse.NewIVFReader(f)
		require.NoError(t, err)
		tf.video = true
		next = func() error { _, _, err := r.Next(); return err }
	case ".h264":
		r := mediaparse.NewAnnexBReader(f)
		tf.video = true
		next = func() error { _, _, err := r.Next(); return err }
	case ".ogg":
		r, _, err := mediaparse.NewOggOpusReader(f)
		require.NoError(t, err)
		next = func() error { _, err := r.Next(); return err }
	}
	for {
		err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "reading %s", path)
		tf.frames++
	}
	require.NotZero(t, tf.frames, path)
	return tf
}

// TestMediaGoToPeer publishes the VP8, H.264 and Opus test files from Go
// and checks that the peer decodes at least 95% of their frames, at the
// files' picture size.
func TestMediaGoToPeer(t *testing.T) {
	forEachPeer(t, func(t *testing.T, srv *lkserver.Server, kind string) {
		files := []testFile{
			countFrames(t, "../testdata/vp8.ivf"),
			countFrames(t, "../testdata/h264.h264"),
			countFrames(t, "../testdata/opus.ogg"),
		}
		room := lktest.RoomName(t)
		peer := startPeer(t, kind)
		joinPeer(t, peer, srv, room, participant{identity: "peer-" + kind})
		r := joinGo(t, srv, room, participant{identity: "go-publisher"}, nil)

		done := make(chan string, len(files))
		for _, f := range files {
			name := f.name
			opts := []lksdk.ReaderSampleProviderOption{
				lksdk.ReaderTrackWithOnWriteComplete(func() { done <- name }),
			}
			if !f.video {
				opts = append(opts, lksdk.ReaderTrackWithStartOnSubscribe())
			}
			track, err := lksdk.NewLocalFileTrack(f.path, opts...)
			require.NoError(t, err)
			pubOpts := &lksdk.TrackPublicationOptions{Name: name}
			if f.video {
				pubOpts.VideoWidth, pubOpts.VideoHeight = 320, 240
			}
			_, err = r.LocalParticipant.PublishTrack(track, pubOpts)
			require.NoError(t, err, "publishing %s", name)
		}
		for range files {
			recv(t, done, 60*time.Second, "the end of a file's writing")
		}

		// The peer has all the frames shortly after the last was sent; wait
		// until its counts stop growing.
		var stats statsReply
		last := -1
		waitFor(15*time.Second, func() bool {
			stats = peerStats(t, peer)
			total := 0
			// Not the sink's audio frames: rtc-node's audio stream goes on
			// producing (silent) frames after the packets stop.
			for _, tr := range stats.Tracks {
				total += tr.decoded()
				if tr.RTP != nil {
					total += tr.RTP.PacketsReceived
				}
			}
			stable := total == last
			last = total
			time.Sleep(400 * time.Millisecond)
			return stable
		})
		for _, tr := range stats.Tracks {
			t.Logf("%s peer, %s: %s", kind, tr.Name, tr)
		}

		for _, f := range files {
			t.Run(f.name, func(t *testing.T) {
				tr, ok := stats.byName(f.name)
				require.True(t, ok, "the %s peer never subscribed to %s; it has %+v", kind, f.name, stats.Tracks)
				want := (f.frames*95 + 99) / 100
				require.NotNil(t, tr.RTP, "the %s peer has no inbound-rtp statistics for %s", kind, f.name)
				if f.video {
					got := tr.decoded()
					rtp := *tr.RTP
					assert.GreaterOrEqual(t, got, want,
						"%s: the %s peer decoded %d of %d frames (codec %q, decoder %q, %d packets received)",
						f.name, kind, got, f.frames, rtp.Codec, rtp.DecoderImplementation, rtp.PacketsReceived)
					for size, n := range tr.Sizes {
						assert.Equal(t, "320x240", size, "%d frames of %s decoded at %s", n, f.name, size)
					}
					assert.Equal(t, "320x240", fmt.Sprintf("%dx%d", rtp.FrameWidth, rtp.FrameHeight), "%s: decoded frame size", f.name)
					assert.NotEmpty(t, tr.Sizes, "the peer's sink saw no frames of %s", f.name)
					return
				}
				assert.GreaterOrEqual(t, tr.RTP.PacketsReceived, want,
					"%s: the %s peer received %d of %d packets", f.name, kind, tr.RTP.PacketsReceived, f.frames)
				// 20 ms packets at 48 kHz: 960 samples each.
				decodedSamples := tr.RTP.TotalSamplesReceived - tr.RTP.ConcealedSamples
				assert.GreaterOrEqual(t, decodedSamples, want*960,
					"%s: the %s peer decoded %d samples (%d concealed) of %d packets' worth", f.name, kind,
					decodedSamples, tr.RTP.ConcealedSamples, f.frames)
			})
		}
	})
}

// recv waits for a value on ch for at most d.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
		var zero T
		return zero
	}
}
