package lksdk_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func TestLeaveWhenTheFileEnds(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	noLeaks(t)
	left := newDepartures()
	join(t, srv, room, "bob", left.callback())
	a, err := lksdk.ConnectToRoom(srv.URL, info(srv, room, "alice"), nil, loopback(t)...)
	require.NoError(t, err)

	ended := make(chan time.Time, 1)
	returned := make(chan struct{})
	ready := make(chan struct{})
	track, err := lksdk.NewLocalReaderTrack(io.NopCloser(bytes.NewReader(shortIVF(t, "vp8.ivf", 30))), webrtc.MimeTypeVP8,
		lksdk.ReaderTrackWithOnWriteComplete(func() {
			<-ready
			ended <- time.Now()
			a.Disconnect()
			close(returned)
		}))
	require.NoError(t, err)
	_, err = a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "file"})
	require.NoError(t, err)
	close(ready)

	end := recv(t, ended, 20*time.Second, "the end of the file")
	recv(t, returned, lifecycleBound, "Disconnect inside OnWriteComplete to return")
	seen := recv(t, left.ch("alice"), 15*time.Second, "bob to see alice leave")
	t.Logf("bob saw alice leave %s after the file ended", seen.at.Sub(end).Round(time.Millisecond))
	require.Equal(t, livekit.DisconnectReason_CLIENT_INITIATED.String(), seen.reason.String(), "alice told the server she left")
	requireClosed(t, a, livekit.DisconnectReason_CLIENT_INITIATED)
}

// blockingProvider's NextSample blocks: until Close (closes), until its
// context ends (context), or until the test releases it (stubborn).
type blockingProvider struct {
	lksdk.BaseSampleProvider
	mode     string
	blockNow chan struct{} // until closed, NextSample returns frames
	entered  chan struct{}
	closed   chan struct{}
	release  chan struct{}
	once     sync.Once
	closeOne sync.Once
}

func newBlockingProvider(mode string) *blockingProvider {
	p := &blockingProvider{mode: mode, blockNow: make(chan struct{}), entered: make(chan struct{}), closed: make(chan struct{}), release: make(chan struct{})}
	close(p.blockNow)
	return p
}

func (p *blockingProvider) block(ctx context.Context) (media.Sample, error) {
	select {
	case <-p.blockNow:
	default:
		return media.Sample{Data: vp8Frame, Duration: 33 * time.Millisecond}, nil
	}
	p.once.Do(func() { close(p.entered) })
	switch p.mode {
	case "closes":
		select {
		case <-p.closed:
		case <-p.release:
		}
	case "context":
		select {
		case <-ctx.Done():
		case <-p.release:
		}
	default:
		<-p.release
	}
	return media.Sample{}, io.EOF
}

func (p *blockingProvider) NextSample() (media.Sample, error) { return p.block(context.Background()) }

func (p *blockingProvider) Close() error {
	p.closeOne.Do(func() { close(p.closed) })
	if p.mode == "slow close" {
		<-p.release
	}
	return nil
}

// contextProvider is a blockingProvider that takes a context.
type contextProvider struct{ *blockingProvider }

func (p contextProvider) NextSampleWithContext(ctx context.Context) (media.Sample, error) {
	return p.block(ctx)
}

func publishBlocking(t *testing.T, r *lksdk.Room, p *blockingProvider) *lksdk.LocalTrackPublication {
	t.Helper()
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8})
	require.NoError(t, err)
	pub, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "blocking"})
	require.NoError(t, err)
	var sp lksdk.SampleProvider = p
	if p.mode == "context" {
		sp = contextProvider{p}
	}
	require.NoError(t, track.StartWrite(sp, nil))
	recv(t, p.entered, 10*time.Second, "NextSample to be called")
	return pub
}

func TestBlockingProviderDoesNotHoldUpTheRoom(t *testing.T) {
	srv := lktest.Start(t)
	for _, mode := range []string{"closes", "context"} {
		t.Run("UnpublishTrack, provider that "+mode, func(t *testing.T) {
			noLeaks(t)
			r, err := lksdk.ConnectToRoom(srv.URL, info(srv, lktest.RoomName(t), "alice"), nil, loopback(t)...)
			require.NoError(t, err)
			defer r.Disconnect()
			pub := publishBlocking(t, r, newBlockingProvider(mode))
			within(t, lifecycleBound, "UnpublishTrack", func() { require.NoError(t, r.LocalParticipant.UnpublishTrack(pub.SID())) })
			within(t, lifecycleBound, "Disconnect", r.Disconnect)
		})
		t.Run("Disconnect, provider that "+mode, func(t *testing.T) {
			noLeaks(t)
			r, err := lksdk.ConnectToRoom(srv.URL, info(srv, lktest.RoomName(t), "alice"), nil, loopback(t)...)
			require.NoError(t, err)
			publishBlocking(t, r, newBlockingProvider(mode))
			within(t, lifecycleBound, "Disconnect", r.Disconnect)
			requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
		})
	}
	t.Run("provider that ignores Close and its context", func(t *testing.T) {
		noLeaks(t)
		p := newBlockingProvider("stubborn")
		t.Cleanup(func() { close(p.release) }) // before the leak check
		r, err := lksdk.ConnectToRoom(srv.URL, info(srv, lktest.RoomName(t), "alice"), nil, loopback(t)...)
		require.NoError(t, err)
		pub := publishBlocking(t, r, p)
		within(t, lifecycleBound, "UnpublishTrack", func() { require.NoError(t, r.LocalParticipant.UnpublishTrack(pub.SID())) })
		within(t, lifecycleBound, "Disconnect", r.Disconnect)
	})
}

func TestServerUnpublishOfABlockedTrackDoesNotHoldUpSignalling(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	noLeaks(t)
	subscribed := make(chan struct{}, 1)
	join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(*webrtc.TrackRemote, *lksdk.RemoteTrackPublication, *lksdk.RemoteParticipant) {
			subscribed <- struct{}{}
		},
	}})
	metadata := make(chan string, 4)
	r, err := lksdk.ConnectToRoom(srv.URL, info(srv, room, "alice"),
		&lksdk.RoomCallback{OnRoomMetadataChanged: func(md string) { metadata <- md }}, loopback(t)...)
	require.NoError(t, err)
	p := newBlockingProvider("slow close") // its Close blocks too
	p.blockNow = make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(p.release)
		}
	}
	t.Cleanup(release)
	go func() {
		recv(t, subscribed, 10*time.Second, "bob to subscribe to the track")
		close(p.blockNow) // the server knows the track: block from now on
	}()
	publishBlocking(t, r, p)

	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	_, err = rs.UpdateParticipant(context.Background(), &livekit.UpdateParticipantRequest{Room: room, Identity: "alice",
		Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublishData: true}})
	require.NoError(t, err)
	recv(t, p.closed, 10*time.Second, "the server's unpublish to close the provider")

	// The unpublish now waits for the provider; the room goes on handling
	// what the server sends.
	_, err = rs.UpdateRoomMetadata(context.Background(), &livekit.UpdateRoomMetadataRequest{Room: room, Metadata: "while blocked"})
	require.NoError(t, err)
	require.Equal(t, "while blocked", recv(t, metadata, 10*time.Second, "the metadata update while the unpublish waits"))
	require.Empty(t, r.LocalParticipant.TrackPublications(), "the track is unpublished")

	release()
	within(t, lifecycleBound, "Disconnect", r.Disconnect)
	requireClosed(t, r, livekit.DisconnectReason_CLIENT_INITIATED)
}
