package lksdk

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

const (
	// DefaultAPITokenValidity is how long the token that signs one server API
	// request stays valid. Each request gets its own token, so this only
	// needs to cover the request and modest clock skew between hosts.
	DefaultAPITokenValidity = 5 * time.Minute

	// DefaultJoinTokenValidity is how long a join token made from a
	// [ConnectInfo] stays valid. The SDK makes a new one for every connection
	// attempt, so it can be short.
	DefaultJoinTokenValidity = 10 * time.Minute
)

// ConnectInfo describes the participant to join a room as, and the API key
// and secret to sign its join token with.
type ConnectInfo struct {
	APIKey              string
	APISecret           string
	RoomName            string
	ParticipantName     string
	ParticipantIdentity string
	ParticipantMetadata string
	// ParticipantAttributes are key/value attributes set on the participant
	// when it joins.
	ParticipantAttributes map[string]string
	// ParticipantKind is the kind the participant joins as; an agent
	// joins as ParticipantAgent. The zero value is ParticipantStandard.
	ParticipantKind ParticipantKind
}

// NewJoinToken signs a token that lets the participant described by info join
// info.RoomName, valid for validFor (DefaultJoinTokenValidity when zero).
//
// grant may be nil for the usual permissions (join the room, publish,
// subscribe, publish data). A non-nil grant is used as given, except that
// RoomJoin is set and Room defaults to info.RoomName; use it to restrict
// publishing, hide the participant, or let it update its own metadata.
func NewJoinToken(info ConnectInfo, grant *auth.VideoGrant, validFor time.Duration) (string, error) {
	if info.APIKey == "" || info.APISecret == "" {
		return "", ErrMissingCredentials
	}
	if info.ParticipantIdentity == "" {
		return "", fmt.Errorf("lksdk: a join token needs a participant identity")
	}
	if _, known := livekit.ParticipantInfo_Kind_name[int32(info.ParticipantKind)]; !known {
		return "", fmt.Errorf("lksdk: unknown participant kind %d", int(info.ParticipantKind))
	}
	g := auth.VideoGrant{}
	if grant != nil {
		g = *grant
	}
	g.RoomJoin = true
	if g.Room == "" {
		g.Room = info.RoomName
	}
	if g.Room == "" {
		return "", fmt.Errorf("lksdk: a join token needs a room name")
	}
	if validFor <= 0 {
		validFor = DefaultJoinTokenValidity
	}
	at := auth.NewAccessToken(info.APIKey, info.APISecret).
		SetVideoGrant(&g).
		SetIdentity(info.ParticipantIdentity).
		SetName(info.ParticipantName).
		SetMetadata(info.ParticipantMetadata).
		SetValidFor(validFor)
	if len(info.ParticipantAttributes) > 0 {
		at.SetAttributes(info.ParticipantAttributes)
	}
	if info.ParticipantKind != ParticipantStandard {
		at.SetKind(info.ParticipantKind.Proto())
	}
	return at.ToJWT()
}

// apiAuth signs server API requests. It is shared by every server API client:
// each request gets a fresh token that carries only the grant it needs.
type apiAuth struct {
	apiKey    string
	apiSecret string
	validFor  time.Duration
}

// grants is what one request needs; nil parts are left out of the token.
type grants struct {
	video *auth.VideoGrant
	sip   *auth.SIPGrant
}

// withAuth returns ctx carrying an Authorization header for a request that
// needs g. Headers the caller already put in ctx with
// twirp.WithHTTPRequestHeaders are kept.
func (a *apiAuth) withAuth(ctx context.Context, g grants) (context.Context, error) {
	if a.apiKey == "" || a.apiSecret == "" {
		return nil, ErrMissingCredentials
	}
	at := auth.NewAccessToken(a.apiKey, a.apiSecret).SetValidFor(a.validFor)
	if g.video != nil {
		at.SetVideoGrant(g.video)
	}
	if g.sip != nil {
		at.SetSIPGrant(g.sip)
	}
	token, err := at.ToJWT()
	if err != nil {
		return nil, fmt.Errorf("lksdk: signing request token: %w", err)
	}
	header := http.Header{}
	if prev, ok := twirp.HTTPRequestHeaders(ctx); ok {
		header = prev.Clone()
	}
	header.Set("Authorization", "Bearer "+token)
	return twirp.WithHTTPRequestHeaders(ctx, header)
}

// ClientOption configures a server API client made by one of the
// New...ClientWithOptions constructors.
type ClientOption func(*clientConfig)

type clientConfig struct {
	httpClient   *http.Client
	tokenTTL     time.Duration
	twirpOptions []twirp.ClientOption
}

// WithHTTPClient makes the client send its requests with c instead of
// http.DefaultClient: to set timeouts, proxies, TLS roots or tracing.
func WithHTTPClient(c *http.Client) ClientOption {
	return func(cfg *clientConfig) { cfg.httpClient = c }
}

// WithAPITokenValidity sets how long each request's token stays valid
// (DefaultAPITokenValidity by default).
func WithAPITokenValidity(d time.Duration) ClientOption {
	return func(cfg *clientConfig) { cfg.tokenTTL = d }
}

// WithTwirpClientOptions passes options, such as hooks or interceptors, to
// the generated Twirp client.
func WithTwirpClientOptions(opts ...twirp.ClientOption) ClientOption {
	return func(cfg *clientConfig) { cfg.twirpOptions = append(cfg.twirpOptions, opts...) }
}

func newClientConfig(apiKey, apiSecret string, opts []ClientOption) (clientConfig, apiAuth) {
	cfg := clientConfig{httpClient: http.DefaultClient, tokenTTL: DefaultAPITokenValidity}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.httpClient == nil {
		cfg.httpClient = http.DefaultClient
	}
	if cfg.tokenTTL <= 0 {
		cfg.tokenTTL = DefaultAPITokenValidity
	}
	return cfg, apiAuth{apiKey: apiKey, apiSecret: apiSecret, validFor: cfg.tokenTTL}
}
