package lksdk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/codec"
	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

func testdataBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func readerProvider(t testing.TB, data []byte, mime string, opts ...ReaderSampleProviderOption) *ReaderSampleProvider {
	t.Helper()
	p := &ReaderSampleProvider{Mime: mime, reader: io.NopCloser(bytes.NewReader(data)), replayNext: -1}
	for _, o := range opts {
		o(p)
	}
	require.NoError(t, p.open())
	return p
}

func TestUnknownFileTypes(t *testing.T) {
	_, err := NewLocalFileTrack("movie.mp4")
	require.ErrorIs(t, err, ErrUnsupportedFileType)
	_, err = NewLocalReaderTrack(io.NopCloser(bytes.NewReader(nil)), "video/H265")
	require.ErrorIs(t, err, ErrUnsupportedFileType)
	// An .ivf that is not IVF, and an IVF that is not the mime asked for.
	_, err = NewLocalReaderTrack(io.NopCloser(bytes.NewReader([]byte("not an ivf file at all, not at all"))), webrtc.MimeTypeVP8)
	require.ErrorIs(t, err, ErrUnsupportedFileType)
	_, err = NewLocalReaderTrack(io.NopCloser(bytes.NewReader(testdataBytes(t, "vp9.ivf"))), webrtc.MimeTypeVP8)
	require.ErrorIs(t, err, ErrUnsupportedFileType)
	_, err = NewLocalReaderTrack(io.NopCloser(bytes.NewReader(testdataBytes(t, "vp8.ivf"))), webrtc.MimeTypeOpus)
	require.ErrorIs(t, err, ErrUnsupportedFileType)
}

func TestFileTrackCodecs(t *testing.T) {
	for file, mime := range map[string]string{
		"vp8.ivf": webrtc.MimeTypeVP8, "vp9.ivf": webrtc.MimeTypeVP9, "h264.h264": webrtc.MimeTypeH264, "opus.ogg": webrtc.MimeTypeOpus,
	} {
		track, err := NewLocalFileTrack(filepath.Join("testdata", file))
		require.NoError(t, err, file)
		require.Equal(t, mime, track.Codec().MimeType, file)
	}
}

func TestSampleDurationsComeFromTheContainer(t *testing.T) {
	for _, tc := range []struct {
		file, mime string
		want       time.Duration
	}{
		{"vp8.ivf", webrtc.MimeTypeVP8, time.Second / 30},
		{"h264.h264", webrtc.MimeTypeH264, time.Second / 30},
		{"opus.ogg", webrtc.MimeTypeOpus, 20 * time.Millisecond},
	} {
		p := readerProvider(t, testdataBytes(t, tc.file), tc.mime)
		var total time.Duration
		n := 0
		for {
			s, err := p.NextSample()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, s.Duration, "%s sample %d", tc.file, n)
			total += s.Duration
			n++
		}
		t.Logf("%s: %d samples, %s", tc.file, n, total)
	}
	// FrameDuration overrides the container.
	p := readerProvider(t, testdataBytes(t, "vp8.ivf"), webrtc.MimeTypeVP8, ReaderTrackWithFrameDuration(40*time.Millisecond))
	s, err := p.NextSample()
	require.NoError(t, err)
	require.Equal(t, 40*time.Millisecond, s.Duration)
}

func TestH264SamplesAreAccessUnits(t *testing.T) {
	p := readerProvider(t, testdataBytes(t, "h264.h264"), webrtc.MimeTypeH264)
	s, err := p.NextSample()
	require.NoError(t, err)
	// The first sample is the keyframe, its parameter sets with it.
	var types []byte
	for _, nal := range codec.SplitAnnexB(s.Data, nil) {
		types = append(types, nal[0]&0x1f)
	}
	require.Contains(t, types, byte(7))
	require.Contains(t, types, byte(8))
	require.Contains(t, types, byte(5))
	require.True(t, mediaparse.IsH264Keyframe(s.Data))
}

