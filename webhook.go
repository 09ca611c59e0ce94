package lksdk

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/encoding/protojson"
)

// DefaultWebhookMaxBodySize is the largest webhook body a handler made by
// [NewWebhookHandler] reads, unless [WithWebhookMaxBodySize] says otherwise.
// LiveKit's events are a few kilobytes.
const DefaultWebhookMaxBodySize int64 = 1 << 20

// WebhookFunc consumes one verified webhook event. ctx is the request's
// context. Returning an error makes the handler answer 500, so the server
// may send the event again.
type WebhookFunc func(ctx context.Context, event *livekit.WebhookEvent) error

// WebhookOption configures [NewWebhookHandler].
type WebhookOption func(*webhookHandler)

// WithWebhookMaxBodySize sets the largest body the handler reads; a larger
// one is answered with 413.
func WithWebhookMaxBodySize(n int64) WebhookOption {
	return func(h *webhookHandler) { h.maxBody = n }
}

// NewWebhookHandler returns an http.Handler for LiveKit's webhook callbacks.
// It verifies each request's signature against the keys of provider (as
// protocol's webhook.ReceiveWebhookEvent does), decodes the event and passes
// it to fn. It answers:
//
//   - 200 when fn returns nil;
//   - 401 when the Authorization header is missing, its token is invalid or
//     expired, its key is unknown to provider, or the body does not match
//     the signed checksum;
//   - 400 when the body cannot be read or is not a webhook event;
//   - 405 for a method other than POST;
//   - 413 when the body is larger than the limit (DefaultWebhookMaxBodySize);
//   - 500 when fn returns an error.
//
// The token is verified before the body is read: a request without a valid
// signature is answered 401 having read none of its body.
//
// Use it with auth.NewSimpleKeyProvider(apiKey, apiSecret), or a provider
// holding several keys.
func NewWebhookHandler(provider auth.KeyProvider, fn WebhookFunc, opts ...WebhookOption) http.Handler {
	h := &webhookHandler{provider: provider, fn: fn, maxBody: DefaultWebhookMaxBodySize}
	for _, o := range opts {
		o(h)
	}
	return h
}

type webhookHandler struct {
	provider auth.KeyProvider
	fn       WebhookFunc
	maxBody  int64
}

var webhookDecoder = protojson.UnmarshalOptions{DiscardUnknown: true}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, http.StatusMethodNotAllowed, "webhooks are POSTed", nil)
		return
	}
	// The token is checked before the body is read, so that a request
	// without a valid signature costs no more than its headers.
	claims, err := h.verifyToken(r.Header.Get("Authorization"))
	if err != nil {
		h.reject(w, http.StatusUnauthorized, "invalid webhook signature", err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(w, http.StatusRequestEntityTooLarge, "webhook body too large", err)
			return
		}
		h.reject(w, http.StatusBadRequest, "could not read webhook body", err)
		return
	}
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare([]byte(claims.Sha256), []byte(base64.StdEncoding.EncodeToString(sum[:]))) != 1 {
		h.reject(w, http.StatusUnauthorized, "invalid webhook signature", webhook.ErrInvalidChecksum)
		return
	}
	event := &livekit.WebhookEvent{}
	if err := webhookDecoder.Unmarshal(body, event); err != nil {
		h.reject(w, http.StatusBadRequest, "webhook body is not an event", err)
		return
	}
	if err := h.fn(r.Context(), event); err != nil {
		h.reject(w, http.StatusInternalServerError, "webhook not processed", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// verifyToken checks the Authorization header's token against the
// provider's keys and returns its claims, which carry the body's checksum.
func (h *webhookHandler) verifyToken(token string) (*auth.ClaimGrants, error) {
	if token == "" {
		return nil, webhook.ErrNoAuthHeader
	}
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return nil, err
	}
	secret := h.provider.GetSecret(v.APIKey())
	if secret == "" {
		return nil, webhook.ErrSecretNotFound
	}
	_, claims, err := v.Verify(secret)
	return claims, err
}

func (h *webhookHandler) reject(w http.ResponseWriter, status int, msg string, err error) {
	getLogger().V(1).Info("webhook rejected", "status", status, "reason", msg, "error", err)
	http.Error(w, msg, status)
}
