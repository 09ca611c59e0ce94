package lksdk_test

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// wantGrant is the grant one RPC needs, as the server checks it; nil parts
// are left out of the token.
type wantGrant struct {
	video *auth.VideoGrant
	sip   *auth.SIPGrant
}

var (
	recordGrant       = wantGrant{video: &auth.VideoGrant{RoomRecord: true}}
	ingressGrant      = wantGrant{video: &auth.VideoGrant{IngressAdmin: true}}
	sipAdminGrant     = wantGrant{sip: &auth.SIPGrant{Admin: true}}
	sipCallGrant      = wantGrant{sip: &auth.SIPGrant{Call: true}}
	walkRoomAdmin     = wantGrant{video: &auth.VideoGrant{RoomAdmin: true, Room: walkRoom}}
	sipTransferGrants = wantGrant{sip: &auth.SIPGrant{Call: true}, video: &auth.VideoGrant{RoomAdmin: true, Room: walkRoom}}
)

// serverAPI is one server API client of the SDK and the service it wraps.
type serverAPI struct {
	name      string
	iface     any // the generated service interface, as a nil pointer to it
	newClient func(url, key, secret string, opts ...lksdk.ClientOption) any
	// newTwirp makes the generated client, to send requests the SDK would
	// not: signed with a token of the test's choosing.
	newTwirp func(url string, hc *http.Client) any
	// grants is the grant each RPC needs. A new RPC in the protocol module
	// fails the tests until it is listed here and wrapped in the client.
	grants map[string]wantGrant
	// codes is what livekit-server v1.9.11, run without Redis (so with no
	// egress, ingress or SIP service behind it), answers each RPC made with
	// the right grant on the requests newRequest makes, once the walk rooms
	// exist: "" for success.
	codes map[string]twirp.ErrorCode
}

