package lksdk

import (
	"context"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// EgressClient calls LiveKit's Egress service: record or stream a room, a
// participant, a track or a web page, and list, update or stop what is
// running. The server hands the work to an egress worker; without one (or
// without the Redis that connects them) it answers every call with an error.
//
// Each call is signed with a fresh token that carries only the RoomRecord
// grant, which is what the server checks for every Egress call.
//
// An EgressClient is safe for concurrent use.
type EgressClient struct {
	apiClient
	egress livekit.Egress
}

// Every Egress RPC is wrapped below; this fails to compile when the protocol
// module adds one that is not.
var _ livekit.Egress = (*EgressClient)(nil)

// NewEgressClient returns a client for the server at url (see [ToHttpURL]
// for the forms it takes), signing requests with apiKey and secretKey.
func NewEgressClient(url string, apiKey string, secretKey string) *EgressClient {
	return NewEgressClientWithOptions(url, apiKey, secretKey)
}

// NewEgressClientWithOptions is [NewEgressClient] with options, such as
// [WithHTTPClient].
func NewEgressClientWithOptions(url, apiKey, secretKey string, opts ...ClientOption) *EgressClient {
	c, cfg := newAPIClient(url, apiKey, secretKey, opts)
	return &EgressClient{
		apiClient: c,
		egress:    livekit.NewEgressProtobufClient(c.baseURL, cfg.httpClient, cfg.twirpOptions...),
	}
}

func roomRecordGrant() grants { return grants{video: &auth.VideoGrant{RoomRecord: true}} }

// StartEgress starts any kind of egress, chosen by which request req.Request
// holds. Servers older than this RPC answer it with twirp's bad_route; use
// the Start...Egress call for the kind instead.
func (c *EgressClient) StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartEgress)
}

// StartRoomCompositeEgress records or streams a whole room, its participants
// laid out together by a web template.
func (c *EgressClient) StartRoomCompositeEgress(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartRoomCompositeEgress)
}

// StartWebEgress records or streams a web page.
func (c *EgressClient) StartWebEgress(ctx context.Context, req *livekit.WebEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartWebEgress)
}

// StartParticipantEgress records or streams one participant's camera (or
// screen share) and microphone together.
func (c *EgressClient) StartParticipantEgress(ctx context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartParticipantEgress)
}

// StartTrackCompositeEgress records or streams one audio and one video track
// together.
func (c *EgressClient) StartTrackCompositeEgress(ctx context.Context, req *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartTrackCompositeEgress)
}

// StartTrackEgress exports one track as it is, without transcoding, to a
// file or a WebSocket.
func (c *EgressClient) StartTrackEgress(ctx context.Context, req *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StartTrackEgress)
}

// UpdateLayout changes the layout of a running room composite egress.
func (c *EgressClient) UpdateLayout(ctx context.Context, req *livekit.UpdateLayoutRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.UpdateLayout)
}

// UpdateStream adds or removes stream outputs (RTMP URLs) of a running
// egress.
func (c *EgressClient) UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.UpdateStream)
}

// ListEgress lists egresses: all of them, those of req.RoomName, only active
// ones, or the one with req.EgressId.
func (c *EgressClient) ListEgress(ctx context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.ListEgress)
}

// StopEgress stops a running egress; its outputs are finished and uploaded.
func (c *EgressClient) StopEgress(ctx context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	return call(ctx, &c.apiClient, roomRecordGrant(), req, c.egress.StopEgress)
}
