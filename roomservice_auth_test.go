package lksdk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

const (
	walkRoom   = "walk-room"
	walkDest   = "walk-dest"
	walkDoomed = "walk-doomed" // the room DeleteRoom deletes
)

// roomServiceGrants is the grant each RoomService RPC needs, as the server
// checks it. A new RPC in the protocol module fails the tests below until it
// is added here and wrapped in RoomServiceClient.
var roomServiceGrants = map[string]auth.VideoGrant{
	"CreateRoom":          {RoomCreate: true},
	"DeleteRoom":          {RoomCreate: true},
	"ListRooms":           {RoomList: true},
	"ListParticipants":    {RoomAdmin: true, Room: walkRoom},
	"GetParticipant":      {RoomAdmin: true, Room: walkRoom},
	"RemoveParticipant":   {RoomAdmin: true, Room: walkRoom},
	"MutePublishedTrack":  {RoomAdmin: true, Room: walkRoom},
	"UpdateParticipant":   {RoomAdmin: true, Room: walkRoom},
	"UpdateSubscriptions": {RoomAdmin: true, Room: walkRoom},
	"SendData":            {RoomAdmin: true, Room: walkRoom},
	"UpdateRoomMetadata":  {RoomAdmin: true, Room: walkRoom},
	"PerformRpc":          {RoomAdmin: true, Room: walkRoom},
	"ForwardParticipant":  {RoomAdmin: true, Room: walkRoom, DestinationRoom: walkDest},
	"MoveParticipant":     {RoomAdmin: true, Room: walkRoom, DestinationRoom: walkDest},
}

// rpcMethod is one RPC of a generated Twirp service interface.
type rpcMethod struct {
	name    string
	reqType reflect.Type // the request message (not a pointer)
}

func serviceMethods(iface any) []rpcMethod {
	t := reflect.TypeOf(iface).Elem()
	var out []rpcMethod
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		out = append(out, rpcMethod{name: m.Name, reqType: m.Type.In(1).Elem()})
	}
	return out
}

// newRequest makes a request message for RPC m that names the walk rooms, a
// participant and made-up IDs, so that every RPC gets past argument checks to
// the service.
func newRequest(m rpcMethod) reflect.Value {
	req := reflect.New(m.reqType)
	set := func(field, val string) {
		if f := req.Elem().FieldByName(field); f.IsValid() && f.Kind() == reflect.String {
			f.SetString(val)
		}
	}
	set("Room", walkRoom)
	set("RoomName", walkRoom)
	set("Name", walkRoom)
	set("DestinationRoom", walkDest)
	set("Identity", "nobody")
	set("ParticipantIdentity", "nobody")
	set("DestinationIdentity", "nobody")
	set("Method", "ping")
	set("TrackSid", "TR_nothing")
	set("EgressId", "EG_nothing")
	set("IngressId", "IN_nothing")
	set("SipTrunkId", "ST_nothing")
	set("SipDispatchRuleId", "SDR_nothing")
	set("SipCallTo", "+15550100")
	set("TransferTo", "tel:+15550100")
	set("DispatchId", "AD_nothing")
	set("AgentName", "walk-agent")
	if m.name == "DeleteRoom" {
		set("Room", walkDoomed)
	}
	return req
}

// callEach calls every method of iface on client, all at once and bounded
// in time, and returns each call's error by method name.
func callEach(t *testing.T, client any, iface any) map[string]error {
	t.Helper()
	return callEachWithin(t, client, iface, 10*time.Second)
}

