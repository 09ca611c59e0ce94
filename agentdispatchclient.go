package lksdk

import (
	"context"

	"github.com/livekit/protocol/livekit"
)

// AgentDispatchClient calls LiveKit's AgentDispatchService: ask for an agent
// to join a room, list the dispatches of a room, and cancel one.
//
// Each call is signed with a fresh token that carries only the grant the
// server checks: RoomAdmin for the room named in the request.
//
// An AgentDispatchClient is safe for concurrent use.
type AgentDispatchClient struct {
	apiClient
	dispatch livekit.AgentDispatchService
}

// Every AgentDispatchService RPC is wrapped below; this fails to compile when
// the protocol module adds one that is not.
var _ livekit.AgentDispatchService = (*AgentDispatchClient)(nil)

// NewAgentDispatchClient returns a client for the server at url (see
// [ToHttpURL] for the forms it takes), signing requests with apiKey and
// secretKey.
func NewAgentDispatchClient(url string, apiKey string, secretKey string) *AgentDispatchClient {
	return NewAgentDispatchClientWithOptions(url, apiKey, secretKey)
}

// NewAgentDispatchClientWithOptions is [NewAgentDispatchClient] with options,
// such as [WithHTTPClient].
func NewAgentDispatchClientWithOptions(url, apiKey, secretKey string, opts ...ClientOption) *AgentDispatchClient {
	c, cfg := newAPIClient(url, apiKey, secretKey, opts)
	return &AgentDispatchClient{
		apiClient: c,
		dispatch:  livekit.NewAgentDispatchServiceProtobufClient(c.baseURL, cfg.httpClient, cfg.twirpOptions...),
	}
}

// CreateDispatch asks for the agent named req.AgentName to join req.Room,
// with req.Metadata for its job. The server creates the room if it does not
// exist and room auto-creation is on.
func (c *AgentDispatchClient) CreateDispatch(ctx context.Context, req *livekit.CreateAgentDispatchRequest) (*livekit.AgentDispatch, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.dispatch.CreateDispatch)
}

// DeleteDispatch cancels the dispatch req.DispatchId of req.Room and returns
// it.
func (c *AgentDispatchClient) DeleteDispatch(ctx context.Context, req *livekit.DeleteAgentDispatchRequest) (*livekit.AgentDispatch, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.dispatch.DeleteDispatch)
}

// ListDispatch lists the dispatches of req.Room, or only req.DispatchId.
func (c *AgentDispatchClient) ListDispatch(ctx context.Context, req *livekit.ListAgentDispatchRequest) (*livekit.ListAgentDispatchResponse, error) {
	return call(ctx, &c.apiClient, roomAdminGrant(req.GetRoom()), req, c.dispatch.ListDispatch)
}
