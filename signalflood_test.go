package lksdk

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/fakesignal"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// signalFloodHeapBound is how much a bot's heap may grow while a server
// floods it with small signal responses and its callbacks are stuck. At
// most MaxPendingSignalResponses responses wait for the loop (a few
// hundred KiB of them here), and each update applied leaves one queued
// callback of about a hundred bytes: 50,000 of them are a few MiB. The rest
// is room for the relay, which runs in the same process, and the server's
// own traffic.
const signalFloodHeapBound = 64 << 20

// floodSpeakers is the number of speaker updates the flood tests send.
const floodSpeakers = 50_000

// relayJoin connects identity through relay, on loopback only, and
// disconnects it when the test ends.
func relayJoin(t *testing.T, relay *fakesignal.Server, apiKey, apiSecret, room string, cb *RoomCallback) *Room {
	t.Helper()
	r, err := ConnectToRoom(relay.URL(), ConnectInfo{
		APIKey: apiKey, APISecret: apiSecret, RoomName: room, ParticipantIdentity: "bot",
	}, cb, WithWebRTCAPI(inPackageAPI(t)), WithICEServers())
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return r
}

// speakerUpdate says that sid speaks at level.
func speakerUpdate(sid string, level float32) *livekit.SignalResponse {
	return &livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{
		SpeakersChanged: &livekit.SpeakersChanged{Speakers: []*livekit.SpeakerInfo{{Sid: sid, Level: level, Active: true}}},
	}}
}

// A server that floods 50,000 speaker updates at a bot whose event loop is
// busy and whose speaker callback is stuck: reading the signal connection
// pauses at MaxPendingSignalResponses (counted), the heap stays within
// signalFloodHeapBound, every update reaches the callback once it returns,
// in order, and the room stays connected.
func TestSignalFloodToSlowCallbackStaysBounded(t *testing.T) {
	srv := lktest.Start(t)
	relay, err := fakesignal.StartRelay(srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })

	stuck := make(chan struct{})
	var unstick sync.Once
	var calls atomic.Int64
	var lastLevel atomic.Uint32 // the last level seen, in thousandths
	bot := relayJoin(t, relay, srv.APIKey, srv.APISecret, lktest.RoomName(t), &RoomCallback{
		OnActiveSpeakersChanged: func(ps []Participant) {
			<-stuck
			calls.Add(1)
			if len(ps) == 1 {
				lastLevel.Store(uint32(ps[0].AudioLevel()*1000 + 0.5))
			}
		},
	})
	t.Cleanup(func() { unstick.Do(func() { close(stuck) }) }) // before Disconnect
	sid := bot.LocalParticipant.SID()
	before := bot.Stats()

	// The loop is busy with something slow (as a long SDP apply would be).
	busy, loopHeld := make(chan struct{}), make(chan struct{})
	require.True(t, bot.engine.post(func() { close(loopHeld); <-busy }))
	<-loopHeld
	baseline := heapAfterGC()

	injected := make(chan error, 1)
	go func() {
		for i := range floodSpeakers {
			if err := relay.Inject(speakerUpdate(sid, float32(i%999+1)/1000)); err != nil {
				injected <- err
				return
			}
		}
		injected <- nil
	}()
	require.Eventually(t, func() bool { return bot.Stats().SignalPauses > before.SignalPauses },
		30*time.Second, 10*time.Millisecond, "reading the signal connection pauses while the loop is busy")
	s := bot.Stats()
	require.Equal(t, MaxPendingSignalResponses, s.PendingSignalHighWater, "the loop's bound was reached, not passed")
	require.LessOrEqual(t, s.PendingSignalBytesHighWater, MaxPendingSignalBytes)
	paused := heapAfterGC()
	require.Less(t, int64(paused)-int64(baseline), int64(signalFloodHeapBound),
		"heap growth while the reader waits (baseline %d, now %d)", baseline, paused)

	close(busy)
	select {
	case err := <-injected:
		require.NoError(t, err, "the server's sends were held back, not refused")
	case <-time.After(3 * time.Minute):
		t.Fatal("the flood did not get through once the loop was free")
	}
	require.Eventually(t, func() bool { return bot.Stats().CallbackQueueHighWater >= floodSpeakers },
		time.Minute, 10*time.Millisecond, "every update queued its callback behind the stuck one: %+v", bot.Stats())
	flooded := heapAfterGC()
	require.Less(t, int64(flooded)-int64(baseline), int64(signalFloodHeapBound),
		"heap growth with the callbacks queued (baseline %d, now %d)", baseline, flooded)

	unstick.Do(func() { close(stuck) })
	require.Eventually(t, func() bool { return calls.Load() >= floodSpeakers }, time.Minute, 10*time.Millisecond,
		"every update reaches the callback")
	require.Equal(t, uint32((floodSpeakers-1)%999+1), lastLevel.Load(), "the callbacks see the state of the last update")
	s = bot.Stats()
	require.Zero(t, s.CallbacksRefused)
	require.Equal(t, ConnectionStateConnected, bot.ConnectionState())
}

