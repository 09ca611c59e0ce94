package lksdk

import (
	"context"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// IngressClient calls LiveKit's Ingress service: create, update, list and
// delete ingresses, the endpoints (RTMP, WHIP or a pulled URL) through which
// outside media is published into a room. The server keeps ingresses in
// Redis and hands the media to an ingress worker; without them it answers
// every call with an error.
//
// Each call is signed with a fresh token that carries only the IngressAdmin
// grant, which is what the server checks for every Ingress call.
//
// An IngressClient is safe for concurrent use.
type IngressClient struct {
	apiClient
	ingress livekit.Ingress
}

// Every Ingress RPC is wrapped below; this fails to compile when the protocol
// module adds one that is not.
var _ livekit.Ingress = (*IngressClient)(nil)

// NewIngressClient returns a client for the server at url (see [ToHttpURL]
// for the forms it takes), signing requests with apiKey and secretKey.
func NewIngressClient(url string, apiKey string, secretKey string) *IngressClient {
	return NewIngressClientWithOptions(url, apiKey, secretKey)
}

// NewIngressClientWithOptions is [NewIngressClient] with options, such as
// [WithHTTPClient].
func NewIngressClientWithOptions(url, apiKey, secretKey string, opts ...ClientOption) *IngressClient {
	c, cfg := newAPIClient(url, apiKey, secretKey, opts)
	return &IngressClient{
		apiClient: c,
		ingress:   livekit.NewIngressProtobufClient(c.baseURL, cfg.httpClient, cfg.twirpOptions...),
	}
}

func ingressAdminGrant() grants { return grants{video: &auth.VideoGrant{IngressAdmin: true}} }

// CreateIngress creates an ingress that publishes into req.RoomName as
// req.ParticipantIdentity. The answer holds the URL and stream key to send
// media to.
func (c *IngressClient) CreateIngress(ctx context.Context, req *livekit.CreateIngressRequest) (*livekit.IngressInfo, error) {
	return call(ctx, &c.apiClient, ingressAdminGrant(), req, c.ingress.CreateIngress)
}

// UpdateIngress changes an ingress's room, participant or media settings.
// The server only updates an ingress that is not publishing.
func (c *IngressClient) UpdateIngress(ctx context.Context, req *livekit.UpdateIngressRequest) (*livekit.IngressInfo, error) {
	return call(ctx, &c.apiClient, ingressAdminGrant(), req, c.ingress.UpdateIngress)
}

// ListIngress lists ingresses: all of them, those of req.RoomName, or the one
// with req.IngressId.
func (c *IngressClient) ListIngress(ctx context.Context, req *livekit.ListIngressRequest) (*livekit.ListIngressResponse, error) {
	return call(ctx, &c.apiClient, ingressAdminGrant(), req, c.ingress.ListIngress)
}

// DeleteIngress deletes an ingress, stopping it if it is publishing.
func (c *IngressClient) DeleteIngress(ctx context.Context, req *livekit.DeleteIngressRequest) (*livekit.IngressInfo, error) {
	return call(ctx, &c.apiClient, ingressAdminGrant(), req, c.ingress.DeleteIngress)
}
