package lksdk_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

type dataMsg struct {
	data   string
	rp     *lksdk.RemoteParticipant
	params lksdk.DataReceiveParams
}

// dataSink collects what a participant's data callbacks receive.
type dataSink struct {
	mu      sync.Mutex
	legacy  []dataMsg // OnDataReceived
	packets []dataMsg // OnDataPacket
	arrived chan struct{}
}

func newDataSink() *dataSink { return &dataSink{arrived: make(chan struct{}, 1)} }

func (s *dataSink) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataReceived: func(data []byte, rp *lksdk.RemoteParticipant) {
			s.mu.Lock()
			s.legacy = append(s.legacy, dataMsg{data: string(data), rp: rp})
			s.mu.Unlock()
		},
		OnDataPacket: func(data []byte, params lksdk.DataReceiveParams) {
			s.mu.Lock()
			s.packets = append(s.packets, dataMsg{data: string(data), params: params})
			s.mu.Unlock()
			select {
			case s.arrived <- struct{}{}:
			default:
			}
		},
	}}
}

func (s *dataSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.packets)
}

func (s *dataSink) snapshot() (legacy, packets []dataMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dataMsg(nil), s.legacy...), append([]dataMsg(nil), s.packets...)
}

func TestReliableDataArrivesCompleteAndInOrder(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	sink := newDataSink()
	join(t, srv, room, "bob", sink.callback())
	a := join(t, srv, room, "alice", nil)

	// Published right after connecting: it waits for the publisher.
	const n = 1000
	start := time.Now()
	for i := 0; i < n; i++ {
		require.NoError(t, a.LocalParticipant.PublishData([]byte(strconv.Itoa(i)), livekit.DataPacket_RELIABLE, nil))
	}
	eventually(t, 10*time.Second, func() bool { return sink.count() >= n }, "all %d messages", n)
	t.Logf("%d reliable messages delivered in %s", n, time.Since(start))
	time.Sleep(200 * time.Millisecond)
	legacy, packets := sink.snapshot()
	require.Len(t, packets, n, "no duplicates")
	require.Len(t, legacy, n)
	for i, m := range packets {
		require.Equal(t, strconv.Itoa(i), m.data, "message %d out of order", i)
		require.Equal(t, "alice", m.params.SenderIdentity)
		require.Equal(t, livekit.DataPacket_RELIABLE, m.params.Kind)
		require.NotNil(t, m.params.Sender)
		require.Equal(t, "alice", legacy[i].rp.Identity())
	}
}

func TestDataTopicsAndDestinations(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob, carol := newDataSink(), newDataSink()
	join(t, srv, room, "bob", bob.callback())
	carolRoom := join(t, srv, room, "carol", carol.callback())
	a := join(t, srv, room, "alice", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	require.NoError(t, a.LocalParticipant.PublishDataPacket(ctx, []byte("to bob"), lksdk.WithDataTopic("private"), lksdk.WithDataDestinations("bob")))
	require.NoError(t, a.LocalParticipant.PublishDataPacket(ctx, []byte("to all"), lksdk.WithDataTopic("news")))
	require.NoError(t, a.LocalParticipant.PublishData([]byte("to carol by sid"), livekit.DataPacket_RELIABLE, []string{carolRoom.LocalParticipant.SID()}))
	require.NoError(t, a.LocalParticipant.PublishDataPacket(ctx, []byte("lossy to all"), lksdk.WithDataReliable(false)))

	eventually(t, 5*time.Second, func() bool { return bob.count() >= 3 && carol.count() >= 3 }, "data to arrive")
	time.Sleep(300 * time.Millisecond)
	_, b := bob.snapshot()
	_, c := carol.snapshot()
	// Reliable and lossy packets travel on different channels: only the
	// reliable ones keep their order.
	require.ElementsMatch(t, []string{"to bob", "to all", "lossy to all"}, dataOf(b))
	require.ElementsMatch(t, []string{"to all", "to carol by sid", "lossy to all"}, dataOf(c))
	require.Equal(t, []string{"to bob", "to all"}, dataOf(reliableOnly(b)))
	require.Equal(t, []string{"to all", "to carol by sid"}, dataOf(reliableOnly(c)))
	for _, m := range b {
		switch m.data {
		case "to bob":
			require.Equal(t, "private", m.params.Topic)
		case "to all":
			require.Equal(t, "news", m.params.Topic)
		case "lossy to all":
			require.Equal(t, livekit.DataPacket_LOSSY, m.params.Kind)
		}
	}
}

func TestServerSentDataReachesEveryone(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob, carol := newDataSink(), newDataSink()
	join(t, srv, room, "bob", bob.callback())
	join(t, srv, room, "carol", carol.callback())

	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	// The server sends data only to participants it counts as active, which
	// it may do a moment after their connection is up.
	eventually(t, 5*time.Second, func() bool {
		res, err := rs.ListParticipants(testContext(t), &livekit.ListParticipantsRequest{Room: room})
		if err != nil || len(res.Participants) != 2 {
			return false
		}
		for _, p := range res.Participants {
			if p.State != livekit.ParticipantInfo_ACTIVE {
				return false
			}
		}
		return true
	}, "both participants active at the server")
	topic := "announcements"
	_, err := rs.SendData(testContext(t), &livekit.SendDataRequest{Room: room, Data: []byte("from the server"), Kind: livekit.DataPacket_RELIABLE, Topic: &topic})
	require.NoError(t, err)
	for name, s := range map[string]*dataSink{"bob": bob, "carol": carol} {
		eventually(t, 5*time.Second, func() bool { return s.count() == 1 }, "server data at %s", name)
		legacy, packets := s.snapshot()
		require.Equal(t, "from the server", packets[0].data)
		require.Nil(t, packets[0].params.Sender, "server data has no sender")
		require.Empty(t, packets[0].params.SenderIdentity)
		require.Equal(t, topic, packets[0].params.Topic)
		require.Nil(t, legacy[0].rp, "OnDataReceived gets a nil participant for server data")
	}
}

func TestOversizedDataIsRefused(t *testing.T) {
	srv := lktest.Start(t)
	a := join(t, srv, lktest.RoomName(t), "alice", nil)
	err := a.LocalParticipant.PublishDataPacket(context.Background(), make([]byte, 70_000))
	require.ErrorIs(t, err, lksdk.ErrDataTooLarge)
}

func reliableOnly(msgs []dataMsg) []dataMsg {
	var out []dataMsg
	for _, m := range msgs {
		if m.params.Kind == livekit.DataPacket_RELIABLE {
			out = append(out, m)
		}
	}
	return out
}

func dataOf(msgs []dataMsg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.data
	}
	return out
}
