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

// bigReplayer sends small delta frames every 33 ms and answers keyframe
// requests with replays of frames big enough to need pacing. Requests that
// come before a replay starts are merged into it (as ReaderSampleProvider
// does); one that comes during a replay makes another after it.
type bigReplayer struct {
	BaseSampleProvider
	requests atomic.Int32
	mu       sync.Mutex
	asked    bool // a replay was asked for and has not started
	left     int  // frames of the current replay still to give
	ended    bool // the current replay gave its last frame
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
	p.asked = true
	p.mu.Unlock()
}

func (p *bigReplayer) NextReplay() ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		p.ended = false
		return nil, false
	}
	if p.left == 0 && p.asked {
		p.asked, p.left = false, replayFrames
	}
	if p.left == 0 {
		return nil, false
	}
	p.left--
	p.ended = p.left == 0
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

	began := time.Now()
	for i := 0; i < 100; i++ {
		track.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}})
		time.Sleep(10 * time.Millisecond)
	}
	spent := time.Since(began)
	// Let a request that waited be forwarded, and its replay end.
	time.Sleep(KeyFrameRequestInterval + 500*time.Millisecond)
	track.stopWrite()

	st := track.KeyFrameStats()
	t.Logf("%+v (the requests took %s)", st, spent)
	require.EqualValues(t, 100, st.Requests)
	forwarded := p.requests.Load()
	require.EqualValues(t, forwarded, st.Forwarded)
	// A burst at once, then one for each interval the requests spanned
	// (at least one), and the last one that waited, when its interval ran.
	most := KeyFrameRequestBurst + int32(spent/KeyFrameRequestInterval) + 1
	require.GreaterOrEqual(t, forwarded, int32(KeyFrameRequestBurst+1))
	require.LessOrEqual(t, forwarded, most)
	require.EqualValues(t, 100-int(forwarded), st.Suppressed, "every request not forwarded was merged into one that was")

	replays := c.replays()
	// The burst's requests came during the first replay: they make one
	// more after it.
	require.GreaterOrEqual(t, len(replays), 2)
	require.LessOrEqual(t, len(replays), int(forwarded), "no more replays than requests forwarded")
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
	require.EqualValues(t, len(replays), st.DroppedReplayFrames, "one frame dropped from each replay")
	require.EqualValues(t, len(replays)*(replayFrames-1), st.ReplayedFrames)
}

// The limiter passes a burst at once and then one request per interval. A
// request that follows an unrelated one (the server asks once when a track
// starts, then once when a subscriber's down track is ready) is not held
// for the first one's interval.
func TestKeyFrameLimiterPassesABurstThenOnePerInterval(t *testing.T) {
	var l keyFrameLimiter
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	require.True(t, l.request(at(0)), "the first request")
	require.True(t, l.request(at(100*time.Millisecond)), "a second one soon after")
	require.True(t, l.request(at(200*time.Millisecond)), "the last of the burst")
	require.False(t, l.request(at(300*time.Millisecond)), "past the burst")
	require.False(t, l.request(at(400*time.Millisecond)), "merged into the waiting one")
	due, waiting := l.dueAt()
	require.True(t, waiting)
	require.Equal(t, at(KeyFrameRequestInterval), due, "one interval after the burst began")
	require.False(t, l.due(at(KeyFrameRequestInterval-time.Millisecond)))
	require.True(t, l.due(at(KeyFrameRequestInterval)), "the waiting request when its turn came")
	_, waiting = l.dueAt()
	require.False(t, waiting)

	// A flood: requests every 10 ms for 10 s pass at one per interval.
	before := l.stats().Forwarded
	for d := 1100 * time.Millisecond; d < 11100*time.Millisecond; d += 10 * time.Millisecond {
		if !l.request(at(d)) {
			l.due(at(d))
		}
	}
	flood := l.stats().Forwarded - before
	require.GreaterOrEqual(t, flood, uint64(9))
	require.LessOrEqual(t, flood, uint64(10), "one per interval once the burst is spent")

	// After a quiet spell the whole burst is there again.
	quiet := at(11100*time.Millisecond + KeyFrameRequestBurst*KeyFrameRequestInterval)
	for i := 0; i < KeyFrameRequestBurst; i++ {
		require.True(t, l.request(quiet.Add(time.Duration(i)*time.Millisecond)), "request %d after the quiet spell", i)
	}
	require.False(t, l.request(quiet.Add(KeyFrameRequestBurst*time.Millisecond)))

	st := l.stats()
	require.Equal(t, st.Requests, st.Forwarded+st.Suppressed+1, "all but the one waiting are forwarded or merged")
}

// slowProvider gives a delta frame every 10 s and replays a keyframe it
// keeps when asked.
type slowProvider struct {
	BaseSampleProvider
	mu     sync.Mutex
	asked  bool
	frames int
}

func (p *slowProvider) NextSample() (media.Sample, error) {
	p.mu.Lock()
	p.frames++
	p.mu.Unlock()
	return media.Sample{Data: []byte{0x11, 2, 3, 4}, Duration: maxSampleDuration}, nil
}

func (p *slowProvider) RequestKeyFrame() {
	p.mu.Lock()
	p.asked = true
	p.mu.Unlock()
}

func (p *slowProvider) NextReplay() ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.asked {
		return nil, false
	}
	p.asked = false
	return []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, true
}

// A keyframe request is answered while the writer waits for its next
// sample, not when that sample is due: here the replay goes out between
// the first frame and the second, 10 s apart.
func TestReplayDoesNotWaitForTheNextFrame(t *testing.T) {
	track, err := NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	require.NoError(t, err)
	c := &timedCapture{capture: &capture{codecs: allTestCodecs}}
	_, err = track.Bind(c)
	require.NoError(t, err)
	p := &slowProvider{}
	require.NoError(t, track.StartWrite(p, nil))
	defer track.stopWrite()
	sent := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pkts)
	}
	require.Eventually(t, func() bool { return sent() == 1 }, 5*time.Second, time.Millisecond, "the first frame")

	track.handleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}})
	require.Eventually(t, func() bool { return sent() == 2 }, 5*time.Second, time.Millisecond, "the replay")
	track.stopWrite()
	p.mu.Lock()
	frames := p.frames
	p.mu.Unlock()
	require.Equal(t, 1, frames, "the replay went out before the second frame was read")
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Equal(t, c.pkts[0].ts+1, c.pkts[1].ts, "the replay's timestamp lies right after the frame's")
	require.EqualValues(t, 1, track.KeyFrameStats().ReplayedFrames)
}
