package lksdk

import (
	"context"
)

// apiClient is what every server API client (RoomService, Egress, ...) is
// built on: the server's base URL and the signer for its requests.
type apiClient struct {
	baseURL string
	urlErr  error // reported by every call when the URL given was unusable
	auth    apiAuth
}

func newAPIClient(url, apiKey, apiSecret string, opts []ClientOption) (apiClient, clientConfig) {
	cfg, a := newClientConfig(apiKey, apiSecret, opts)
	return apiClient{baseURL: ToHttpURL(url), urlErr: validateServerURL(url), auth: a}, cfg
}

// call signs ctx with the grant g and sends req with the generated client's
// method fn. Errors from the server come back as they are (a twirp.Error), so
// callers can read their code with errors.As or a type assertion.
func call[Req, Resp any](ctx context.Context, c *apiClient, g grants, req Req, fn func(context.Context, Req) (Resp, error)) (Resp, error) {
	if c.urlErr != nil {
		var zero Resp
		return zero, c.urlErr
	}
	ctx, err := c.auth.withAuth(ctx, g)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return fn(ctx, req)
}