var serverAPIs = []serverAPI{
	{
		name:  "Egress",
		iface: (*livekit.Egress)(nil),
		newClient: func(url, key, secret string, opts ...lksdk.ClientOption) any {
			return lksdk.NewEgressClientWithOptions(url, key, secret, opts...)
		},
		newTwirp: func(url string, hc *http.Client) any { return livekit.NewEgressProtobufClient(url, hc) },
		grants: map[string]wantGrant{
			"StartEgress":               recordGrant,
			"StartRoomCompositeEgress":  recordGrant,
			"StartWebEgress":            recordGrant,
			"StartParticipantEgress":    recordGrant,
			"StartTrackCompositeEgress": recordGrant,
			"StartTrackEgress":          recordGrant,
			"UpdateLayout":              recordGrant,
			"UpdateStream":              recordGrant,
			"ListEgress":                recordGrant,
			"StopEgress":                recordGrant,
		},
		codes: map[string]twirp.ErrorCode{
			// Newer than the server: it has no route for it.
			"StartEgress": twirp.BadRoute,
			// The server asks its bus for an egress worker, retries, and
			// gives up after about 25 s: "no response from servers".
			"StartRoomCompositeEgress":  twirp.Unavailable,
			"StartWebEgress":            twirp.Unavailable,
			"StartParticipantEgress":    twirp.Unavailable,
			"StartTrackCompositeEgress": twirp.Unavailable,
			"StartTrackEgress":          twirp.Unavailable,
			// "egress not connected (redis required)"
			"UpdateLayout": twirp.Internal,
			"UpdateStream": twirp.Internal,
			"ListEgress":   twirp.Internal,
			"StopEgress":   twirp.Internal,
		},
	},
	{
		name:  "Ingress",
		iface: (*livekit.Ingress)(nil),
		newClient: func(url, key, secret string, opts ...lksdk.ClientOption) any {
			return lksdk.NewIngressClientWithOptions(url, key, secret, opts...)
		},
		newTwirp: func(url string, hc *http.Client) any { return livekit.NewIngressProtobufClient(url, hc) },
		grants: map[string]wantGrant{
			"CreateIngress": ingressGrant,
			"UpdateIngress": ingressGrant,
			"ListIngress":   ingressGrant,
			"DeleteIngress": ingressGrant,
		},
		codes: map[string]twirp.ErrorCode{
			// "ingress not connected (redis required)"
			"CreateIngress": twirp.Internal,
			"ListIngress":   twirp.Internal,
			// "Internal service panic": the server reads its missing
			// ingress store.
			"UpdateIngress": twirp.Internal,
			"DeleteIngress": twirp.Internal,
		},
	},
	{
		name:  "SIP",
		iface: (*livekit.SIP)(nil),
		newClient: func(url, key, secret string, opts ...lksdk.ClientOption) any {
			return lksdk.NewSIPClientWithOptions(url, key, secret, opts...)
		},
		newTwirp: func(url string, hc *http.Client) any { return livekit.NewSIPProtobufClient(url, hc) },
		grants: map[string]wantGrant{
			"ListSIPTrunk":           sipAdminGrant,
			"CreateSIPInboundTrunk":  sipAdminGrant,
			"CreateSIPOutboundTrunk": sipAdminGrant,
			"UpdateSIPInboundTrunk":  sipAdminGrant,
			"UpdateSIPOutboundTrunk": sipAdminGrant,
			"GetSIPInboundTrunk":     sipAdminGrant,
			"GetSIPOutboundTrunk":    sipAdminGrant,
			"ListSIPInboundTrunk":    sipAdminGrant,
			"ListSIPOutboundTrunk":   sipAdminGrant,
			"DeleteSIPTrunk":         sipAdminGrant,
			"CreateSIPDispatchRule":  sipAdminGrant,
			"UpdateSIPDispatchRule":  sipAdminGrant,
			"ListSIPDispatchRule":    sipAdminGrant,
			"DeleteSIPDispatchRule":  sipAdminGrant,
			"CreateSIPParticipant":   sipCallGrant,
			"TransferSIPParticipant": sipTransferGrants,
		},
		codes: map[string]twirp.ErrorCode{
			// "sip not connected (redis required)"
			"ListSIPTrunk":           twirp.Internal,
			"CreateSIPInboundTrunk":  twirp.Internal,
			"CreateSIPOutboundTrunk": twirp.Internal,
			"UpdateSIPInboundTrunk":  twirp.Internal,
			"UpdateSIPOutboundTrunk": twirp.Internal,
			"GetSIPInboundTrunk":     twirp.Internal,
			"GetSIPOutboundTrunk":    twirp.Internal,
			"ListSIPInboundTrunk":    twirp.Internal,
			"ListSIPOutboundTrunk":   twirp.Internal,
			"DeleteSIPTrunk":         twirp.Internal,
			"CreateSIPDispatchRule":  twirp.Internal,
			"UpdateSIPDispatchRule":  twirp.Internal,
			"ListSIPDispatchRule":    twirp.Internal,
			"DeleteSIPDispatchRule":  twirp.Internal,
			"CreateSIPParticipant":   twirp.Internal,
			// The server looks the participant up in the room (with the
			// RoomAdmin grant) before it needs the SIP service.
			"TransferSIPParticipant": twirp.NotFound,
		},
	},
	{
		name:  "AgentDispatchService",
		iface: (*livekit.AgentDispatchService)(nil),
		newClient: func(url, key, secret string, opts ...lksdk.ClientOption) any {
			return lksdk.NewAgentDispatchClientWithOptions(url, key, secret, opts...)
		},
		newTwirp: func(url string, hc *http.Client) any {
			return livekit.NewAgentDispatchServiceProtobufClient(url, hc)
		},
		grants: map[string]wantGrant{
			"CreateDispatch": walkRoomAdmin,
			"DeleteDispatch": walkRoomAdmin,
			"ListDispatch":   walkRoomAdmin,
		},
		codes: map[string]twirp.ErrorCode{
			// Agent dispatch needs no other service: it works.
			"CreateDispatch": "",
			"ListDispatch":   "",
			"DeleteDispatch": twirp.NotFound, // there is no dispatch AD_nothing
		},
	},
}

// serverAPICallTimeout bounds each call to the real server: the egress start
// calls take about 25 s to fail without an egress worker.
const serverAPICallTimeout = 60 * time.Second

// newServerHTTPClient returns an HTTP client that opens a connection for
// every request. Without Redis, livekit-server v1.9.11 panics on UpdateIngress
// and DeleteIngress; its panic recovery writes past the error response twirp
// already sent, so the server closes that connection right after the client
// has put it back in its pool, and a concurrent request that takes it from
// there fails with "server closed idle connection".
func newServerHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// startWalkServer starts a server whose walk rooms exist and stay open while
// they are empty.
func startWalkServer(t *testing.T) *lkserver.Server {
	t.Helper()
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 600, 0))
	rc := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	for _, room := range []string{walkRoom, walkDest} {
		_, err := rc.CreateRoom(testContext(t), &livekit.CreateRoomRequest{Name: room})
		require.NoError(t, err)
	}
	return srv
}