func TestKeyFrameRequestReplaysTheGroupOfPictures(t *testing.T) {
	p := readerProvider(t, testdataBytes(t, "vp8.ivf"), webrtc.MimeTypeVP8)
	var sent [][]byte
	for i := 0; i < 10; i++ {
		s, err := p.NextSample()
		require.NoError(t, err)
		sent = append(sent, append([]byte(nil), s.Data...))
	}
	_, ok := p.NextReplay()
	require.False(t, ok, "nothing to replay before a request")
	p.RequestKeyFrame()
	for i := 0; i < 10; i++ {
		frame, ok := p.NextReplay()
		require.True(t, ok, "replayed frame %d", i)
		require.Equal(t, sent[i], frame, "replayed frame %d", i)
	}
	_, ok = p.NextReplay()
	require.False(t, ok, "the replay ends with the group of pictures")
	require.True(t, mediaparse.IsVP8Keyframe(sent[0]))
	s, err := p.NextSample()
	require.NoError(t, err)
	require.NotEqual(t, sent[0], s.Data, "the file goes on after the replay")
}

func TestLoopStartsOver(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "opus.ogg"))
	require.NoError(t, err)
	p := &ReaderSampleProvider{Mime: webrtc.MimeTypeOpus, reader: f, replayNext: -1, loop: true}
	require.NoError(t, p.open())
	defer p.Close()
	for i := 0; i < 1000; i++ { // the file has about 400 packets
		_, err := p.NextSample()
		require.NoError(t, err, "sample %d", i)
	}
}

func TestCorruptInputEndsTheTrackWithoutPanic(t *testing.T) {
	for _, tc := range []struct{ file, mime string }{
		{"vp8.ivf", webrtc.MimeTypeVP8}, {"h264.h264", webrtc.MimeTypeH264}, {"opus.ogg", webrtc.MimeTypeOpus},
	} {
		data := testdataBytes(t, tc.file)
		truncated := data[:len(data)/2+7]
		track, err := NewLocalReaderTrack(io.NopCloser(bytes.NewReader(truncated)), tc.mime)
		require.NoError(t, err, tc.file)
		complete := make(chan struct{})
		p := track.provider
		require.Nil(t, p)
		c := &capture{codecs: allTestCodecs}
		_, err = track.Bind(c)
		require.NoError(t, err)
		// Bind started writing; replace it with one that reports the end
		// quickly, paced as fast as the samples allow.
		track.stopWrite()
		prov := readerProvider(t, truncated, tc.mime, ReaderTrackWithFrameDuration(time.Microsecond))
		require.NoError(t, track.StartWrite(prov, func() { close(complete) }))
		select {
		case <-complete:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: OnWriteComplete not called for a truncated file", tc.file)
		}
		track.stopWrite()
		require.NotZero(t, c.count, tc.file)
	}
}

var allTestCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, PayloadType: 102},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
}

// FuzzReaderSampleProvider reads random bytes as every supported input type;
// whatever the input, reading ends with an error, never a panic, and never
// returns more bytes than it read.
func FuzzReaderSampleProvider(f *testing.F) {
	for _, file := range []string{"vp8.ivf", "vp9.ivf", "h264.h264", "opus.ogg"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 4096)])
	}
	f.Add([]byte("DKIF"))
	f.Add([]byte("OggS"))
	f.Add([]byte{0, 0, 0, 1, 0x65})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mime := range []string{webrtc.MimeTypeVP8, webrtc.MimeTypeH264, webrtc.MimeTypeOpus} {
			p := &ReaderSampleProvider{Mime: mime, reader: io.NopCloser(bytes.NewReader(data)), replayNext: -1}
			if p.open() != nil {
				continue
			}
			total := 0
			for i := 0; i < 100000; i++ {
				if i%7 == 3 {
					p.RequestKeyFrame()
				}
				for _, ok := p.NextReplay(); ok; _, ok = p.NextReplay() {
				}
				s, err := p.NextSample()
				if err != nil {
					break
				}
				total += len(s.Data)
				if total > len(data)+64 {
					t.Fatalf("%s: %d bytes out of %d in", mime, total, len(data))
				}
			}
		}
	})
}