// callEachWithin is callEach with each call bounded by timeout, for services
// that make the server wait on its internal RPCs before it answers.
func callEachWithin(t *testing.T, client any, iface any, timeout time.Duration) map[string]error {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = map[string]error{}
	)
	cv := reflect.ValueOf(client)
	for _, m := range serviceMethods(iface) {
		fn := cv.MethodByName(m.name)
		require.True(t, fn.IsValid(), "%T has no method %s", client, m.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), newRequest(m)})
			err, _ := out[1].Interface().(error)
			mu.Lock()
			errs[m.name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

func twirpCode(err error) twirp.ErrorCode {
	var terr twirp.Error
	if errors.As(err, &terr) {
		return terr.Code()
	}
	return ""
}

// Every RoomService RPC, called through the SDK against the real server,
// passes the server's authentication and permission checks; the same calls
// with a wrong secret are all refused, which shows the check can fail.
func TestEveryRoomServiceCallIsAuthenticated(t *testing.T) {
	srv := lktest.Start(t)
	c := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	for _, room := range []string{walkRoom, walkDest, walkDoomed} {
		_, err := c.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: room})
		require.NoError(t, err)
	}
	methods := serviceMethods((*livekit.RoomService)(nil))
	require.GreaterOrEqual(t, len(methods), 14)

	for name, err := range callEach(t, c, (*livekit.RoomService)(nil)) {
		code := twirpCode(err)
		require.NotEqual(t, twirp.Unauthenticated, code, "%s: %v", name, err)
		require.NotEqual(t, twirp.PermissionDenied, code, "%s: %v", name, err)
		t.Logf("%-20s %v", name, err)
	}

	bad := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, "wrong-secret-wrong-secret-wrong-secret")
	for name, err := range callEach(t, bad, (*livekit.RoomService)(nil)) {
		require.Equal(t, twirp.Unauthenticated, twirpCode(err), "%s with a wrong secret: %v", name, err)
	}
}

// Each request carries a valid token with exactly the grant its RPC needs.
func TestEachRoomServiceCallCarriesOnlyItsGrant(t *testing.T) {
	tokens := recordTokens(t, func(url, key, secret string) any {
		return lksdk.NewRoomServiceClient(url, key, secret)
	}, (*livekit.RoomService)(nil))
	for _, m := range serviceMethods((*livekit.RoomService)(nil)) {
		want, ok := roomServiceGrants[m.name]
		require.True(t, ok, "no expected grant listed for RoomService.%s", m.name)
		requireOnlyGrant(t, m.name, tokens[m.name], &want, nil)
	}
}

const walkKey, walkSecret = "APIwalk", "walk-secret-walk-secret-walk-secret"

// recordTokens calls every method of iface on the client that newClient makes
// for a server that records requests, and returns the Authorization header
// each RPC's request carried, by RPC name. The client is made with walkKey
// and walkSecret.
func recordTokens(t *testing.T, newClient func(url, key, secret string) any, iface any) map[string]string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]string{} // RPC name -> Authorization header
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/protobuf")
		w.WriteHeader(http.StatusOK) // an empty body is an empty message
	}))
	defer recorder.Close()

	for name, err := range callEach(t, newClient(recorder.URL, walkKey, walkSecret), iface) {
		require.NoError(t, err, name)
	}
	mu.Lock()
	defer mu.Unlock()
	return seen
}

// requireOnlyGrant checks that header carries a bearer token signed with
// walkKey and walkSecret, valid for DefaultAPITokenValidity, that grants
// exactly video and sip (nil: no grant of that kind).
func requireOnlyGrant(t *testing.T, rpc, header string, video *auth.VideoGrant, sip *auth.SIPGrant) {
	t.Helper()
	token, ok := strings.CutPrefix(header, "Bearer ")
	require.True(t, ok, "%s sent no bearer token", rpc)
	v, err := auth.ParseAPIToken(token)
	require.NoError(t, err, rpc)
	claims, grants, err := v.Verify(walkSecret)
	require.NoError(t, err, rpc)
	require.Equal(t, walkKey, v.APIKey(), rpc)
	require.Equal(t, video, grants.Video, rpc)
	require.Equal(t, sip, grants.SIP, rpc)
	require.WithinDuration(t, time.Now().Add(lksdk.DefaultAPITokenValidity), claims.ExpiresAt.Time, time.Minute, rpc)
}
