package lksdk

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func TestInboundLossyPastTheBoundIsDropped(t *testing.T) {
	d := newInboundData()
	for i := 0; i < MaxPendingLossyPackets; i++ {
		require.True(t, d.admitLossy(10), "packet %d is within the bound", i)
	}
	require.False(t, d.admitLossy(10), "the packet past the bound is dropped")
	d.releaser(false, 10)()
	require.True(t, d.admitLossy(10), "a released packet makes room")

	var s RoomStats
	d.fill(&s)
	require.Equal(t, uint64(1), s.DroppedLossy)
	require.Equal(t, MaxPendingLossyPackets, s.PendingLossy)
	require.Equal(t, MaxPendingLossyPackets, s.PendingLossyHighWater)

	// Bytes bound too, but one packet always fits.
	b := newInboundData()
	require.True(t, b.admitLossy(MaxPendingLossyBytes+1), "a lone packet is taken whatever its size")
	require.False(t, b.admitLossy(1))
}

func TestInboundReliableWaitsForRoom(t *testing.T) {
	d := newInboundData()
	stop := make(chan struct{})
	for i := 0; i < MaxPendingReliablePackets; i++ {
		require.True(t, d.admitReliable(1, stop, func() { t.Error("waited within the bound") }))
	}
	var paused atomic.Int32
	admitted := make(chan bool, 1)
	go func() { admitted <- d.admitReliable(1, stop, func() { paused.Add(1) }) }()
	select {
	case <-admitted:
		t.Fatal("a reliable packet past the bound was taken without waiting")
	case <-time.After(100 * time.Millisecond):
	}
	release := d.releaser(true, 1)
	release()
	release() // once only
	require.True(t, <-admitted, "releasing a packet lets the waiting one in")
	require.Equal(t, int32(1), paused.Load())

	var s RoomStats
	d.fill(&s)
	require.Equal(t, MaxPendingReliablePackets, s.PendingReliable, "released once, however often called")
	require.Equal(t, uint64(1), s.ReliablePauses)

	// Closing the engine ends the wait, taking nothing.
	go func() { admitted <- d.admitReliable(1, stop, func() {}) }()
	close(stop)
	require.False(t, <-admitted)
	d.fill(&s)
	require.Equal(t, MaxPendingReliablePackets, s.PendingReliable)
}

func TestRateLogLetsOneLineThroughPerInterval(t *testing.T) {
	var l rateLog
	ok, _ := l.allow()
	require.True(t, ok)
	for i := 0; i < 5; i++ {
		ok, _ = l.allow()
		require.False(t, ok)
	}
	l.last = l.last.Add(-logInterval)
	ok, suppressed := l.allow()
	require.True(t, ok)
	require.Equal(t, uint64(5), suppressed)
}

// userPacket is a user data packet from identity.
func userPacket(identity, payload string) *livekit.DataPacket {
	return &livekit.DataPacket{
		Kind: livekit.DataPacket_RELIABLE, ParticipantIdentity: identity,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte(payload)}},
	}
}

// Data from senders the room does not know is held within
// MaxHeldDataPackets in all; past it, it is delivered at once without its
// sender, never dropped, and every packet's share of the bounds is
// released once it was delivered.
func TestHeldDataIsBoundedAndNeverDropped(t *testing.T) {
	r := offlineRoom()
	defer r.closeOffline()
	type got struct {
		payload string
		sender  bool
	}
	var mu sync.Mutex
	var received []got
	r.callback.Merge(&RoomCallback{ParticipantCallback: ParticipantCallback{
		OnDataPacket: func(data []byte, params DataReceiveParams) {
			mu.Lock()
			received = append(received, got{string(data), params.Sender != nil})
			mu.Unlock()
		},
	}})
	var released atomic.Int64
	done := func() { released.Add(1) }
	total := MaxHeldDataPackets + 10
	for i := 0; i < total; i++ {
		// Many strangers, one packet each: identities are bounded by the
		// packets held.
		dp := userPacket("stranger-"+strconv.Itoa(i), strconv.Itoa(i))
		r.engine.post(func() { r.engine.handleData(dp, done) })
	}
	// The first stranger arrives: its packet is delivered with its sender.
	r.engine.post(func() {
		r.applyParticipants([]*livekit.ParticipantInfo{{Sid: "PA_s0", Identity: "stranger-0", State: livekit.ParticipantInfo_ACTIVE}})
	})
	flushed := make(chan struct{})
	r.engine.post(func() { r.emit(func(*RoomCallback) { close(flushed) }) })
	<-flushed

	s := r.Stats()
	require.Equal(t, MaxHeldDataPackets, s.HeldHighWater)
	require.Equal(t, MaxHeldDataPackets-1, s.Held)
	require.Equal(t, uint64(10), s.HeldOverflow)
	mu.Lock()
	require.Len(t, received, 11, "10 delivered at once past the bound, and the known sender's")
	require.Equal(t, got{"0", true}, received[10])
	for _, g := range received[:10] {
		require.False(t, g.sender)
	}
	mu.Unlock()
	require.Equal(t, int64(11), released.Load())

	// Closing delivers the rest, and stops their timers.
	r.releaseAllHeld()
	flushed2 := make(chan struct{})
	r.emit(func(*RoomCallback) { close(flushed2) })
	<-flushed2
	require.Equal(t, int64(total), released.Load())
	r.lock.RLock()
	require.Empty(t, r.held.bySender)
	r.lock.RUnlock()
	mu.Lock()
	require.Len(t, received, total)
	mu.Unlock()
}

// Held data whose sender is never announced is delivered without it after
// heldDataTimeout, and counted.
func TestHeldDataExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the held-data timeout (5 s); skipped in -short mode")
	}
	r := offlineRoom()
	defer r.closeOffline()
	arrived := make(chan DataReceiveParams, 1)
	r.callback.Merge(&RoomCallback{ParticipantCallback: ParticipantCallback{
		OnDataPacket: func(_ []byte, params DataReceiveParams) { arrived <- params },
	}})
	dp := userPacket("ghost", "boo")
	r.engine.post(func() { r.engine.handleData(dp, func() {}) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*heldDataTimeout)
	defer cancel()
	select {
	case params := <-arrived:
		require.Nil(t, params.Sender)
		require.Equal(t, "ghost", params.SenderIdentity)
	case <-ctx.Done():
		t.Fatal("held data was never delivered")
	}
	s := r.Stats()
	require.Equal(t, uint64(1), s.HeldExpired)
	require.Zero(t, s.Held)
}

// An oversized packet is refused before anything waits for the connection
// (here: one that never comes), and uses up no sequence number.
func TestOversizedDataIsRefusedBeforeWaiting(t *testing.T) {
	r := offlineRoom()
	defer r.closeOffline()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := r.LocalParticipant.PublishDataPacket(ctx, make([]byte, maxDataPacketSize))
	require.ErrorIs(t, err, ErrDataTooLarge)
	require.NoError(t, ctx.Err(), "refused without waiting")
	require.Zero(t, r.engine.reliableSeq)
}
