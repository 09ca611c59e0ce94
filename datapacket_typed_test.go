package lksdk_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

type typedMsg struct {
	pkt    lksdk.DataPacket
	params lksdk.DataReceiveParams
}

// typedSink collects typed packets and counts the v0.10 data callbacks.
type typedSink struct {
	mu     sync.Mutex
	typed  []typedMsg
	legacy int
	trans  chan transcript
}

type transcript struct {
	segments []*lksdk.TranscriptionSegment
	p        lksdk.Participant
	pub      lksdk.TrackPublication
}

func newTypedSink() *typedSink { return &typedSink{trans: make(chan transcript, 4)} }

func (s *typedSink) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnDataReceived: func([]byte, *lksdk.RemoteParticipant) {
				s.mu.Lock()
				s.legacy++
				s.mu.Unlock()
			},
		},
		OnTypedDataPacket: func(pkt lksdk.DataPacket, params lksdk.DataReceiveParams) {
			s.mu.Lock()
			s.typed = append(s.typed, typedMsg{pkt, params})
			s.mu.Unlock()
		},
		OnTranscriptionReceived: func(segments []*lksdk.TranscriptionSegment, p lksdk.Participant, pub lksdk.TrackPublication) {
			s.trans <- transcript{segments, p, pub}
		},
	}
}

func (s *typedSink) snapshot() ([]typedMsg, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]typedMsg(nil), s.typed...), s.legacy
}

func (s *typedSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.typed)
}

func TestDTMFAndChatBothWays(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bobSink, aliceSink := newTypedSink(), newTypedSink()
	bob := join(t, srv, room, "bob", bobSink.callback())
	alice := join(t, srv, room, "alice", aliceSink.callback())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	require.NoError(t, alice.LocalParticipant.SendDTMF(ctx, 11, "#"))
	sent, err := alice.LocalParticipant.SendChatMessage(ctx, "hello bob")
	require.NoError(t, err)
	require.NoError(t, alice.LocalParticipant.PublishTypedDataPacket(ctx, &lksdk.UserDataPacket{Payload: []byte("raw"), Topic: "t1"}))
	require.NoError(t, bob.LocalParticipant.SendDTMF(ctx, 5, "5"))
	edited := time.Now()
	require.NoError(t, bob.LocalParticipant.PublishTypedDataPacket(ctx, &lksdk.ChatMessage{
		ID: "m-1", Timestamp: edited.Add(-time.Minute), EditTimestamp: &edited, Message: "hello alice (edited)",
	}, lksdk.WithDataDestinations("alice")))

	eventually(t, 10*time.Second, func() bool { return bobSink.count() >= 3 && aliceSink.count() >= 2 }, "the packets")
	time.Sleep(200 * time.Millisecond)

	atBob, legacyAtBob := bobSink.snapshot()
	require.Len(t, atBob, 3, "DTMF, chat, user data, in order")
	require.Equal(t, &lksdk.SipDTMF{Code: 11, Digit: "#"}, atBob[0].pkt)
	chat, ok := atBob[1].pkt.(*lksdk.ChatMessage)
	require.True(t, ok, "got %T", atBob[1].pkt)
	require.Equal(t, sent.ID, chat.ID)
	require.Equal(t, "hello bob", chat.Message)
	require.Equal(t, sent.Timestamp.UnixMilli(), chat.Timestamp.UnixMilli())
	require.Nil(t, chat.EditTimestamp)
	require.Equal(t, &lksdk.UserDataPacket{Payload: []byte("raw"), Topic: "t1"}, atBob[2].pkt)
	for _, m := range atBob {
		require.Equal(t, "alice", m.params.SenderIdentity)
		require.Equal(t, livekit.DataPacket_RELIABLE, m.params.Kind)
	}
	require.Equal(t, 1, legacyAtBob, "OnDataReceived gets user packets only")

	atAlice, legacyAtAlice := aliceSink.snapshot()
	require.Len(t, atAlice, 2)
	require.Equal(t, &lksdk.SipDTMF{Code: 5, Digit: "5"}, atAlice[0].pkt)
	edit, ok := atAlice[1].pkt.(*lksdk.ChatMessage)
	require.True(t, ok, "got %T", atAlice[1].pkt)
	require.Equal(t, "m-1", edit.ID)
	require.Equal(t, "hello alice (edited)", edit.Message)
	require.NotNil(t, edit.EditTimestamp)
	require.Equal(t, edited.UnixMilli(), edit.EditTimestamp.UnixMilli())
	require.Equal(t, "bob", atAlice[0].params.SenderIdentity)
	require.Zero(t, legacyAtAlice)
}

func TestTranscriptionFromAgent(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	sink := newTypedSink()
	bob := join(t, srv, room, "bob", sink.callback())
	join(t, srv, room, "alice", nil)

	token, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).
		SetIdentity("agent").SetKind(livekit.ParticipantInfo_AGENT).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	require.NoError(t, err)
	agent, err := lksdk.ConnectToRoomWithToken(srv.URL, token, nil, loopback(t)...)
	require.NoError(t, err)
	t.Cleanup(agent.Disconnect)

	// The transcribed participant must be known for the callback to name it.
	eventually(t, 10*time.Second, func() bool { return bob.GetParticipantByIdentity("alice") != nil }, "bob to know alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	segs := []*lksdk.TranscriptionSegment{
		{ID: "s1", Text: "hello there", Language: "en", StartTime: 100, EndTime: 900, Final: true},
		{ID: "s2", Text: "and more", Language: "en", StartTime: 900, EndTime: 1400},
	}
	require.NoError(t, agent.LocalParticipant.PublishTypedDataPacket(ctx, &lksdk.Transcription{
		ParticipantIdentity: "alice", TrackID: "TR_unknown", Segments: segs,
	}))
	got := recv(t, sink.trans, 10*time.Second, "the transcription")
	require.Equal(t, segs, got.segments)
	require.NotNil(t, got.p)
	require.Equal(t, "alice", got.p.Identity())
	require.Nil(t, got.pub, "the track is not known")
	typed, _ := sink.snapshot()
	require.Len(t, typed, 1)
	tr, ok := typed[0].pkt.(*lksdk.Transcription)
	require.True(t, ok)
	require.Equal(t, "alice", tr.ParticipantIdentity)
	require.Equal(t, "agent", typed[0].params.SenderIdentity)
}
