package balancer_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/livekit/server-sdk-go/internal/balancer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// named is a TCP backend that greets each connection with its name and
// then echoes lines. Stop closes its listener and every connection.
type named struct {
	name string
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	cons []net.Conn
}

func newNamed(t *testing.T, name, addr string) *named {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	n := &named{name: name, addr: ln.Addr().String(), ln: ln}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.mu.Lock()
			n.cons = append(n.cons, c)
			n.mu.Unlock()
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer c.Close()
				_, _ = io.WriteString(c, n.name+"\n")
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *named) stop() {
	_ = n.ln.Close()
	n.mu.Lock()
	for _, c := range n.cons {
		_ = c.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

func start(t *testing.T, opts balancer.Options) *balancer.Balancer {
	t.Helper()
	opts.Logf = t.Logf
	b, err := balancer.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// greet connects through b and returns the backend's name and the open
// connection.
func greet(t *testing.T, b *balancer.Balancer) (string, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.Addr(), 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", c
	}
	_ = c.SetReadDeadline(time.Time{})
	return strings.TrimSpace(line), c
}

func TestFirstHealthyBackendGetsEveryConnection(t *testing.T) {
	a, bk := newNamed(t, "a", ""), newNamed(t, "b", "")
	b := start(t, balancer.Options{Backends: []string{a.addr, bk.addr}})
	for i := 0; i < 5; i++ {
		name, c := greet(t, b)
		require.Equal(t, "a", name)
		// Bytes go both ways.
		_, err := io.WriteString(c, "ping\n")
		require.NoError(t, err)
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "ping\n", line)
	}
	st := b.Stats()
	require.Len(t, st, 2)
	require.True(t, st[0].Healthy)
	require.True(t, st[1].Healthy)
	require.EqualValues(t, 5, st[0].Total)
	require.EqualValues(t, 5, st[0].Active)
	require.Zero(t, st[1].Total)
}

func TestDeadBackendLosesItsConnectionsAndGetsNoNewOnes(t *testing.T) {
	a, bk := newNamed(t, "a", ""), newNamed(t, "b", "")
	b := start(t, balancer.Options{Backends: []string{a.addr, bk.addr}})
	name, old := greet(t, b)
	require.Equal(t, "a", name)

	a.stop()
	// The existing connection breaks with its backend.
	_ = old.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := old.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	// The next connection goes to b, at once: a refusing backend is taken
	// for down without waiting for a check.
	name, _ = greet(t, b)
	require.Equal(t, "b", name)
	require.Eventually(t, func() bool { return !b.Stats()[0].Healthy && b.Stats()[0].Active == 0 }, 5*time.Second, 10*time.Millisecond)

	// a is back on the same address: checks find it, and it is preferred
	// again.
	newNamed(t, "a2", a.addr)
	require.Eventually(t, func() bool { return b.Stats()[0].Healthy }, 5*time.Second, 10*time.Millisecond)
	name, _ = greet(t, b)
	require.Equal(t, "a2", name)
}

func TestHTTPCheckSkipsABackendThatDoesNotAnswer200(t *testing.T) {
	var status sync.Map
	status.Store("code", http.StatusServiceUnavailable)
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := status.Load("code")
		w.WriteHeader(code.(int))
		_, _ = io.WriteString(w, "from sick")
	}))
	defer sick.Close()
	well := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from well")
	}))
	defer well.Close()
	b := start(t, balancer.Options{
		Backends:       []string{sick.Listener.Addr().String(), well.Listener.Addr().String()},
		HealthPath:     "/",
		HealthInterval: 50 * time.Millisecond,
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	body := func() string {
		resp, err := client.Get(b.URL("http") + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(data)
	}
	require.False(t, b.Stats()[0].Healthy, "503 is not healthy")
	require.Equal(t, "from well", body())

	status.Store("code", http.StatusOK)
	require.Eventually(t, func() bool { return b.Stats()[0].Healthy }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "from sick", body())
}

func TestNoHealthyBackendClosesTheConnection(t *testing.T) {
	a := newNamed(t, "a", "")
	addr := a.addr
	a.stop()
	b := start(t, balancer.Options{Backends: []string{addr}})
	name, c := greet(t, b)
	require.Empty(t, name)
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	require.EqualValues(t, 1, b.Refused())
}

func TestCloseEndsConnectionsUnderWay(t *testing.T) {
	a := newNamed(t, "a", "")
	b, err := balancer.New(balancer.Options{Backends: []string{a.addr}})
	require.NoError(t, err)
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		name, c := greet(t, b)
		require.Equal(t, "a", name)
		conns = append(conns, c)
	}
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "a second Close")
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
	}
	_, err = net.DialTimeout("tcp", b.Addr(), time.Second)
	require.Error(t, err, "still listening after Close")
}

func TestNoBackends(t *testing.T) {
	_, err := balancer.New(balancer.Options{})
	require.Error(t, err)
}
