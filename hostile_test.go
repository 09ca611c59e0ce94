package lksdk

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/internal/hostile"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// floodHeapBound is how much a bot's heap may grow, above what it was before
// the flood, while a participant floods it with lossy data. The bounds of
// received data (MaxPendingLossyBytes, MaxPendingReliableBytes) add up to
// 20 MiB; the rest is room for pion's buffers and the flooder's own, which
// runs in the same process (at most 1 MiB in its send buffer).
const floodHeapBound = 64 << 20

var (
	loopbackOnce sync.Once
	loopbackAPI  *webrtc.API
	loopbackErr  error
)

// inPackageJoin connects identity to room on srv, on loopback only, and
// disconnects it when the test ends.
func inPackageJoin(t *testing.T, srv *lkserver.Server, room, identity string, cb *RoomCallback) *Room {
	t.Helper()
	r, err := ConnectToRoom(srv.URL, ConnectInfo{
		APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity,
	}, cb, WithWebRTCAPI(inPackageAPI(t)), WithICEServers())
	require.NoError(t, err, "%s joining %s", identity, room)
	t.Cleanup(r.Disconnect)
	return r
}

// inPackageAPI returns a WebRTC API that gathers loopback candidates only.
func inPackageAPI(t *testing.T) *webrtc.API {
	t.Helper()
	loopbackOnce.Do(func() {
		loopbackAPI, loopbackErr = NewWebRTCAPI(loopbackSettingEngine())
	})
	require.NoError(t, loopbackErr)
	return loopbackAPI
}