// Each request of every server API client carries a valid token with exactly
// the grant its RPC needs.
func TestEachServerAPICallCarriesOnlyItsGrant(t *testing.T) {
	for _, api := range serverAPIs {
		t.Run(api.name, func(t *testing.T) {
			methods := serviceMethods(api.iface)
			tokens := recordTokens(t, func(url, key, secret string) any {
				return api.newClient(url, key, secret)
			}, api.iface)
			for _, m := range methods {
				want, ok := api.grants[m.name]
				require.True(t, ok, "no expected grant listed for %s.%s", api.name, m.name)
				requireOnlyGrant(t, m.name, tokens[m.name], want.video, want.sip)
			}
			require.Len(t, api.grants, len(methods), "%s grants lists an RPC the service does not have", api.name)
		})
	}
}

// Every RPC of every server API client, called through the SDK against the
// real server, passes the server's authentication and permission checks and
// gets the service's own answer; the same calls with a wrong secret are all
// refused.
func TestEveryServerAPICallIsAuthenticated(t *testing.T) {
	t.Parallel()
	srv := startWalkServer(t)
	hc := lksdk.WithHTTPClient(newServerHTTPClient(t))

	for _, api := range serverAPIs {
		require.Len(t, api.codes, len(serviceMethods(api.iface)), "%s: codes must list every RPC", api.name)
		c := api.newClient(srv.URL, srv.APIKey, srv.APISecret, hc)
		for name, err := range callEachWithin(t, c, api.iface, serverAPICallTimeout) {
			code := twirpCode(err)
			require.NotEqual(t, twirp.Unauthenticated, code, "%s.%s: %v", api.name, name, err)
			require.NotEqual(t, twirp.PermissionDenied, code, "%s.%s: %v", api.name, name, err)
			want, ok := api.codes[name]
			require.True(t, ok, "no expected answer listed for %s.%s", api.name, name)
			if want == "" {
				require.NoError(t, err, "%s.%s", api.name, name)
			} else {
				require.Equal(t, want, code, "%s.%s: %v", api.name, name, err)
			}
			t.Logf("%-20s %-25s %v", api.name, name, err)
		}
	}

	for _, api := range serverAPIs {
		bad := api.newClient(srv.URL, srv.APIKey, "wrong-secret-wrong-secret-wrong-secret", hc)
		for name, err := range callEach(t, bad, api.iface) {
			require.Equal(t, twirp.Unauthenticated, twirpCode(err), "%s.%s with a wrong secret: %v", api.name, name, err)
		}
	}
}

// An agent dispatch made through the SDK is listed by the server until it is
// deleted.
func TestAgentDispatchRoundTrip(t *testing.T) {
	srv := lktest.Start(t, lktest.WithRoomDefaults(600, 600, 0))
	ctx := testContext(t)
	room := lktest.RoomName(t)
	rc := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room})
	require.NoError(t, err)

	c := lksdk.NewAgentDispatchClient(srv.URL, srv.APIKey, srv.APISecret)
	created, err := c.CreateDispatch(ctx, &livekit.CreateAgentDispatchRequest{
		Room: room, AgentName: "test-agent", Metadata: `{"job":"greet"}`,
	})
	require.NoError(t, err)
	require.NotEmpty(t, created.Id)
	require.Equal(t, room, created.Room)
	require.Equal(t, "test-agent", created.AgentName)
	require.Equal(t, `{"job":"greet"}`, created.Metadata)

	// The room also lists the dispatch the server makes for every room it
	// creates (no agent name: for agents dispatched automatically), so look
	// for ours by ID.
	find := func(list *livekit.ListAgentDispatchResponse) *livekit.AgentDispatch {
		for _, d := range list.GetAgentDispatches() {
			if d.Id == created.Id {
				return d
			}
		}
		return nil
	}
	all, err := c.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: room})
	require.NoError(t, err)
	listed := find(all)
	require.NotNil(t, listed, "dispatch %s not listed: %v", created.Id, all)
	require.Equal(t, "test-agent", listed.AgentName)
	require.Equal(t, `{"job":"greet"}`, listed.Metadata)

	one, err := c.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: room, DispatchId: created.Id})
	require.NoError(t, err)
	require.Len(t, one.AgentDispatches, 1)
	require.Equal(t, created.Id, one.AgentDispatches[0].Id)

	deleted, err := c.DeleteDispatch(ctx, &livekit.DeleteAgentDispatchRequest{Room: room, DispatchId: created.Id})
	require.NoError(t, err)
	require.Equal(t, created.Id, deleted.Id)

	all, err = c.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: room})
	require.NoError(t, err)
	require.Nil(t, find(all), "dispatch %s still listed after delete: %v", created.Id, all)

	_, err = c.DeleteDispatch(ctx, &livekit.DeleteAgentDispatchRequest{Room: room, DispatchId: created.Id})
	requireTwirpCode(t, err, twirp.NotFound)
}

