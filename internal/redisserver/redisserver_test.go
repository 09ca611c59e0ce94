package redisserver_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/livekit/server-sdk-go/internal/redisserver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T) *redisserver.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: it needs a redis-server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := redisserver.Start(ctx, redisserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestCommandsAndReplies(t *testing.T) {
	s := start(t)
	require.Contains(t, s.Addr, "127.0.0.1:")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	do := func(args ...string) any {
		v, err := s.Do(ctx, args...)
		require.NoError(t, err, "%v", args)
		return v
	}
	require.Equal(t, "PONG", do("PING"))
	require.EqualValues(t, 1, do("HSET", "h", "k", "a value\r\nwith a line break"))
	require.Equal(t, "a value\r\nwith a line break", do("HGET", "h", "k"))
	require.Nil(t, do("HGET", "h", "missing"))
	require.Equal(t, []any{"k"}, do("HKEYS", "h"))
	_, err := s.Do(ctx, "NOSUCHCOMMAND")
	require.ErrorContains(t, err, "unknown command")
	// Nothing is kept on disk.
	require.Equal(t, []any{"save", ""}, do("CONFIG", "GET", "save"))
	require.Equal(t, []any{"appendonly", "no"}, do("CONFIG", "GET", "appendonly"))
}

func TestCloseStopsAndRemovesItsDirectory(t *testing.T) {
	s := start(t)
	dir, err := s.Do(context.Background(), "CONFIG", "GET", "dir")
	require.NoError(t, err)
	path := dir.([]any)[1].(string)
	require.DirExists(t, path)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close")
	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err), "%s is left: %v", path, err)
	// The port is free again.
	l, err := net.Listen("tcp", s.Addr)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestMissingBinarySaysHowToInstall(t *testing.T) {
	t.Setenv("REDIS_SERVER_BIN", "/nonexistent/redis-server")
	_, err := redisserver.Start(context.Background(), redisserver.Options{})
	require.ErrorIs(t, err, redisserver.ErrBinaryNotFound)
	require.Contains(t, err.Error(), "make deps")
}

func TestBadBinaryFailsWithoutHanging(t *testing.T) {
	_, err := redisserver.Start(context.Background(), redisserver.Options{Binary: "/bin/false", StartTimeout: 5 * time.Second})
	require.ErrorContains(t, err, "exited")
}
