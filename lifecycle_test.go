package lksdk_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/faultproxy"
	"github.com/livekit/server-sdk-go/internal/lkserver"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// lifecycleBound is how long any lifecycle call may take.
const lifecycleBound = 5 * time.Second

// requireClosed checks that a room is closed for good, and that its state,
// Done and reason agree.
func requireClosed(t *testing.T, r *lksdk.Room, reason lksdk.DisconnectReason) {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(lifecycleBound):
		t.Fatalf("Done not closed within %s", lifecycleBound)
	}
	require.Equal(t, lksdk.ConnectionStateDisconnected, r.ConnectionState())
	require.Equal(t, reason.String(), r.DisconnectReason().String())
}

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan struct{}, 8)
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String(), ch
}

func info(srv *lkserver.Server, room, identity string) lksdk.ConnectInfo {
	return lksdk.ConnectInfo{APIKey: srv.APIKey, APISecret: srv.APISecret, RoomName: room, ParticipantIdentity: identity}
}

// shortIVF returns the first n frames of an IVF file of testdata.
func shortIVF(t testing.TB, name string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	off := int(binary.LittleEndian.Uint16(b[6:8]))
	for i := 0; i < n && off+12 <= len(b); i++ {
		off += 12 + int(binary.LittleEndian.Uint32(b[off:off+4]))
	}
	out := append([]byte(nil), b[:off]...)
	binary.LittleEndian.PutUint32(out[24:28], uint32(n))
	return out
}

