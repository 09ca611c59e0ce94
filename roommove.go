package lksdk

import (
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// A move (RoomService.MoveParticipant) keeps the participant's connections
// and puts its session into another room: the server sends a
// RoomMovedResponse with the new room, the participant's new description,
// the participants there and a token for the new room. The engine resumes
// and reconnects with the new session id and token from then on; the Room
// replaces what it knows of the old room, and the subscriber connection
// gets the new room's tracks through the server's next offers.

// onRoomMoved records the new session and token before the room applies
// the move.
func (e *RTCEngine) onRoomMoved(res *livekit.RoomMovedResponse) {
	if res.GetRoom() == nil || res.GetParticipant().GetSid() == "" {
		e.logger().Info("ignoring a room move that names no room or participant")
		return
	}
	e.mu.Lock()
	if t := res.GetToken(); t != "" {
		e.token = t
	}
	e.sid = res.GetParticipant().GetSid()
	if e.join != nil {
		join := proto.Clone(e.join).(*livekit.JoinResponse)
		join.Room, join.Participant, join.OtherParticipants = res.Room, res.Participant, res.OtherParticipants
		e.join = join
	}
	e.mu.Unlock()
	e.handler.onRoomMoved(res)
}

// onRoomMoved makes the room the one the participant was moved to: the old
// room's participants leave (with their tracks), the local participant
// takes its new SID, the new room's participants arrive, and OnRoomMoved
// follows. Later full reconnects join with the move's token. Media that
// came before its publication stays pending: the connections are the same,
// and the new room's tracks may come before the move is announced.
func (r *Room) onRoomMoved(res *livekit.RoomMovedResponse) {
	for _, rp := range r.GetParticipants() {
		r.removeParticipant(rp)
	}
	room := res.GetRoom()
	r.lock.Lock()
	oldMetadata := r.metadata
	r.sid, r.name, r.metadata = room.GetSid(), room.GetName(), room.GetMetadata()
	if res.GetToken() != "" {
		r.tokenSource = nil // a token of the old room's would join it again
	}
	r.lock.Unlock()
	if oldMetadata != room.GetMetadata() {
		md := room.GetMetadata()
		r.emit(func(cb *RoomCallback) { cb.OnRoomMetadataChanged(md) })
	}
	r.applyLocalInfo(res.GetParticipant())
	r.applyParticipants(res.GetOtherParticipants())
	name, token := room.GetName(), res.GetToken()
	r.emit(func(cb *RoomCallback) { cb.OnRoomMoved(name, token) })
}
