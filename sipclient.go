package lksdk

import (
	"context"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// SIPClient calls LiveKit's SIP service: manage inbound and outbound trunks
// and dispatch rules, dial a phone number into a room, and transfer a call.
// The server keeps trunks and rules in Redis and places calls through a SIP
// bridge; without them it answers every call with an error.
//
// Each call is signed with a fresh token that carries only the grant the
// server checks: SIP Admin to manage trunks and dispatch rules, SIP Call to
// dial out, and SIP Call together with RoomAdmin for the call's room to
// transfer.
//
// A SIPClient is safe for concurrent use.
type SIPClient struct {
	apiClient
	sip livekit.SIP
}

// Every SIP RPC is wrapped below; this fails to compile when the protocol
// module adds one that is not.
var _ livekit.SIP = (*SIPClient)(nil)

// NewSIPClient returns a client for the server at url (see [ToHttpURL] for
// the forms it takes), signing requests with apiKey and secretKey.
func NewSIPClient(url string, apiKey string, secretKey string) *SIPClient {
	return NewSIPClientWithOptions(url, apiKey, secretKey)
}

// NewSIPClientWithOptions is [NewSIPClient] with options, such as
// [WithHTTPClient].
func NewSIPClientWithOptions(url, apiKey, secretKey string, opts ...ClientOption) *SIPClient {
	c, cfg := newAPIClient(url, apiKey, secretKey, opts)
	return &SIPClient{
		apiClient: c,
		sip:       livekit.NewSIPProtobufClient(c.baseURL, cfg.httpClient, cfg.twirpOptions...),
	}
}

func sipAdminGrant() grants { return grants{sip: &auth.SIPGrant{Admin: true}} }

func sipCallGrant() grants { return grants{sip: &auth.SIPGrant{Call: true}} }

func sipCallRoomAdminGrant(room string) grants {
	return grants{
		sip:   &auth.SIPGrant{Call: true},
		video: &auth.VideoGrant{RoomAdmin: true, Room: room},
	}
}

// ListSIPTrunk lists all trunks, in their old combined form.
//
// Deprecated: use [SIPClient.ListSIPInboundTrunk] and
// [SIPClient.ListSIPOutboundTrunk].
func (c *SIPClient) ListSIPTrunk(ctx context.Context, req *livekit.ListSIPTrunkRequest) (*livekit.ListSIPTrunkResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.ListSIPTrunk)
}

// CreateSIPInboundTrunk creates a trunk that accepts calls to its numbers
// from the addresses and credentials it names.
func (c *SIPClient) CreateSIPInboundTrunk(ctx context.Context, req *livekit.CreateSIPInboundTrunkRequest) (*livekit.SIPInboundTrunkInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.CreateSIPInboundTrunk)
}

// CreateSIPOutboundTrunk creates a trunk to place calls through: the SIP
// provider's address, the numbers to call from, and credentials.
func (c *SIPClient) CreateSIPOutboundTrunk(ctx context.Context, req *livekit.CreateSIPOutboundTrunkRequest) (*livekit.SIPOutboundTrunkInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.CreateSIPOutboundTrunk)
}

// UpdateSIPInboundTrunk replaces an inbound trunk, or changes some of its
// fields.
func (c *SIPClient) UpdateSIPInboundTrunk(ctx context.Context, req *livekit.UpdateSIPInboundTrunkRequest) (*livekit.SIPInboundTrunkInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.UpdateSIPInboundTrunk)
}

// UpdateSIPOutboundTrunk replaces an outbound trunk, or changes some of its
// fields.
func (c *SIPClient) UpdateSIPOutboundTrunk(ctx context.Context, req *livekit.UpdateSIPOutboundTrunkRequest) (*livekit.SIPOutboundTrunkInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.UpdateSIPOutboundTrunk)
}

// GetSIPInboundTrunk returns one inbound trunk, by ID.
func (c *SIPClient) GetSIPInboundTrunk(ctx context.Context, req *livekit.GetSIPInboundTrunkRequest) (*livekit.GetSIPInboundTrunkResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.GetSIPInboundTrunk)
}

// GetSIPOutboundTrunk returns one outbound trunk, by ID.
func (c *SIPClient) GetSIPOutboundTrunk(ctx context.Context, req *livekit.GetSIPOutboundTrunkRequest) (*livekit.GetSIPOutboundTrunkResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.GetSIPOutboundTrunk)
}

// ListSIPInboundTrunk lists inbound trunks, all or those matching req.
func (c *SIPClient) ListSIPInboundTrunk(ctx context.Context, req *livekit.ListSIPInboundTrunkRequest) (*livekit.ListSIPInboundTrunkResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.ListSIPInboundTrunk)
}

// ListSIPOutboundTrunk lists outbound trunks, all or those matching req.
func (c *SIPClient) ListSIPOutboundTrunk(ctx context.Context, req *livekit.ListSIPOutboundTrunkRequest) (*livekit.ListSIPOutboundTrunkResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.ListSIPOutboundTrunk)
}

// DeleteSIPTrunk deletes a trunk, inbound or outbound, by ID.
func (c *SIPClient) DeleteSIPTrunk(ctx context.Context, req *livekit.DeleteSIPTrunkRequest) (*livekit.SIPTrunkInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.DeleteSIPTrunk)
}

// CreateSIPDispatchRule creates a rule that sends inbound calls of the
// trunks it names into rooms.
func (c *SIPClient) CreateSIPDispatchRule(ctx context.Context, req *livekit.CreateSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.CreateSIPDispatchRule)
}

// UpdateSIPDispatchRule replaces a dispatch rule, or changes some of its
// fields.
func (c *SIPClient) UpdateSIPDispatchRule(ctx context.Context, req *livekit.UpdateSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.UpdateSIPDispatchRule)
}

// ListSIPDispatchRule lists dispatch rules, all or those matching req.
func (c *SIPClient) ListSIPDispatchRule(ctx context.Context, req *livekit.ListSIPDispatchRuleRequest) (*livekit.ListSIPDispatchRuleResponse, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.ListSIPDispatchRule)
}

// DeleteSIPDispatchRule deletes a dispatch rule, by ID.
func (c *SIPClient) DeleteSIPDispatchRule(ctx context.Context, req *livekit.DeleteSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return call(ctx, &c.apiClient, sipAdminGrant(), req, c.sip.DeleteSIPDispatchRule)
}

// CreateSIPParticipant dials req.SipCallTo through an outbound trunk and
// brings the call into req.RoomName as a participant.
func (c *SIPClient) CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	return call(ctx, &c.apiClient, sipCallGrant(), req, c.sip.CreateSIPParticipant)
}

// TransferSIPParticipant transfers the call of a SIP participant of
// req.RoomName to req.TransferTo (a SIP REFER).
func (c *SIPClient) TransferSIPParticipant(ctx context.Context, req *livekit.TransferSIPParticipantRequest) (*livekit.TransferSIPParticipantResponse, error) {
	return call(ctx, &c.apiClient, sipCallRoomAdminGrant(req.GetRoomName()), req, c.sip.TransferSIPParticipant)
}
