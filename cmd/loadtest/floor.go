package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// The floor: the same media sent by a bare pion program, to put beside what
// the SDK costs. Each "bot" is one pion peer connection built the way pion's
// examples build one (its default codecs and interceptors, one UDP socket
// per connection; ICE kept on loopback), sending the video and audio files'
// frames with TrackLocalStaticSample from a ticker per track. The receiving
// ends live in a child process (this program again, with LOADTEST_FLOOR_SINK=1), so that the
// figures are the sender's alone.

// floorSinkEnv, set to 1, makes this program (or its test binary) the
// floor's receiving process.
const floorSinkEnv = "LOADTEST_FLOOR_SINK"

// floorSignal is one line of the sender↔sink exchange.
type floorSignal struct {
	ID  int    `json:"id"`
	SDP string `json:"sdp,omitempty"`
	// Packets is the sink's count of received RTP packets, in its last line.
	Packets int64 `json:"packets,omitempty"`
}

func floorAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, registry); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(registry),
		webrtc.WithSettingEngine(testclient.LoopbackSettingEngine())), nil
}

// gathered sets desc as pc's local description and returns it with every
// candidate in it.
func gathered(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	<-done
	return pc.LocalDescription().SDP, nil
}

// runFloorSink answers the offers read from in on out and reads every
// track it is sent until in is closed; then it writes the packet count.
func runFloorSink(in io.Reader, out io.Writer) error {
	api, err := floorAPI()
	if err != nil {
		return err
	}
	var packets atomic.Int64
	var pcs []*webrtc.PeerConnection
	enc := json.NewEncoder(out)
	scan := bufio.NewScanner(in)
	scan.Buffer(make([]byte, 1<<20), 1<<20)
	for scan.Scan() {
		var offer floorSignal
		if err := json.Unmarshal(scan.Bytes(), &offer); err != nil {
			return err
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		pcs = append(pcs, pc)
		pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := t.Read(buf); err != nil {
					return
				}
				packets.Add(1)
			}
		})
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
			return err
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		sdp, err := gathered(pc, answer)
		if err != nil {
			return err
		}
		if err := enc.Encode(floorSignal{ID: offer.ID, SDP: sdp}); err != nil {
			return err
		}
	}
	for _, pc := range pcs {
		_ = pc.Close()
	}
	return enc.Encode(floorSignal{ID: -1, Packets: packets.Load()})
}

// mediaFrames is a file's frames in memory, with their durations.
type mediaFrames struct {
	data [][]byte
	dur  []time.Duration
}

func loadIVF(path string) (*mediaFrames, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, h, err := mediaparse.NewIVFReader(f)
	if err != nil {
		return nil, err
	}
	frame := time.Second * time.Duration(h.TimebaseNumerator) / time.Duration(h.TimebaseDenominator)
	out := &mediaFrames{}
	for {
		b, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out.data = append(out.data, append([]byte(nil), b...))
		out.dur = append(out.dur, frame)
	}
}

func loadOgg(path string) (*mediaFrames, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := mediaparse.NewOggOpusReader(f)
	if err != nil {
		return nil, err
	}
	out := &mediaFrames{}
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		d, err := mediaparse.OpusPacketDuration(b)
		if err != nil {
			return nil, err
		}
		out.data = append(out.data, append([]byte(nil), b...))
		out.dur = append(out.dur, d)
	}
}

// sendLoop writes frames to track in a loop, one per ticker period, the
// way pion's examples do, until ctx ends.
func sendLoop(ctx context.Context, track *webrtc.TrackLocalStaticSample, frames *mediaFrames) {
	tick := time.NewTicker(frames.dur[0])
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(frames.data) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = track.WriteSample(media.Sample{Data: frames.data[i], Duration: frames.dur[i]})
	}
}

// runFloor sends the files from cfg.publishers bare pion connections for
// cfg.duration and reports the sender's cost in the same form as run.
func runFloor(ctx context.Context, cfg config) (*result, error) {
	video, err := loadIVF(cfg.video)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.video, err)
	}
	audio, err := loadOgg(cfg.audio)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.audio, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sink := exec.CommandContext(ctx, self)
	sink.Env = append(os.Environ(), floorSinkEnv+"=1")
	sink.Stderr = os.Stderr
	toSink, err := sink.StdinPipe()
	if err != nil {
		return nil, err
	}
	fromSink, err := sink.StdoutPipe()
	if err != nil {
		return nil, err
	}
	before := sampleProcess()
	if err := sink.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = sink.Process.Kill(); _ = sink.Wait() }()
	answers := json.NewDecoder(fromSink)
	enc := json.NewEncoder(toSink)

	api, err := floorAPI()
	if err != nil {
		return nil, err
	}
	sendCtx, stopSending := context.WithCancel(ctx)
	// pacers send the media; rtcpReaders end when their connection closes.
	var pacers, rtcpReaders sync.WaitGroup
	var pcs []*webrtc.PeerConnection
	defer func() {
		stopSending()
		pacers.Wait()
		for _, pc := range pcs {
			_ = pc.Close()
		}
		rtcpReaders.Wait()
	}()
	var connected sync.WaitGroup
	for i := 0; i < cfg.publishers; i++ {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return nil, err
		}
		pcs = append(pcs, pc)
		up := make(chan struct{})
		var once sync.Once
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				once.Do(func() { close(up) })
			}
		})
		vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", fmt.Sprint("floor-", i))
		if err != nil {
			return nil, err
		}
		at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", fmt.Sprint("floor-", i))
		if err != nil {
			return nil, err
		}
		for _, t := range []webrtc.TrackLocal{vt, at} {
			s, err := pc.AddTrack(t)
			if err != nil {
				return nil, err
			}
			rtcpReaders.Add(1)
			go func() { // RTCP must be read for the interceptors to work
				defer rtcpReaders.Done()
				for {
					if _, _, err := s.ReadRTCP(); err != nil {
						return
					}
				}
			}()
		}
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			return nil, err
		}
		sdp, err := gathered(pc, offer)
		if err != nil {
			return nil, err
		}
		if err := enc.Encode(floorSignal{ID: i, SDP: sdp}); err != nil {
			return nil, err
		}
		var answer floorSignal
		if err := answers.Decode(&answer); err != nil {
			return nil, fmt.Errorf("floor sink: %w", err)
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
			return nil, err
		}
		connected.Add(1)
		pacers.Add(1)
		go func() {
			defer pacers.Done()
			select {
			case <-up:
			case <-sendCtx.Done():
				connected.Done()
				return
			}
			connected.Done()
			var tracks sync.WaitGroup
			tracks.Add(1)
			go func() { defer tracks.Done(); sendLoop(sendCtx, at, audio) }()
			sendLoop(sendCtx, vt, video)
			tracks.Wait()
		}()
	}
	connected.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // settle, as run does
	start := sampleProcess()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.duration):
	}
	stop := sampleProcess()
	stopSending()
	pacers.Wait()
	_ = toSink.Close()
	var last floorSignal
	for last.ID != -1 {
		if err := answers.Decode(&last); err != nil {
			return nil, fmt.Errorf("floor sink's count: %w", err)
		}
	}
	res := &result{Publishers: cfg.publishers, WindowSeconds: stop.at.Sub(start.at).Seconds()}
	res.Video.Packets = last.Packets // every packet, both kinds, over the whole run
	res.Process = figures(before, start, stop, cfg.publishers)
	return res, nil
}
