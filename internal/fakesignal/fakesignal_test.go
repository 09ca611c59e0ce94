package fakesignal

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func read(t *testing.T, ws *websocket.Conn) *livekit.SignalResponse {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	mt, b, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, websocket.BinaryMessage, mt)
	res := &livekit.SignalResponse{}
	require.NoError(t, proto.Unmarshal(b, res))
	return res
}

// A scripted server sends its first responses; a relay in front of it
// passes them on and adds injected ones; Close leaves nothing running.
func TestScriptAndRelay(t *testing.T) {
	inner, err := Start()
	require.NoError(t, err)
	defer inner.Close()
	inner.First = []*livekit.SignalResponse{{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: "first"}}}

	relay, err := StartRelay(inner.HTTPURL())
	require.NoError(t, err)
	defer relay.Close()

	ws, _, err := websocket.DefaultDialer.Dial(relay.URL()+"/rtc?access_token=x", nil)
	require.NoError(t, err)
	defer ws.Close()
	require.Equal(t, "first", read(t, ws).GetRefreshToken())
	require.NoError(t, relay.Inject(&livekit.SignalResponse{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: "injected"}}))
	require.Equal(t, "injected", read(t, ws).GetRefreshToken())
	require.Equal(t, 1, relay.Connections())
	require.Equal(t, 1, inner.Connections())
}

func TestRefuseAndRemoteTargets(t *testing.T) {
	s, err := Start()
	require.NoError(t, err)
	defer s.Close()
	s.Refuse = http.StatusUnauthorized
	_, resp, err := websocket.DefaultDialer.Dial(s.URL()+"/rtc", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_ = resp.Body.Close()

	_, err = StartRelay("ws://example.com:80")
	require.Error(t, err, "only loopback targets")
}