// Every RPC's grant is as narrow as the server allows: a token that lacks
// any one part of it (with every other admin permission added) is refused by
// the real server, while the SDK's token gets past its checks.
func TestServerAPIGrantsArePrecise(t *testing.T) {
	t.Parallel()
	srv := startWalkServer(t)
	hc := newServerHTTPClient(t)

	type attempt struct {
		api, rpc, variant string
		err               error
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		attempts []attempt
		checked  int
	)
	for _, api := range serverAPIs {
		raw := reflect.ValueOf(api.newTwirp(srv.HTTPURL, hc))
		sdk := reflect.ValueOf(api.newClient(srv.URL, srv.APIKey, srv.APISecret, lksdk.WithHTTPClient(hc)))
		for _, m := range serviceMethods(api.iface) {
			if api.codes[m.name] == twirp.BadRoute {
				t.Logf("%s.%s: not served by this server, skipped", api.name, m.name)
				continue
			}
			checked++
			headers := map[string]http.Header{"sdk": nil} // nil: through the SDK
			for variant, g := range nearMisses(api.grants[m.name]) {
				headers[variant] = bearer(t, srv.APIKey, srv.APISecret, g)
			}
			for variant, header := range headers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), serverAPICallTimeout)
					defer cancel()
					fn := sdk.MethodByName(m.name)
					if header != nil {
						ctx, _ = twirp.WithHTTPRequestHeaders(ctx, header)
						fn = raw.MethodByName(m.name)
					}
					out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), newRequest(m)})
					err, _ := out[1].Interface().(error)
					mu.Lock()
					attempts = append(attempts, attempt{api.name, m.name, variant, err})
					mu.Unlock()
				}()
			}
		}
	}
	wg.Wait()
	require.Greater(t, checked, 30)

	refused := 0
	for _, a := range attempts {
		code := twirpCode(a.err)
		if a.variant == "sdk" {
			require.NotContains(t, []twirp.ErrorCode{twirp.Unauthenticated, twirp.PermissionDenied}, code,
				"%s.%s through the SDK: %v", a.api, a.rpc, a.err)
			continue
		}
		require.Contains(t, []twirp.ErrorCode{twirp.Unauthenticated, twirp.PermissionDenied}, code,
			"%s.%s with a token %s: %v", a.api, a.rpc, a.variant, a.err)
		refused++
	}
	t.Logf("%d RPCs: %d near-miss tokens refused, each SDK call let through", checked, refused)
}

// nearMisses returns tokens that each lack one part of want, named by what
// they lack: no grant at all; every admin permission but one that want
// needs; every admin permission, for another room.
func nearMisses(want wantGrant) map[string]wantGrant {
	all := func() wantGrant {
		room := walkRoom
		if want.video != nil && want.video.Room != "" {
			room = want.video.Room
		}
		return wantGrant{
			video: &auth.VideoGrant{
				RoomCreate: true, RoomList: true, RoomRecord: true, RoomAdmin: true,
				IngressAdmin: true, Room: room,
			},
			sip: &auth.SIPGrant{Admin: true, Call: true},
		}
	}
	out := map[string]wantGrant{"without any grant": {}}
	drop := func(grant any, name string, clear func(g wantGrant)) {
		v := reflect.ValueOf(grant)
		if v.IsNil() || !v.Elem().FieldByName(name).Bool() {
			return
		}
		g := all()
		clear(g)
		out["without "+name] = g
	}
	for _, f := range []string{"RoomCreate", "RoomList", "RoomRecord", "RoomAdmin", "IngressAdmin"} {
		drop(want.video, f, func(g wantGrant) { reflect.ValueOf(g.video).Elem().FieldByName(f).SetBool(false) })
	}
	for _, f := range []string{"Admin", "Call"} {
		drop(want.sip, f, func(g wantGrant) { reflect.ValueOf(g.sip).Elem().FieldByName(f).SetBool(false) })
	}
	if want.video != nil && want.video.Room != "" {
		g := all()
		g.video.Room = "someone-elses-room"
		out["for another room"] = g
	}
	return out
}

// bearer returns the Authorization header of a request signed with a token
// that grants g.
func bearer(t *testing.T, key, secret string, g wantGrant) http.Header {
	t.Helper()
	at := auth.NewAccessToken(key, secret).SetValidFor(time.Minute)
	if g.video != nil {
		at.SetVideoGrant(g.video)
	}
	if g.sip != nil {
		at.SetSIPGrant(g.sip)
	}
	token, err := at.ToJWT()
	require.NoError(t, err)
	return http.Header{"Authorization": {"Bearer " + token}}
}
