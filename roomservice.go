package lksdk

import (
	"context"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// RoomServiceClient calls LiveKit's RoomService: create, list and delete
// rooms, and manage the participants and tracks in them.
//
// Each call is signed with a fresh token that carries only the grant the
// server checks for that call: RoomCreate to create or delete rooms, RoomList
// to list them, RoomAdmin for the named room for everything else.
//
// A RoomServiceClient is safe for concurrent use.
type RoomServiceClient struct {
	apiClient
	rs livekit.RoomService
}

// Every RoomService RPC is wrapped below; this fails to compile when the
// protocol module adds one that is not.
var _ livekit.RoomService = (*RoomServiceClient)(nil)

// NewRoomServiceClient returns a client for the server at url (see
// [ToHttpURL] for the forms it takes), signing requests with apiKey and
// secretKey.
func NewRoomServiceClient(url string, apiKey string, secretKey string) *RoomServiceClient {
	return NewRoomServiceClientWithOptions(url, apiKey, secretKey)
}

// NewRoomServiceClientWithOptions is [NewRoomServiceClient] with options, such
// as [WithHTTPClient].
func NewRoomServiceClientWithOptions(url, apiKey, secretKey string, opts ...ClientOption) *RoomServiceClient {
	c, cfg := newAPIClient(url, apiKey, secretKey, opts)
	return &RoomServiceClient{
		apiClient: c,
		rs:        livekit.NewRoomServiceProtobufClient(c.baseURL, cfg.httpClient, cfg.twirpOptions...),
	}
}

func roomCreateGrant() grants { return grants{video: &auth.VideoGrant{RoomCreate: true}} }

func roomListGrant() grants { return grants{video: &auth.VideoGrant{RoomList: true}} }

func roomAdminGrant(room string) grants {
	return grants{video: &auth.VideoGrant{RoomAdmin: true, Room: room}}
}

func roomForwardGrant(room, destination string) grants {
	return grants{video: &auth.VideoGrant{RoomAdmin: true, Room: room, DestinationRoom: destination}}
}

// CreateRoom creates a room with the given options. Creating a room that
// exists returns it.
func (c *RoomServiceClient) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return call(ctx, &c.apiClient, roomCreateGrant(), req, c.rs.CreateRoom)
}

// ListRooms lists the active rooms, or only those named in req.Names.
func (c *RoomServiceClient) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return call(ctx, &c.apiClient, roomListGrant(), req, c.rs.ListRooms)
}

// DeleteRoom closes a room and disconnects everyone in it.
func (c *RoomServiceClient) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	return call(ctx, &c.apiClient, roomCreateGrant(), req, c.rs.DeleteRoom)
}

// ListParticipants lists the participants in a room.
func (c *RoomServiceClient) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.ListParticipants)
}

// GetParticipant returns one participant of a room, by identity.
func (c *RoomServiceClient) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.GetParticipant)
}

// RemoveParticipant disconnects a participant from a room. Its client is told
// why and does not reconnect.
func (c *RoomServiceClient) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.RemoveParticipant)
}

// MutePublishedTrack mutes (or, where the server allows remote unmute,
// unmutes) a participant's published track.
func (c *RoomServiceClient) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.MutePublishedTrack)
}

// UpdateParticipant changes a participant's name, metadata, attributes or
// permissions.
func (c *RoomServiceClient) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.UpdateParticipant)
}

// UpdateSubscriptions subscribes a participant to tracks, or unsubscribes it.
func (c *RoomServiceClient) UpdateSubscriptions(ctx context.Context, req *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.UpdateSubscriptions)
}

// SendData sends a data packet to participants in a room, from the server.
func (c *RoomServiceClient) SendData(ctx context.Context, req *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.SendData)
}

// UpdateRoomMetadata replaces a room's metadata; participants are told.
func (c *RoomServiceClient) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.UpdateRoomMetadata)
}

// ForwardParticipant makes a participant also appear, with its tracks, in
// req.DestinationRoom.
func (c *RoomServiceClient) ForwardParticipant(ctx context.Context, req *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	return call(ctx, &c.apiClient, roomForwardGrant(req.GetRoom(), req.GetDestinationRoom()), req, c.rs.ForwardParticipant)
}

// MoveParticipant moves a participant to req.DestinationRoom.
func (c *RoomServiceClient) MoveParticipant(ctx context.Context, req *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	return call(ctx, &c.apiClient, roomForwardGrant(req.GetRoom(), req.GetDestinationRoom()), req, c.rs.MoveParticipant)
}

// PerformRpc calls a method that a participant registered, and returns its
// answer.
func (c *RoomServiceClient) PerformRpc(ctx context.Context, req *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.rs.PerformRpc)
}

// CreateToken returns an access token signed with this client's API key and
// secret, to be given grants and an identity, for a participant to join with.
func (c *RoomServiceClient) CreateToken() *auth.AccessToken {
	return auth.NewAccessToken(c.auth.apiKey, c.auth.apiSecret)
}
