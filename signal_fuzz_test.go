package lksdk

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// offlineRoom is a Room wired like a connected one, but with no network and
// not yet joined: it applies signal responses handed to it directly.
func offlineRoom() *Room {
	r := CreateRoom(&RoomCallback{})
	e := newRTCEngine(engineOptions{reconnectTimeout: 10 * time.Millisecond}, r)
	e.url = "ws://127.0.0.1:1" // recovery attempts fail at once
	e.loop = newSerialQueue()
	r.engine, r.LocalParticipant.engine = e, e
	r.dispatcher = newSerialQueue()
	r.state = stateConnected
	r.log = getLogger()
	e.client.OnResponse = e.handleResponse
	return r
}

// deliver applies res to r as the SDK does when it arrives from the
// server: a join is checked and applied as a first or a repeated join;
// anything else goes through the signal client's checks to the engine.
func (r *Room) deliver(res *livekit.SignalResponse, joined bool) bool {
	if join := res.GetJoin(); join != nil {
		if validateJoin(join) != nil {
			return joined
		}
		if joined {
			r.rejoined(join)
		} else {
			r.joined(join)
		}
		return true
	}
	r.engine.client.dispatch(res, 0, nil)
	return joined
}

// splitMessages cuts fuzz input into messages, each preceded by its length
// as a uvarint; a short tail is one message.
func splitMessages(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 16 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return append(out, data)
		}
		out = append(out, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	return out
}

// joinMessages frames msgs as splitMessages reads them.
func joinMessages(tb testing.TB, msgs ...*livekit.SignalResponse) []byte {
	var out []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

func (r *Room) closeOffline() {
	if r.currentState() >= stateClosing {
		<-r.done
		return
	}
	r.engine.stopRecovering()
	r.engine.stopRecovery()
	r.engine.loop.closeAndWait()
	r.dispatcher.closeAndWait()
}

// FuzzSignalResponse applies random sequences of signal responses to a room
// that has not joined yet, so that any kind can come first: whatever the
// server (or an attacker between) sends, the client does not panic.
func FuzzSignalResponse(f *testing.F) {
	seeds := []*livekit.SignalResponse{
		{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{
			{Sid: "PA_b", Identity: "b", Metadata: "m", Tracks: []*livekit.TrackInfo{{Sid: "TR_b", Muted: true}}},
			{Sid: "PA_a", Identity: "a", State: livekit.ParticipantInfo_DISCONNECTED},
		}}}},
		{Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n"}}},
		{Message: &livekit.SignalResponse_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: "{not json"}}},
		{Message: &livekit.SignalResponse_SpeakersChanged{SpeakersChanged: &livekit.SpeakersChanged{Speakers: []*livekit.SpeakerInfo{{Sid: "PA_a", Level: 0.9, Active: true}, {Sid: "PA_me", Active: true}}}}},
		{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: "TR_x", Muted: true}}},
		{Message: &livekit.SignalResponse_RoomUpdate{RoomUpdate: &livekit.RoomUpdate{Room: &livekit.Room{Metadata: "x"}}}},
		{Message: &livekit.SignalResponse_ConnectionQuality{ConnectionQuality: &livekit.ConnectionQualityUpdate{Updates: []*livekit.ConnectionQualityInfo{{ParticipantSid: "PA_a"}}}}},
		{Message: &livekit.SignalResponse_SubscriptionResponse{SubscriptionResponse: &livekit.SubscriptionResponse{TrackSid: "TR_a"}}},
		{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{Action: livekit.LeaveRequest_RESUME}}},
		{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{Reason: livekit.DisconnectReason_ROOM_DELETED}}},
		{Message: &livekit.SignalResponse_TrackPublished{TrackPublished: &livekit.TrackPublishedResponse{Cid: "c"}}},
		{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{RequestId: 7}}},
		{Message: &livekit.SignalResponse_TrackUnpublished{TrackUnpublished: &livekit.TrackUnpublishedResponse{TrackSid: "TR_none"}}},
	}
	validJoin := &livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: &livekit.JoinResponse{
		Room:        &livekit.Room{Sid: "RM_1", Name: "room"},
		Participant: &livekit.ParticipantInfo{Sid: "PA_me", Identity: "me"},
		OtherParticipants: []*livekit.ParticipantInfo{{Sid: "PA_a", Identity: "a", Tracks: []*livekit.TrackInfo{
			{Sid: "TR_a", Type: livekit.TrackType_VIDEO},
		}}},
	}}}
	malformedJoins := []*livekit.JoinResponse{
		{}, {Room: &livekit.Room{Name: "room"}}, {Participant: &livekit.ParticipantInfo{Sid: "PA_me", Identity: "me"}},
		{Room: &livekit.Room{Name: "room"}, Participant: &livekit.ParticipantInfo{Sid: "PA_me", Identity: "me"}, OtherParticipants: []*livekit.ParticipantInfo{{}}},
	}
	// Every kind first, in an empty room; then every kind after a join; a
	// malformed join; and a second join (a full reconnect).
	for _, s := range seeds {
		f.Add(joinMessages(f, s))
		f.Add(joinMessages(f, validJoin, s))
	}
	for _, j := range malformedJoins {
		f.Add(joinMessages(f, &livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: j}}, seeds[0]))
	}
	f.Add(joinMessages(f, validJoin, seeds[0], validJoin))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := offlineRoom()
		defer r.closeOffline()
		joined := false
		for _, msg := range splitMessages(data) {
			res := &livekit.SignalResponse{}
			if proto.Unmarshal(msg, res) == nil {
				joined = r.deliver(res, joined)
			}
			// And as a data packet, which arrives on a data channel.
			dp := &livekit.DataPacket{}
			if proto.Unmarshal(msg, dp) == nil {
				r.engine.handleData(dp, func() {})
			}
		}
	})
}
