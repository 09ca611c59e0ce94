package lksdk

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// offlineRoom is a Room wired like a connected one, but with no network: it
// applies signal responses handed to it directly.
func offlineRoom() *Room {
	r := CreateRoom(&RoomCallback{})
	e := newRTCEngine(engineOptions{reconnectTimeout: 10 * time.Millisecond}, r)
	e.url = "ws://127.0.0.1:1" // recovery attempts fail at once
	e.loop = newSerialQueue()
	r.engine, r.LocalParticipant.engine = e, e
	r.dispatcher = newSerialQueue()
	r.state = stateConnected
	r.log = getLogger()
	r.joined(&livekit.JoinResponse{
		Room:        &livekit.Room{Sid: "RM_1", Name: "room"},
		Participant: &livekit.ParticipantInfo{Sid: "PA_me", Identity: "me"},
		OtherParticipants: []*livekit.ParticipantInfo{{Sid: "PA_a", Identity: "a", Tracks: []*livekit.TrackInfo{
			{Sid: "TR_a", Type: livekit.TrackType_VIDEO},
		}}},
	})
	return r
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

// FuzzSignalResponse applies random signal responses to a room: whatever the
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
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := &livekit.SignalResponse{}
		if proto.Unmarshal(data, res) != nil {
			return
		}
		r := offlineRoom()
		r.engine.handleResponse(res)
		// And as a data packet, which arrives on a data channel.
		dp := &livekit.DataPacket{}
		if proto.Unmarshal(data, dp) == nil {
			r.engine.handleData(dp, func() {})
		}
		r.closeOffline()
	})
}
