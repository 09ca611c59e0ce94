package lksdk

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
)

const testKey, testSecret = "APIkey", "secret-secret-secret-secret-secret"

func verifyToken(t *testing.T, token string) *auth.ClaimGrants {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err)
	require.Equal(t, testKey, v.APIKey())
	_, g, err := v.Verify(testSecret)
	require.NoError(t, err)
	return g
}

func TestJoinTokenCarriesParticipant(t *testing.T) {
	token, err := NewJoinToken(ConnectInfo{
		APIKey: testKey, APISecret: testSecret, RoomName: "room1",
		ParticipantIdentity: "bot", ParticipantName: "Bot", ParticipantMetadata: `{"a":1}`,
		ParticipantAttributes: map[string]string{"role": "recorder"},
	}, nil, 0)
	require.NoError(t, err)
	g := verifyToken(t, token)
	require.Equal(t, "bot", g.Identity)
	require.Equal(t, "Bot", g.Name)
	require.Equal(t, `{"a":1}`, g.Metadata)
	require.Equal(t, "recorder", g.Attributes["role"])
	require.True(t, g.Video.RoomJoin)
	require.Equal(t, "room1", g.Video.Room)
	require.False(t, g.Video.RoomAdmin)
}

func TestJoinTokenWithOwnGrant(t *testing.T) {
	info := ConnectInfo{APIKey: testKey, APISecret: testSecret, RoomName: "room1", ParticipantIdentity: "bot"}
	grant := &auth.VideoGrant{Hidden: true}
	grant.SetCanPublish(false)
	token, err := NewJoinToken(info, grant, time.Minute)
	require.NoError(t, err)
	g := verifyToken(t, token)
	require.True(t, g.Video.RoomJoin)
	require.True(t, g.Video.Hidden)
	require.Equal(t, "room1", g.Video.Room)
	require.False(t, *g.Video.CanPublish)
	require.False(t, grant.RoomJoin, "the caller's grant is not modified")
}

func TestJoinTokenRejectsIncompleteInfo(t *testing.T) {
	_, err := NewJoinToken(ConnectInfo{APIKey: testKey, RoomName: "r", ParticipantIdentity: "p"}, nil, 0)
	require.ErrorIs(t, err, ErrMissingCredentials)
	_, err = NewJoinToken(ConnectInfo{APIKey: testKey, APISecret: testSecret, RoomName: "r"}, nil, 0)
	require.ErrorContains(t, err, "identity")
	_, err = NewJoinToken(ConnectInfo{APIKey: testKey, APISecret: testSecret, ParticipantIdentity: "p"}, nil, 0)
	require.ErrorContains(t, err, "room")
}

func TestRequestTokenIsShortLivedAndKeepsCallerHeaders(t *testing.T) {
	a := apiAuth{apiKey: testKey, apiSecret: testSecret, validFor: DefaultAPITokenValidity}
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), map[string][]string{"X-Trace": {"abc"}})
	require.NoError(t, err)
	ctx, err = a.withAuth(ctx, roomAdminGrant("r1"))
	require.NoError(t, err)
	h, ok := twirp.HTTPRequestHeaders(ctx)
	require.True(t, ok)
	require.Equal(t, "abc", h.Get("X-Trace"))
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	require.True(t, ok)

	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err)
	claims, g, err := v.Verify(testSecret)
	require.NoError(t, err)
	require.Equal(t, &auth.VideoGrant{RoomAdmin: true, Room: "r1"}, g.Video)
	require.Nil(t, g.SIP)
	life := claims.ExpiresAt.Sub(claims.IssuedAt.Time)
	require.LessOrEqual(t, life, 10*time.Minute, "request tokens are short-lived")
}

func TestClientWithoutCredentialsFailsBeforeSending(t *testing.T) {
	c := NewRoomServiceClient("http://127.0.0.1:1", "", "")
	_, err := c.ListRooms(context.Background(), nil)
	require.ErrorIs(t, err, ErrMissingCredentials)

	c = NewRoomServiceClient("ftp://host", testKey, testSecret)
	_, err = c.ListRooms(context.Background(), nil)
	require.ErrorIs(t, err, ErrInvalidURL)
}