// loopbackSettingEngine gathers only UDP host candidates of the loopback
// interface, with no mDNS (internal/testclient's, which this package's own
// tests cannot import).
func loopbackSettingEngine() webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// heapAfterGC returns the bytes of live heap objects.
func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A participant that floods the room with lossy data at line rate, to a bot
// whose data callback takes 10 ms a message, grows the bot's heap by no
// more than floodHeapBound; the excess is dropped and counted, and a
// reliable message sent afterwards still arrives.
func TestLossyFloodStaysBounded(t *testing.T) {
	srv := lktest.Start(t)
	var lossy atomic.Int64
	reliable := make(chan string, 16)
	connected := make(chan string, 16)
	bot := inPackageJoin(t, srv, "flood", "bot", &RoomCallback{
		OnParticipantConnected: func(rp *RemoteParticipant) { connected <- rp.Identity() },
		ParticipantCallback: ParticipantCallback{
			OnDataPacket: func(data []byte, params DataReceiveParams) {
				if params.Kind == livekit.DataPacket_RELIABLE {
					reliable <- string(data)
					return
				}
				lossy.Add(1)
				time.Sleep(10 * time.Millisecond)
			},
		}})
	attacker := inPackageJoin(t, srv, "flood", "attacker", nil)
	require.Eventually(t, func() bool { return bot.GetParticipantByIdentity("attacker") != nil },
		10*time.Second, 10*time.Millisecond, "the bot sees the attacker")

	// One packet the ordinary way opens the attacker's lossy channel.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, attacker.LocalParticipant.PublishDataPacket(ctx, []byte("hello"), WithDataReliable(false)))
	require.Eventually(t, func() bool { return lossy.Load() > 0 }, 10*time.Second, 10*time.Millisecond,
		"the first lossy packet arrives")

	attacker.engine.mu.Lock()
	dc := attacker.engine.lossyDC
	attacker.engine.mu.Unlock()

	baseline := heapAfterGC()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if h := heapAfterGC(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	type result struct {
		sent int
		err  error
	}
	flooded := make(chan result, 1)
	go func() {
		sent, err := hostile.FloodLossy(context.Background(), dc, 4096, 30*time.Second)
		flooded <- result{sent, err}
	}()

	// Other events are not dropped by the data bound: a participant that
	// joins during the flood is announced.
	time.Sleep(3 * time.Second)
	inPackageJoin(t, srv, "flood", "newcomer", nil)
	for id := ""; id != "newcomer"; {
		select {
		case id = <-connected:
		case <-time.After(30 * time.Second):
			t.Fatal("the bot was not told of a participant that joined during the flood")
		}
	}

	res := <-flooded
	sent, err := res.sent, res.err
	close(stopSampling)
	<-sampled
	require.NoError(t, err)
	if h := heapAfterGC(); h > peak.Load() {
		peak.Store(h)
	}
	growth := int64(peak.Load()) - int64(baseline)
	t.Logf("flood: %d packets sent, %d delivered; heap %d MiB before, grew by at most %d MiB",
		sent, lossy.Load(), baseline>>20, growth>>20)
	require.Less(t, growth, int64(floodHeapBound), "the bot's heap grew without bound")

	stats := bot.Stats()
	t.Logf("bot stats: %+v", stats)
	require.NotZero(t, stats.DroppedLossy, "lossy data past the bound is dropped and counted")
	require.LessOrEqual(t, stats.PendingLossyHighWater, MaxPendingLossyPackets)
	require.LessOrEqual(t, stats.PendingBytesHighWater, MaxPendingReliableBytes)
	require.Less(t, stats.CallbackQueueHighWater, MaxPendingLossyPackets+MaxPendingReliablePackets+64,
		"the callback queue is bounded by the data bounds")

	// The room still works: a reliable message sent now arrives.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, attacker.LocalParticipant.PublishDataPacket(ctx, []byte("after the flood")))
	select {
	case got := <-reliable:
		require.Equal(t, "after the flood", got)
	case <-time.After(60 * time.Second):
		t.Fatal("the reliable message sent after the flood did not arrive")
	}
}

// A participant sending reliable data faster than the bot's callback takes
// it makes the bot pause reading, within MaxPendingReliablePackets, and
// every message still arrives, in order.
func TestReliableFloodPausesAndLosesNothing(t *testing.T) {
	srv := lktest.Start(t)
	const n = 2000
	var mu sync.Mutex
	var got []string
	all := make(chan struct{})
	bot := inPackageJoin(t, srv, "reliable-flood", "bot", &RoomCallback{ParticipantCallback: ParticipantCallback{
		OnDataPacket: func(data []byte, _ DataReceiveParams) {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			got = append(got, string(data))
			if len(got) == n {
				close(all)
			}
			mu.Unlock()
		},
	}})
	sender := inPackageJoin(t, srv, "reliable-flood", "sender", nil)
	require.Eventually(t, func() bool { return bot.GetParticipantByIdentity("sender") != nil },
		10*time.Second, 10*time.Millisecond, "the bot sees the sender")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < n; i++ {
		require.NoError(t, sender.LocalParticipant.PublishDataPacket(ctx, []byte(strconv.Itoa(i))))
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d reliable messages arrived", len(got), n)
	}
	mu.Lock()
	for i, s := range got {
		require.Equal(t, strconv.Itoa(i), s, "message %d", i)
	}
	mu.Unlock()
	stats := bot.Stats()
	t.Logf("bot stats: %+v", stats)
	require.NotZero(t, stats.ReliablePauses, "the bot's reader paused")
	require.LessOrEqual(t, stats.PendingReliableHighWater, MaxPendingReliablePackets)
}

// Reliable data published just before Disconnect reaches the others:
// leaving waits for the send buffer (about 1 MiB here) to drain, however
// long that takes on a loaded machine, and for the server to have read it.
func TestDisconnectDeliversReliableDataSentBefore(t *testing.T) {
	srv := lktest.Start(t)
	const n, size = 64, 16000
	var mu sync.Mutex
	var got []int
	all := make(chan struct{})
	receiver := inPackageJoin(t, srv, "drain", "receiver", &RoomCallback{ParticipantCallback: ParticipantCallback{
		OnDataPacket: func(data []byte, _ DataReceiveParams) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, int(data[0])|int(data[1])<<8)
			if len(got) == n {
				close(all)
			}
		},
	}})
	sender := inPackageJoin(t, srv, "drain", "sender", nil)
	require.Eventually(t, func() bool { return receiver.GetParticipantByIdentity("sender") != nil },
		10*time.Second, 10*time.Millisecond, "the receiver sees the sender")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		require.NoError(t, sender.LocalParticipant.PublishDataPacket(ctx, payload))
	}
	start := time.Now()
	sender.Disconnect()
	t.Logf("Disconnect took %v", time.Since(start))
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d packets published before Disconnect arrived", len(got), n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		require.Equal(t, i, v)
	}
}
