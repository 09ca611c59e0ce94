package lktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/redisserver"
)

// ClusterStatsInterval is how often the nodes of a Cluster refresh their
// entry in Redis: the shortest interval the server keeps up with (see
// lkserver.Options.StatsUpdateInterval). A killed node is taken for dead
// 4 to 5 s after it died.
const ClusterStatsInterval = time.Second

// WithStatsUpdateInterval sets how often a cluster node refreshes its entry
// in Redis (StartCluster's default: ClusterStatsInterval).
func WithStatsUpdateInterval(d time.Duration) Option {
	return func(o *lkserver.Options) { o.StatsUpdateInterval = d }
}

// StartRedis launches a redis-server for t on a free loopback port. It is
// stopped and its directory removed when the test ends, and its log is
// added to the test's output if the test failed.
//
// In -short mode the test is skipped. Without a redis-server binary the
// test fails, saying how to install one.
func StartRedis(t testing.TB) *redisserver.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: it needs a redis-server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := redisserver.Start(ctx, redisserver.Options{})
	if err != nil {
		if errors.Is(err, redisserver.ErrBinaryNotFound) {
			t.Fatalf("this test needs a redis-server: %v", err)
		}
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = r.Close()
		if t.Failed() {
			t.Logf("--- redis-server log (%s) ---\n%s", r.Addr, r.Logs())
		}
	})
	return r
}

// Cluster is a set of livekit-server nodes sharing one Redis and one key
// pair: a client may join or call the server APIs through any node.
type Cluster struct {
	Redis *redisserver.Server
	// Nodes in the order they were started, each on ports of its own.
	Nodes             []*lkserver.Server
	APIKey, APISecret string
}

// StartCluster starts a Redis and n livekit-server nodes using it, for t,
// with opts applied to every node. The nodes refresh their entry in Redis
// every ClusterStatsInterval unless opts say otherwise. Everything is
// stopped when the test ends (the nodes first), and every log is added to
// the test's output if it failed.
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	redis := StartRedis(t)
	o := lkserver.Options{StatsUpdateInterval: ClusterStatsInterval}
	for _, opt := range opts {
		opt(&o)
	}
	o.RedisAddress = redis.Addr
	if o.APIKey == "" {
		o.APIKey, o.APISecret = "APIcluster"+randomHex(6), randomHex(24)
	}
	c := &Cluster{Redis: redis, APIKey: o.APIKey, APISecret: o.APISecret}
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, start(t, o))
	}
	return c
}

// Node returns the node whose current node id is id, or nil.
func (c *Cluster) Node(id string) *lkserver.Server {
	for _, n := range c.Nodes {
		if id != "" && n.NodeID() == id {
			return n
		}
	}
	return nil
}

// RoomNode returns the node that Redis says hosts room (livekit-server's
// room_node_map). The node may be dead: the entry stays until the room is
// placed again.
func (c *Cluster) RoomNode(ctx context.Context, room string) (*lkserver.Server, error) {
	v, err := c.Redis.Do(ctx, "HGET", "room_node_map", room)
	if err != nil {
		return nil, err
	}
	id, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("room %q is on no node", room)
	}
	n := c.Node(id)
	if n == nil {
		return nil, fmt.Errorf("room %q is on node %s, not one of this cluster's", room, id)
	}
	return n, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
