package lksdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// capturedRequest is a webhook request as the server sent it.
type capturedRequest struct {
	auth string
	body []byte
}

func bodySum(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// signWebhook signs body the way the server does.
func signWebhook(t *testing.T, body []byte, key, secret string) string {
	t.Helper()
	token, err := auth.NewAccessToken(key, secret).SetValidFor(5 * time.Minute).SetSha256(bodySum(body)).ToJWT()
	require.NoError(t, err)
	return token
}

func post(h http.Handler, authHeader string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", webhook.ContentType)
	if authHeader != "" {
		r.Header.Set("Authorization", authHeader)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWebhooksFromRealServer(t *testing.T) {
	const key, secret = "APIhooks", "hooks-secret-hooks-secret-hooks-secret"
	events := make(chan *livekit.WebhookEvent, 64)
	var (
		mu       sync.Mutex
		captured []capturedRequest
	)
	handler := lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(key, secret),
		func(_ context.Context, ev *livekit.WebhookEvent) error {
			events <- ev
			return nil
		})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		captured = append(captured, capturedRequest{auth: r.Header.Get("Authorization"), body: body})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		handler.ServeHTTP(w, r)
	}))
	defer receiver.Close()

	srv := lktest.Start(t, lktest.WithKeys(key, secret), lktest.WithWebhook(receiver.URL))
	c := lksdk.NewRoomServiceClient(srv.URL, key, secret)
	room := lktest.RoomName(t)
	_, err := c.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: room})
	require.NoError(t, err)
	_, err = c.DeleteRoom(testContext(t), &livekit.DeleteRoomRequest{Room: room})
	require.NoError(t, err)

	want := map[string]bool{webhook.EventRoomStarted: false, webhook.EventRoomFinished: false}
	deadline := time.After(15 * time.Second)
	for !want[webhook.EventRoomStarted] || !want[webhook.EventRoomFinished] {
		select {
		case ev := <-events:
			t.Logf("webhook %s for room %q", ev.Event, ev.GetRoom().GetName())
			if _, ok := want[ev.Event]; ok && ev.GetRoom().GetName() == room {
				want[ev.Event] = true
			}
		case <-deadline:
			t.Fatalf("webhooks not received in 15 s: %v", want)
		}
	}

	mu.Lock()
	real := captured[0]
	mu.Unlock()
	discard := lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(key, secret),
		func(context.Context, *livekit.WebhookEvent) error { return nil })

	// The server's own request, replayed, is accepted: the rejections below
	// are for what was changed, nothing else.
	require.Equal(t, http.StatusOK, post(discard, real.auth, real.body).Code)

	tampered := bytes.Replace(real.body, []byte(room), []byte(strings.ToUpper(room)), 1)
	require.NotEqual(t, real.body, tampered)
	require.Equal(t, http.StatusUnauthorized, post(discard, real.auth, tampered).Code, "tampered body")

	otherSecret := signWebhook(t, real.body, key, "another-secret-another-secret-another")
	require.Equal(t, http.StatusUnauthorized, post(discard, otherSecret, real.body).Code, "signed with another secret")

	unknownKey := signWebhook(t, real.body, "APIunknown", secret)
	require.Equal(t, http.StatusUnauthorized, post(discard, unknownKey, real.body).Code, "unknown key")

	require.Equal(t, http.StatusUnauthorized, post(discard, "", real.body).Code, "no signature")

	handMade := func(expires time.Time) string {
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss":    key,
			"nbf":    time.Now().Add(-time.Hour).Unix(),
			"exp":    expires.Unix(),
			"sha256": bodySum(real.body),
		}).SignedString([]byte(secret))
		require.NoError(t, err)
		return token
	}
	require.Equal(t, http.StatusOK, post(discard, handMade(time.Now().Add(time.Minute)), real.body).Code, "hand-made token")
	require.Equal(t, http.StatusUnauthorized, post(discard, handMade(time.Now().Add(-30*time.Minute)), real.body).Code, "expired signature")

	small := lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(key, secret),
		func(context.Context, *livekit.WebhookEvent) error { return nil },
		lksdk.WithWebhookMaxBodySize(int64(len(real.body)-1)))
	require.Equal(t, http.StatusRequestEntityTooLarge, post(small, real.auth, real.body).Code, "over a set limit")
	huge := bytes.Repeat([]byte("x"), int(lksdk.DefaultWebhookMaxBodySize)+1)
	require.Equal(t, http.StatusRequestEntityTooLarge, post(discard, signWebhook(t, huge, key, secret), huge).Code, "over the default limit")
}

func TestWebhookHandlerAnswers(t *testing.T) {
	const key, secret = "APIhooks", "hooks-secret-hooks-secret-hooks-secret"
	var got *livekit.WebhookEvent
	failNext := false
	h := lksdk.NewWebhookHandler(auth.NewSimpleKeyProvider(key, secret),
		func(_ context.Context, ev *livekit.WebhookEvent) error {
			if failNext {
				return errors.New("database down")
			}
			got = ev
			return nil
		})

	body := []byte(`{"event":"participant_joined","room":{"name":"r1"},"participant":{"identity":"alice"},"id":"EV_1","createdAt":"1700000000","someFutureField":1}`)
	require.Equal(t, http.StatusOK, post(h, signWebhook(t, body, key, secret), body).Code)
	require.Equal(t, "participant_joined", got.Event)
	require.Equal(t, "alice", got.GetParticipant().GetIdentity())
	require.Equal(t, "r1", got.GetRoom().GetName())

	notEvent := []byte(`["not", "an", "event"]`)
	require.Equal(t, http.StatusBadRequest, post(h, signWebhook(t, notEvent, key, secret), notEvent).Code)

	failNext = true
	require.Equal(t, http.StatusInternalServerError, post(h, signWebhook(t, body, key, secret), body).Code)

	// Without a valid signature the body is not read at all: a stranger
	// cannot make the handler buffer a megabyte per request.
	for name, header := range map[string]string{
		"no header":    "",
		"not a token":  "garbage",
		"other secret": signWebhook(t, body, key, "another-secret-another-secret-another"),
		"unknown key":  signWebhook(t, body, "APIunknown", secret),
	} {
		counted := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20))}
		r := httptest.NewRequest(http.MethodPost, "/webhook", counted)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code, name)
		require.Zero(t, counted.n, "%s: body bytes read before the signature was checked", name)
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhook", nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, http.MethodPost, w.Header().Get("Allow"))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