// Callbacks stuck while the server sends more updates than
// MaxPendingCallbacks: the updates past the bound are refused, counted and
// the room closes with STATE_MISMATCH; the callbacks queued before still
// run, in order, and OnDisconnectedWithReason comes last.
func TestCallbackOverflowClosesTheRoom(t *testing.T) {
	srv := lktest.Start(t)
	relay, err := fakesignal.StartRelay(srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })

	stuck := make(chan struct{})
	var unstick sync.Once
	var calls, callsAtDisconnect atomic.Int64
	reasons := make(chan DisconnectReason, 2)
	bot := relayJoin(t, relay, srv.APIKey, srv.APISecret, lktest.RoomName(t), &RoomCallback{
		OnActiveSpeakersChanged: func([]Participant) {
			<-stuck
			calls.Add(1)
		},
		OnDisconnectedWithReason: func(reason DisconnectReason) {
			callsAtDisconnect.Store(calls.Load())
			reasons <- reason
		},
	})
	t.Cleanup(func() { unstick.Do(func() { close(stuck) }) }) // before Disconnect
	sid := bot.LocalParticipant.SID()
	baseline := heapAfterGC()

	const sent = MaxPendingCallbacks + 5000
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		for i := range sent {
			if relay.Inject(speakerUpdate(sid, float32(i%999+1)/1000)) != nil {
				return // the room left
			}
		}
	}()
	require.Eventually(t, func() bool { return bot.Stats().CallbacksRefused > 0 },
		3*time.Minute, 10*time.Millisecond, "updates past the bound are refused")
	select {
	case <-bot.Done():
		t.Fatal("the room closed before its callbacks returned")
	default:
	}
	grown := heapAfterGC()
	require.Less(t, int64(grown)-int64(baseline), int64(signalFloodHeapBound),
		"heap growth at the bound (baseline %d, now %d)", baseline, grown)
	s := bot.Stats()
	require.LessOrEqual(t, s.CallbackQueueHighWater, MaxPendingCallbacks+1, "one more at most: OnDisconnected")

	unstick.Do(func() { close(stuck) })
	select {
	case reason := <-reasons:
		require.Equal(t, callbackOverflowReason, reason)
	case <-time.After(time.Minute):
		t.Fatal("no OnDisconnectedWithReason")
	}
	<-bot.Done()
	<-injected
	ran := callsAtDisconnect.Load()
	require.Equal(t, calls.Load(), ran, "OnDisconnectedWithReason is the last callback")
	require.Greater(t, ran, int64(MaxPendingCallbacks-100), "the callbacks queued before the bound all ran")
	require.Less(t, ran, int64(sent), "the updates past the bound did not")
	require.Equal(t, callbackOverflowReason, bot.DisconnectReason())
}
