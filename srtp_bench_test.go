package lksdk_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/testclient"
)

// sdkTrack adapts LocalSampleTrack's WriteSample to pion's signature.
type sdkTrack struct{ *lksdk.LocalSampleTrack }

func (t sdkTrack) WriteSample(s media.Sample) error { return t.LocalSampleTrack.WriteSample(s, nil) }

// sampleWriter is what both tracks of BenchmarkWriteSampleSRTP offer.
type sampleWriter interface {
	webrtc.TrackLocal
	WriteSample(media.Sample) error
}

// BenchmarkWriteSampleSRTP is the whole cost of sending a VP8 sample:
// packetizing, the interceptors, SRTP and the UDP socket, to a peer
// connection on loopback that reads every packet. "sdk" is a
// LocalSampleTrack on the SDK's API; "pion" is the floor, pion's
// TrackLocalStaticSample on an API with pion's defaults.
func BenchmarkWriteSampleSRTP(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		frame := make([]byte, size)
		frame[0] = 0x10 // a VP8 frame's first byte
		for _, impl := range []string{"sdk", "pion"} {
			b.Run(fmt.Sprintf("%s/%dB", impl, size), func(b *testing.B) {
				var api *webrtc.API
				var track sampleWriter
				var err error
				if impl == "sdk" {
					api = loopbackAPI(b, testclient.LoopbackSettingEngine())
					var t *lksdk.LocalSampleTrack
					t, err = lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
					track = sdkTrack{t}
				} else {
					api = pionDefaultAPI(b)
					track, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
				}
				require.NoError(b, err)
				var received atomic.Int64
				arrived := make(chan struct{}, 1)
				peerPair(b, api, []webrtc.TrackLocal{track}, func(remote *webrtc.TrackRemote) {
					buf := make([]byte, 1500)
					for {
						if _, _, err := remote.Read(buf); err != nil {
							return
						}
						received.Add(1)
						select {
						case arrived <- struct{}{}:
						default:
						}
					}
				})
				sample := media.Sample{Data: frame, Duration: 33 * time.Millisecond}
				// Write until the connection carries packets.
				deadline := time.Now().Add(10 * time.Second)
				for ready := false; !ready; {
					_ = track.WriteSample(sample)
					select {
					case <-arrived:
						ready = true
					case <-time.After(20 * time.Millisecond):
						if time.Now().After(deadline) {
							b.Fatal("no packet arrived")
						}
					}
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := track.WriteSample(sample); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(received.Load())/float64(b.N), "rx-packets/op")
			})
		}
	}
}

// pionDefaultAPI is an API as pion makes one by default (its codecs and
// interceptors), with ICE on loopback.
func pionDefaultAPI(tb testing.TB) *webrtc.API {
	m := &webrtc.MediaEngine{}
	require.NoError(tb, m.RegisterDefaultCodecs())
	registry := &interceptor.Registry{}
	require.NoError(tb, webrtc.RegisterDefaultInterceptors(m, registry))
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(registry),
		webrtc.WithSettingEngine(testclient.LoopbackSettingEngine()))
}
