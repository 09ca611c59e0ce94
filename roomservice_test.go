package lksdk_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requireTwirpCode(t *testing.T, err error, code twirp.ErrorCode) {
	t.Helper()
	require.Error(t, err)
	var terr twirp.Error
	require.True(t, errors.As(err, &terr), "not a twirp error: %v", err)
	require.Equal(t, code, terr.Code(), "error: %v", err)
}

func TestRoomLifecycle(t *testing.T) {
	srv := lktest.Start(t)
	ctx := testContext(t)
	c := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	name, other := lktest.RoomName(t), lktest.RoomName(t)

	created, err := c.CreateRoom(ctx, &livekit.CreateRoomRequest{
		Name: name, EmptyTimeout: 120, MaxParticipants: 7, Metadata: "first",
	})
	require.NoError(t, err)
	require.Equal(t, name, created.Name)
	require.NotEmpty(t, created.Sid)
	_, err = c.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: other})
	require.NoError(t, err)

	all, err := c.ListRooms(ctx, &livekit.ListRoomsRequest{})
	require.NoError(t, err)
	require.Len(t, all.Rooms, 2)

	byName, err := c.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	require.NoError(t, err)
	require.Len(t, byName.Rooms, 1)
	got := byName.Rooms[0]
	require.Equal(t, created.Sid, got.Sid)
	require.EqualValues(t, 120, got.EmptyTimeout)
	require.EqualValues(t, 7, got.MaxParticipants)
	require.Equal(t, "first", got.Metadata)

	updated, err := c.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: "second"})
	require.NoError(t, err)
	require.Equal(t, "second", updated.Metadata)
	byName, err = c.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	require.NoError(t, err)
	require.Equal(t, "second", byName.Rooms[0].Metadata)

	parts, err := c.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: name})
	require.NoError(t, err)
	require.Empty(t, parts.Participants)

	_, err = c.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: name})
	require.NoError(t, err)
	all, err = c.ListRooms(ctx, &livekit.ListRoomsRequest{})
	require.NoError(t, err)
	require.Len(t, all.Rooms, 1)
	require.Equal(t, other, all.Rooms[0].Name)
}

func TestWrongSecretIsUnauthenticated(t *testing.T) {
	srv := lktest.Start(t)
	c := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, "not-the-secret-not-the-secret-not-the-secret")
	_, err := c.ListRooms(testContext(t), &livekit.ListRoomsRequest{})
	requireTwirpCode(t, err, twirp.Unauthenticated)

	c = lksdk.NewRoomServiceClient(srv.URL, "unknown-key", srv.APISecret)
	_, err = c.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: "x"})
	requireTwirpCode(t, err, twirp.Unauthenticated)
}

func TestMissingRoomIsNotFound(t *testing.T) {
	srv := lktest.Start(t)
	c := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	ctx := testContext(t)
	_, err := c.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "no-such-room", Identity: "nobody"})
	requireTwirpCode(t, err, twirp.NotFound)
	_, err = c.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "no-such-room"})
	requireTwirpCode(t, err, twirp.NotFound)
}

func TestServerURLFormsReachTheServer(t *testing.T) {
	srv := lktest.Start(t)
	for _, u := range []string{srv.URL, srv.URL + "/", srv.HTTPURL, srv.HTTPURL[len("http://"):]} {
		c := lksdk.NewRoomServiceClient(u, srv.APIKey, srv.APISecret)
		_, err := c.ListRooms(testContext(t), &livekit.ListRoomsRequest{})
		require.NoError(t, err, u)
	}
}

type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestOwnHTTPClientIsUsed(t *testing.T) {
	srv := lktest.Start(t)
	ct := &countingTransport{}
	c := lksdk.NewRoomServiceClientWithOptions(srv.URL, srv.APIKey, srv.APISecret,
		lksdk.WithHTTPClient(&http.Client{Transport: ct}))
	_, err := c.ListRooms(testContext(t), &livekit.ListRoomsRequest{})
	require.NoError(t, err)
	_, err = c.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: lktest.RoomName(t)})
	require.NoError(t, err)
	require.EqualValues(t, 2, ct.n.Load())
}
