package lksdk

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"
)

// bigReplayer sends small delta frames every 33 ms and answers each
// keyframe request with a replay of frames big enough to need pacing.
type bigReplayer struct {
	BaseSampleProvider
	requests atomic.Int32
	mu       sync.Mutex
	left     int // frames of the current replay still to give
}

const (
	replayFrames    = 9         // the last one passes MaxKeyFrameReplayBytes
	replayFrameSize = 256 << 10 // 8 of them make MaxKeyFrameReplayBytes
)

var bigFrame = bytes.Repeat([]byte{0x10}, replayFrameSize)

func (p *bigReplayer) NextSample() (media.Sample, error) {
	return media.Sample{Data: []byte{0x11, 2, 3, 4}, Duration: 33 * time.Millisecond}, nil
}

func (p *bigReplayer) RequestKeyFrame() {
	p.requests.Add(1)
	p.mu.Lock()
	p.left = replayFrames
	p.mu.Unlock()
}

func (p *bigReplayer) NextReplay() ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left == 0 {
		return nil, false
	}
	p.left--
	return bigFrame, true
}

// timedCapture records when each packet was written and its size.
type timedCapture struct {
	*capture
	mu   sync.Mutex
	pkts []timedPacket
}

type timedPacket struct {
	at   time.Time
	ts   uint32
	size int
}

func (c *timedCapture) WriteStream() webrtc.TrackLocalWriter { return c }
func (c *timedCapture) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	c.mu.Lock()
	c.pkts = append(c.pkts, timedPacket{at: time.Now(), ts: h.Timestamp, size: len(p)})
	c.mu.Unlock()
	return len(p), nil
}

// replays groups the packets of replayed frames (the big ones) into
// replays: runs of them with no regular frame between.
func (c *timedCapture) replays() [][]timedPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	perTS := map[uint32]int{}
	for _, p := range c.pkts {
		perTS[p.ts] += p.size
	}
	var out [][]timedPacket
	var cur []timedPacket
	for _, p := range c.pkts {
		if perTS[p.ts] < replayFrameSize/2 {
			if cur != nil {
				out, cur = append(out, cur), nil
			}
			continue
		}
		cur = append(cur, p)
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

// 100 PLIs in one second make at most a few replays, each paced at
// KeyFrameReplayRate and cut at MaxKeyFrameReplayBytes; the requests that
// were merged are counted.
func TestKeyFrameRequestsAreRateLimitedAndReplaysPaced(t *testing.T) {
	track, err := NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	require.NoError(t, err)
	c := &timedCapture{capture: &capture{codecs: allTestCodecs}}
	_, err = track.Bind(c)
	require.NoError(t, err)
	p := &bigReplayer{}
	require.NoError(t, track.StartWrite(p, nil))
	defer track.stopWrite()

	for i := 0; i < 100; i++ {
		track.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}})
		time.Sleep(10 * time.Millisecond)
	}
	// Let a request that waited be forwarded, and its replay end.
	time.Sleep(KeyFrameRequestInterval + 500*time.Millisecond)
	track.stopWrite()

	st := track.KeyFrameStats()
	t.Logf("%+v", st)
	require.EqualValues(t, 100, st.Requests)
	forwarded := p.requests.Load()
	require.EqualValues(t, forwarded, st.Forwarded)
	// The 100 requests span at least one second: one at once, one when the
	// interval ran, maybe one more if the last ones came after it.
	require.GreaterOrEqual(t, forwarded, int32(2))
	require.LessOrEqual(t, forwarded, int32(3))
	require.EqualValues(t, 100-int(forwarded), st.Suppressed, "every request not forwarded was merged into one that was")

	replays := c.replays()
	require.Len(t, replays, int(forwarded), "one replay per forwarded request")
	for i, r := range replays {
		bytes := 0
		for _, pkt := range r {
			bytes += pkt.size
		}
		// Each replay sends what fits MaxKeyFrameReplayBytes; the frame
		// past it is dropped.
		require.LessOrEqual(t, bytes, MaxKeyFrameReplayBytes*101/100, "replay %d (payload descriptors included)", i)
		require.Greater(t, bytes, MaxKeyFrameReplayBytes-replayFrameSize, "replay %d", i)
		// Paced: the last frame leaves no sooner than the bytes before it
		// allow at KeyFrameReplayRate.
		span := r[len(r)-1].at.Sub(r[0].at)
		least := time.Duration(float64(bytes-replayFrameSize) / KeyFrameReplayRate * float64(time.Second))
		require.GreaterOrEqual(t, span, least*9/10, "replay %d of %d bytes took %s", i, bytes, span)
	}
	require.EqualValues(t, forwarded, st.DroppedReplayFrames, "one frame dropped from each replay")
	require.EqualValues(t, int(forwarded)*(replayFrames-1), st.ReplayedFrames)
}