func TestRoomLifecycleEveryCallReturns(t *testing.T) {
	srv := lktest.Start(t)
	bad := info(srv, "", "x")
	bad.APISecret = "wrong-secret-wrong-secret-wrong-secret"
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "ws://" + addr
	}()

	failedJoins := []struct {
		name string
		join func(t *testing.T, r *lksdk.Room) error
	}{
		{"join refused", func(t *testing.T, r *lksdk.Room) error {
			return r.Join(refused, info(srv, "r", "x"), loopback(t)...)
		}},
		{"join unauthorized", func(t *testing.T, r *lksdk.Room) error {
			bad.RoomName = lktest.RoomName(t)
			return r.Join(srv.URL, bad, loopback(t)...)
		}},
		{"join timed out", func(t *testing.T, r *lksdk.Room) error {
			addr, _ := silentServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			return r.JoinWithContext(ctx, "ws://"+addr, info(srv, "r", "x"), loopback(t)...)
		}},
		{"join cancelled by its context", func(t *testing.T, r *lksdk.Room) error {
			addr, accepted := silentServer(t)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-accepted
				cancel()
			}()
			defer cancel()
			return r.JoinWithContext(ctx, "ws://"+addr, info(srv, "r", "x"), loopback(t)...)
		}},
		{"join cancelled by its context after the join response", func(t *testing.T, r *lksdk.Room) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The ICE phase: cancel as soon as the server has answered.
			go func() {
				for ctx.Err() == nil {
					if r.LocalParticipant.SID() != "" {
						cancel()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			return r.JoinWithContext(ctx, srv.URL, info(srv, lktest.RoomName(t), "x"), loopback(t)...)
		}},
	}
	for _, tc := range failedJoins {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			r := lksdk.CreateRoom(nil)
			var err error
			within(t, lifecycleBound, "Join", func() { err = tc.join(t, r) })
			if tc.name == "join cancelled by its context after the join response" && err == nil {
				// The join won the race; leaving must still work.
				within(t, lifecycleBound, "Disconnect", r.Disconnect)
				requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
				return
			}
			require.Error(t, err)
			requireClosed(t, r, livekit.DisconnectReason_JOIN_FAILURE)
			within(t, lifecycleBound, "Disconnect after a failed join", r.Disconnect)
			within(t, lifecycleBound, "second Disconnect", r.Disconnect)
			requireClosed(t, r, livekit.DisconnectReason_JOIN_FAILURE)
			require.Error(t, r.Join(srv.URL, info(srv, "r", "x")), "a closed room does not join again")
		})
	}

	t.Run("never joined", func(t *testing.T) {
		noLeaks(t)
		r := lksdk.CreateRoom(nil)
		require.Equal(t, lksdk.ConnectionStateDisconnected, r.ConnectionState())
		within(t, lifecycleBound, "Disconnect", r.Disconnect)
		within(t, lifecycleBound, "second Disconnect", r.Disconnect)
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
		require.Error(t, r.Join(srv.URL, info(srv, "r", "x")))
	})

	t.Run("Disconnect during join", func(t *testing.T) {
		noLeaks(t)
		addr, accepted := silentServer(t)
		r := lksdk.CreateRoom(nil)
		joined := make(chan error, 1)
		go func() { joined <- r.Join("ws://"+addr, info(srv, "r", "x"), loopback(t)...) }()
		recv(t, accepted, lifecycleBound, "the join to dial")
		within(t, lifecycleBound, "Disconnect during join", r.Disconnect)
		require.ErrorIs(t, recv(t, joined, lifecycleBound, "Join to return"), lksdk.ErrRoomClosed)
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})

	t.Run("Disconnect during join, once the server answered", func(t *testing.T) {
		noLeaks(t)
		r := lksdk.CreateRoom(nil)
		joined := make(chan error, 1)
		go func() { joined <- r.Join(srv.URL, info(srv, lktest.RoomName(t), "x"), loopback(t)...) }()
		eventually(t, lifecycleBound, func() bool { return r.LocalParticipant.SID() != "" }, "the join response")
		within(t, lifecycleBound, "Disconnect during join", r.Disconnect)
		if err := recv(t, joined, lifecycleBound, "Join to return"); err != nil {
			require.ErrorIs(t, err, lksdk.ErrRoomClosed)
		}
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})

	connected := func(t *testing.T, cb *lksdk.RoomCallback, opts ...lksdk.ConnectOption) (*lksdk.Room, string) {
		room := lktest.RoomName(t)
		r, err := lksdk.ConnectToRoom(srv.URL, info(srv, room, "alice"), cb, append(loopback(t), opts...)...)
		require.NoError(t, err)
		require.Equal(t, lksdk.ConnectionStateConnected, r.ConnectionState())
		return r, room
	}

	t.Run("twice", func(t *testing.T) {
		noLeaks(t)
		r, _ := connected(t, nil)
		within(t, lifecycleBound, "Disconnect", r.Disconnect)
		within(t, lifecycleBound, "second Disconnect", r.Disconnect)
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})

	t.Run("from 10 goroutines at once", func(t *testing.T) {
		noLeaks(t)
		r, _ := connected(t, nil)
		within(t, lifecycleBound, "10 Disconnects", func() {
			var wg sync.WaitGroup
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.Disconnect()
					// Each returns once the room is closed.
					select {
					case <-r.Done():
					default:
						t.Error("Disconnect returned before the room was closed")
					}
				}()
			}
			wg.Wait()
		})
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})

	t.Run("with a reason", func(t *testing.T) {
		noLeaks(t)
		r, room := connected(t, nil)
		seen := make(chan livekit.DisconnectReason, 1)
		join(t, srv, room, "bob", &lksdk.RoomCallback{OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) {
			seen <- rp.ParticipantInfo().GetDisconnectReason()
		}})
		eventually(t, lifecycleBound, func() bool { return len(r.GetParticipants()) == 1 }, "alice to see bob")
		within(t, lifecycleBound, "DisconnectWithReason", func() { r.DisconnectWithReason(livekit.DisconnectReason_USER_UNAVAILABLE) })
		requireClosed(t, r, livekit.DisconnectReason_USER_UNAVAILABLE)
		require.Equal(t, livekit.DisconnectReason_USER_UNAVAILABLE.String(), recv(t, seen, lifecycleBound, "bob to see alice leave").String(),
			"the server passes on the reason alice gave")
	})

	// Disconnect from inside each kind of callback the SDK calls.
	callbacks := []struct {
		name  string
		setup func(t *testing.T, leave func()) (*lksdk.Room, func())
	}{
		{"room callback", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			r, room := connected(t, &lksdk.RoomCallback{OnParticipantConnected: func(*lksdk.RemoteParticipant) { leave() }})
			return r, func() { join(t, srv, room, "bob", nil) }
		}},
		{"participant callback", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			r, room := connected(t, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
				OnTrackSubscribed: func(*webrtc.TrackRemote, *lksdk.RemoteTrackPublication, *lksdk.RemoteParticipant) { leave() },
			}})
			return r, func() { publishAV(t, join(t, srv, room, "bob", nil), "bob") }
		}},
		{"OnWriteComplete", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			r, _ := connected(t, nil)
			return r, func() {
				track, err := lksdk.NewLocalReaderTrack(io.NopCloser(bytes.NewReader(shortIVF(t, "vp8.ivf", 10))), webrtc.MimeTypeVP8,
					lksdk.ReaderTrackWithOnWriteComplete(leave))
				require.NoError(t, err)
				_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "short"})
				require.NoError(t, err)
			}
		}},
		{"RTCP handler", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			r, room := connected(t, nil)
			return r, func() {
				var once sync.Once
				track, err := lksdk.NewLocalFileTrack(filepath.Join("testdata", "vp8.ivf"), lksdk.ReaderTrackWithLoop(true),
					lksdk.ReaderTrackWithRTCPHandler(func(rtcp.Packet) { once.Do(leave) }))
				require.NoError(t, err)
				_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "video"})
				require.NoError(t, err)
				join(t, srv, room, "bob", nil) // a subscriber, whose RTCP comes back
			}
		}},
		{"OnReconnecting", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			r, _ := connected(t, &lksdk.RoomCallback{OnReconnecting: leave})
			return r, func() { r.Simulate(lksdk.SimulateSignalReconnect) }
		}},
		{"OnRTCP of a subscribed track", func(t *testing.T, leave func()) (*lksdk.Room, func()) {
			var once sync.Once
			r, room := connected(t, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
				OnTrackSubscribed: func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
					pub.OnRTCP(func(rtcp.Packet) { once.Do(leave) })
				},
			}})
			return r, func() { publishAV(t, join(t, srv, room, "bob", nil), "bob") }
		}},
	}
	for _, tc := range callbacks {
		t.Run("from inside "+tc.name, func(t *testing.T) {
			noLeaks(t)
			returned := make(chan struct{}, 1)
			var r *lksdk.Room
			ready := make(chan struct{})
			leave := func() {
				<-ready
				r.Disconnect()
				returned <- struct{}{}
			}
			r, trigger := tc.setup(t, leave)
			close(ready)
			trigger()
			recv(t, returned, 15*time.Second, "Disconnect inside the callback to return")
			requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
			within(t, lifecycleBound, "Disconnect after", r.Disconnect)
		})
	}

	t.Run("UnpublishTrack from inside OnWriteComplete", func(t *testing.T) {
		noLeaks(t)
		r, _ := connected(t, nil)
		var pub *lksdk.LocalTrackPublication
		ready := make(chan struct{})
		unpublished := make(chan error, 1)
		track, err := lksdk.NewLocalReaderTrack(io.NopCloser(bytes.NewReader(shortIVF(t, "vp8.ivf", 10))), webrtc.MimeTypeVP8,
			lksdk.ReaderTrackWithOnWriteComplete(func() {
				<-ready
				unpublished <- r.LocalParticipant.UnpublishTrack(pub.SID())
			}))
		require.NoError(t, err)
		pub, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "short"})
		require.NoError(t, err)
		close(ready)
		require.NoError(t, recv(t, unpublished, 15*time.Second, "UnpublishTrack inside OnWriteComplete"))
		within(t, lifecycleBound, "Disconnect", r.Disconnect)
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})

	t.Run("after the server removed the participant", func(t *testing.T) {
		noLeaks(t)
		r, room := connected(t, nil)
		rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
		_, err := rs.RemoveParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: room, Identity: "alice"})
		require.NoError(t, err)
		requireClosed(t, r, livekit.DisconnectReason_PARTICIPANT_REMOVED)
		within(t, lifecycleBound, "Disconnect", r.Disconnect)
		requireClosed(t, r, livekit.DisconnectReason_PARTICIPANT_REMOVED)
	})

	t.Run("during a reconnect", func(t *testing.T) {
		noLeaks(t)
		proxy, err := faultproxy.New("127.0.0.1:" + strconv.Itoa(srv.HTTPPort))
		require.NoError(t, err)
		defer proxy.Close()
		reconnecting := make(chan struct{}, 1)
		r, err := lksdk.ConnectToRoom(proxy.URL("ws"), info(srv, lktest.RoomName(t), "alice"),
			&lksdk.RoomCallback{OnReconnecting: func() { reconnecting <- struct{}{} }}, loopback(t)...)
		require.NoError(t, err)
		proxy.Refuse(true)
		proxy.Cut()
		recv(t, reconnecting, 20*time.Second, "OnReconnecting")
		require.NotEqual(t, lksdk.ConnectionStateConnected, r.ConnectionState())
		within(t, lifecycleBound, "Disconnect during a reconnect", r.Disconnect)
		requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
	})
}

func TestConnectParamsReconnectAndCallbackAreObeyed(t *testing.T) {
	srv := lktest.Start(t)
	noLeaks(t)
	reasons := make(chan lksdk.DisconnectReason, 1)
	reconnecting := make(chan struct{}, 1)
	r, err := lksdk.ConnectToRoom(srv.URL, info(srv, lktest.RoomName(t), "alice"), nil, append(loopback(t),
		func(p *lksdk.ConnectParams) {
			p.Reconnect = false
			p.Callback = &lksdk.RoomCallback{
				OnDisconnectedWithReason: func(reason lksdk.DisconnectReason) { reasons <- reason },
				OnReconnecting:           func() { reconnecting <- struct{}{} },
			}
		})...)
	require.NoError(t, err)
	r.Simulate(lksdk.SimulateSignalReconnect)
	require.Equal(t, livekit.DisconnectReason_SIGNAL_CLOSE.String(), recv(t, reasons, lifecycleBound, "the params' callback").String())
	requireClosed(t, r, livekit.DisconnectReason_SIGNAL_CLOSE)
	require.Empty(t, reconnecting, "no reconnect was tried")
}
