package lktest_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, url string) (int, error) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestServersRunSideBySideOnLoopback(t *testing.T) {
	a := lktest.Start(t)
	b := lktest.Start(t)
	require.NotEqual(t, a.HTTPPort, b.HTTPPort)
	for _, s := range []*lkserver.Server{a, b} {
		code, err := get(t, s.HTTPURL+"/")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, s.URL, "ws://127.0.0.1:")
	}
}

func TestStopFreesPortsAndRestartReusesThem(t *testing.T) {
	s := lktest.Start(t)
	port := s.HTTPPort
	require.NoError(t, s.Stop())
	_, err := get(t, s.HTTPURL+"/")
	require.Error(t, err, "server still answers after Stop")

	// The ports are free again once Stop returns.
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Restart(ctx))
	require.Equal(t, port, s.HTTPPort)
	code, err := get(t, s.HTTPURL+"/")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
}

func TestMissingBinarySaysHowToInstall(t *testing.T) {
	t.Setenv("LIVEKIT_SERVER_BIN", "/nonexistent/livekit-server")
	_, err := lkserver.Start(context.Background(), lkserver.Options{})
	require.ErrorIs(t, err, lkserver.ErrBinaryNotFound)
	require.Contains(t, err.Error(), "make deps")
}

func TestBadBinaryFailsWithoutHanging(t *testing.T) {
	_, err := lkserver.Start(context.Background(), lkserver.Options{Binary: "/bin/false", StartTimeout: 10 * time.Second})
	require.Error(t, err)
	require.Contains(t, err.Error(), "exited")
}

func TestClusterNodesShareOneRedis(t *testing.T) {
	c := lktest.StartCluster(t, 2)
	require.Len(t, c.Nodes, 2)
	a, b := c.Nodes[0], c.Nodes[1]
	require.NotEqual(t, a.HTTPPort, b.HTTPPort)
	require.NotEqual(t, a.RTCUDPPort, b.RTCUDPPort)
	require.NotEmpty(t, a.NodeID())
	require.NotEqual(t, a.NodeID(), b.NodeID())
	require.Equal(t, c.APIKey, a.APIKey)
	require.Equal(t, c.APIKey, b.APIKey)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes, err := c.Redis.Do(ctx, "HKEYS", "nodes")
	require.NoError(t, err)
	require.ElementsMatch(t, []any{a.NodeID(), b.NodeID()}, nodes, "both nodes registered in Redis")
	require.Same(t, b, c.Node(b.NodeID()))
	require.Nil(t, c.Node("ND_none"))
	_, err = c.RoomNode(ctx, "no-such-room")
	require.Error(t, err)
}

func TestKillEndsTheServerAtOnceAndRestartMakesANewNode(t *testing.T) {
	c := lktest.StartCluster(t, 1)
	s := c.Nodes[0]
	before := s.NodeID()
	require.NoError(t, s.Kill())
	require.NoError(t, s.Kill(), "a second Kill")
	_, err := get(t, s.HTTPURL+"/")
	require.Error(t, err, "server still answers after Kill")

	// A killed node leaves its entry in Redis: nobody told the cluster.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := c.Redis.Do(ctx, "HKEYS", "nodes")
	require.NoError(t, err)
	require.Contains(t, nodes, before)

	require.NoError(t, s.Restart(ctx))
	require.NotEqual(t, before, s.NodeID())
	code, err := get(t, s.HTTPURL+"/")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
}
