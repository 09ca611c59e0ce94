package recorder_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/livekit/server-sdk-go/pkg/recorder"
)

// opusSource stands in for a *webrtc.TrackRemote: 50 Opus packets of 20 ms,
// the third lost on the way.
type opusSource struct {
	seq uint16
}

func (s *opusSource) Codec() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}}
}

func (s *opusSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if s.seq == 2 {
		s.seq++ // lost
	}
	if s.seq == 50 {
		return nil, nil, io.EOF
	}
	p := &rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: 1000 + s.seq, Timestamp: 960 * uint32(s.seq)},
		Payload: []byte{0xfc, 0xff, 0xfe}, // a 20 ms CELT frame
	}
	s.seq++
	return p, nil, nil
}

func Example() {
	var track recorder.RTPSource = &opusSource{} // a *webrtc.TrackRemote in real use

	ext, err := recorder.ExtensionFor(track.Codec().MimeType)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "recorder")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	rec, err := recorder.NewTrackRecorder(track, filepath.Join(dir, "audio"+ext))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Run returns when the track ends; Close finishes the file.
	if err := rec.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	if err := rec.Close(); err != nil {
		fmt.Println(err)
	}
	st := rec.Stats()
	fmt.Println("extension:", ext)
	fmt.Println("packets written:", st.FramesWritten)
	fmt.Println("gaps:", st.Gaps)
	fmt.Println("duration:", st.Duration)
	// Output:
	// extension: .ogg
	// packets written: 49
	// gaps: 1
	// duration: 980ms
}
