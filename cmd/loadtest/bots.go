package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// fleet is every bot of a run and what they counted.
type fleet struct {
	cfg     config
	connect latencies
	keys    *e2ee.ExternalKeyProvider // -e2ee: the publishers' key; nil: clear

	mu      sync.Mutex
	rooms   []*lksdk.Room
	subs    []*subscriber
	readers sync.WaitGroup // one per subscribed track

	published  atomic.Int64 // tracks published
	subscribed atomic.Int64 // tracks subscribed
	// allSubscribed is closed when subscribed reaches expectedSubscriptions.
	allSubscribed chan struct{}
	failed        atomic.Int64 // bots that could not connect or publish
	firstErr      atomic.Value // error
}

// subscriber is one subscribing bot's streams.
type subscriber struct {
	mu      sync.Mutex
	streams []*streamStats
}

func (s *subscriber) snapshot() []*streamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*streamStats(nil), s.streams...)
}

func (f *fleet) fail(err error) {
	f.failed.Add(1)
	f.firstErr.CompareAndSwap(nil, err)
}

// start connects every bot at once and returns when all have connected (or
// failed) and the publishers have published.
func (f *fleet) start(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < f.cfg.subscribers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.startSubscriber(ctx, i)
		}()
	}
	for i := 0; i < f.cfg.publishers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.startPublisher(ctx, i)
		}()
	}
	wg.Wait()
}

func (f *fleet) roomName(i int) string { return fmt.Sprintf("%s-%d", f.cfg.roomPrefix, i%f.cfg.rooms) }

func (f *fleet) join(ctx context.Context, identity string, i int, cb *lksdk.RoomCallback) (*lksdk.Room, error) {
	room := lksdk.CreateRoom(cb)
	begin := time.Now()
	err := room.JoinWithContext(ctx, f.cfg.url, lksdk.ConnectInfo{
		APIKey: f.cfg.key, APISecret: f.cfg.secret,
		RoomName: f.roomName(i), ParticipantIdentity: identity,
	}, f.cfg.connectOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", identity, err)
	}
	f.connect.add(time.Since(begin))
	f.mu.Lock()
	f.rooms = append(f.rooms, room)
	f.mu.Unlock()
	return room, nil
}

func (f *fleet) startPublisher(ctx context.Context, i int) {
	identity := fmt.Sprintf("pub-%d", i)
	room, err := f.join(ctx, identity, i, nil)
	if err != nil {
		f.fail(err)
		return
	}
	for _, file := range []string{f.cfg.video, f.cfg.audio} {
		if file == "" {
			continue
		}
		opts := []lksdk.ReaderSampleProviderOption{lksdk.ReaderTrackWithLoop(true)}
		pubOpts := &lksdk.TrackPublicationOptions{Name: filepath.Base(file)}
		if f.keys != nil {
			enc, err := e2ee.NewTrackEncryptor(f.keys, identity, mimeOfFile(file))
			if err != nil {
				f.fail(fmt.Errorf("%s: %s: %w", identity, file, err))
				return
			}
			opts = append(opts, lksdk.ReaderTrackWithSampleTrackOptions(lksdk.WithFrameTransformer(enc)))
			pubOpts.Encryption = livekit.Encryption_GCM
		}
		track, err := lksdk.NewLocalFileTrack(file, opts...)
		if err != nil {
			f.fail(fmt.Errorf("%s: %s: %w", identity, file, err))
			return
		}
		if _, err := room.LocalParticipant.PublishTrackWithContext(ctx, track, pubOpts); err != nil {
			f.fail(fmt.Errorf("%s: publishing %s: %w", identity, file, err))
			return
		}
		f.published.Add(1)
	}
}

func (f *fleet) startSubscriber(ctx context.Context, i int) {
	sub := &subscriber{}
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			st := &streamStats{video: track.Kind() == webrtc.RTPCodecTypeVideo}
			sub.mu.Lock()
			sub.streams = append(sub.streams, st)
			sub.mu.Unlock()
			if f.subscribed.Add(1) == f.expectedSubscriptions() {
				close(f.allSubscribed)
			}
			f.readers.Add(1)
			go func() {
				defer f.readers.Done()
				buf := make([]byte, 1500)
				for {
					n, _, err := track.Read(buf)
					if err != nil {
						return // the track ends when the room is left
					}
					st.addRTP(buf[:n])
				}
			}()
		},
	}}
	if _, err := f.join(ctx, fmt.Sprintf("sub-%d", i), i, cb); err != nil {
		f.fail(err)
		return
	}
	f.mu.Lock()
	f.subs = append(f.subs, sub)
	f.mu.Unlock()
}

// streams returns every subscribed stream so far.
func (f *fleet) streams() []*streamStats {
	f.mu.Lock()
	subs := append([]*subscriber(nil), f.subs...)
	f.mu.Unlock()
	var all []*streamStats
	for _, s := range subs {
		all = append(all, s.snapshot()...)
	}
	return all
}

// videoFramesPerSubscriber returns each subscriber's video frame count.
func (f *fleet) videoFramesPerSubscriber() []int64 {
	f.mu.Lock()
	subs := append([]*subscriber(nil), f.subs...)
	f.mu.Unlock()
	out := make([]int64, len(subs))
	for i, s := range subs {
		for _, st := range s.snapshot() {
			if st.video {
				out[i] += st.frames.Load()
			}
		}
	}
	return out
}

// stop disconnects every bot and waits for the track readers to end.
func (f *fleet) stop() {
	f.mu.Lock()
	rooms := f.rooms
	f.rooms = nil
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Disconnect()
		}()
	}
	wg.Wait()
	f.readers.Wait()
}

// expectedSubscriptions is how many tracks the subscribers will subscribe
// to: each subscriber gets every track of the publishers in its room.
func (f *fleet) expectedSubscriptions() int64 {
	perPublisher := int64(0)
	for _, file := range []string{f.cfg.video, f.cfg.audio} {
		if file != "" {
			perPublisher++
		}
	}
	var n int64
	for s := 0; s < f.cfg.subscribers; s++ {
		for p := 0; p < f.cfg.publishers; p++ {
			if s%f.cfg.rooms == p%f.cfg.rooms {
				n += perPublisher
			}
		}
	}
	return n
}

// waitSubscribed waits until every expected subscription has happened.
func (f *fleet) waitSubscribed(ctx context.Context, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-f.allSubscribed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%d of %d tracks subscribed after %v", f.subscribed.Load(), f.expectedSubscriptions(), timeout)
	}
}

// mimeOfFile is the codec of a media file the bots publish, by its name.
func mimeOfFile(file string) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".ogg":
		return webrtc.MimeTypeOpus
	case ".h264", ".264":
		return webrtc.MimeTypeH264
	}
	return webrtc.MimeTypeVP8
}
