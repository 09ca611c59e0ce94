package recorder

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// endedFiles collects what a RoomRecorder's OnRecordingEnded reports.
type endedFiles struct {
	mu    sync.Mutex
	files []*RecordedFile
	ch    chan *RecordedFile
}

func watchEnded(rr *RoomRecorder) *endedFiles {
	e := &endedFiles{ch: make(chan *RecordedFile, 64)}
	rr.OnRecordingEnded(func(f *RecordedFile) {
		e.mu.Lock()
		e.files = append(e.files, f)
		e.mu.Unlock()
		e.ch <- f
	})
	return e
}

func (e *endedFiles) wait(t *testing.T, n int) []*RecordedFile {
	t.Helper()
	var out []*RecordedFile
	for len(out) < n {
		select {
		case f := <-e.ch:
			out = append(out, f)
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d recordings reported ended in 20 s", len(out), n)
		}
	}
	return out
}

// startedFiles returns a channel of the recordings rr starts.
func startedFiles(rr *RoomRecorder) chan *RecordedFile {
	ch := make(chan *RecordedFile, 64)
	rr.OnRecordingStarted(func(f *RecordedFile) { ch <- f })
	return ch
}

func waitStarted(t *testing.T, ch chan *RecordedFile) *RecordedFile {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("no recording started in 20 s")
		return nil
	}
}

// rawTracks numbers the tracks publishRawOpus makes: each needs its own ID.
var rawTracks atomic.Int32

// publishRawOpus publishes an Opus track whose RTP the test writes itself.
func publishRawOpus(t *testing.T, p *lksdk.Room, name string) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	rawTracks.Add(1)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}, fmt.Sprintf("audio%d", rawTracks.Load()), fmt.Sprintf("stream%d", rawTracks.Load()))
	require.NoError(t, err)
	_, err = p.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: name})
	require.NoError(t, err)
	return track
}

// TestRoomRecorderOpusTimestampAttack has a publisher send 2-byte Opus
// packets whose RTP timestamps leap an hour each: the recording stays
// small, and the gaps are recorded as discontinuities (granule positions
// jump), not as hours of filler.
func TestRoomRecorderOpusTimestampAttack(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	dir := t.TempDir()
	rec, err := NewRoomRecorder(dir)
	require.NoError(t, err)
	started := startedFiles(rec)
	ended := watchEnded(rec)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)
	track := publishRawOpus(t, alice, "attack")
	f := waitStarted(t, started)

	const hour = 3600 * 48000
	payload := []byte{0xfc, 0xff} // CELT FB 20 ms stereo, one frame
	ts := uint32(12345)
	seq := uint16(100)
	write := func(n int, step uint32) {
		for i := 0; i < n; i++ {
			require.NoError(t, track.WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts},
				Payload: payload,
			}))
			seq++
			ts += step
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A few ordinary packets until the recording has some, then the attack.
	deadline := time.Now().Add(10 * time.Second)
	for f.Stats().FramesWritten == 0 {
		require.True(t, time.Now().Before(deadline), "no packet recorded in 10 s")
		write(5, 960)
	}
	before := f.Stats()
	write(20, hour)
	write(10, 960) // the last leap is followed by ordinary audio
	time.Sleep(time.Second)
	bob.Disconnect()
	require.NoError(t, rec.Close())
	ended.wait(t, 1)
	require.NoError(t, f.Failure())

	st := f.Stats()
	info, err := os.Stat(f.Path)
	require.NoError(t, err)
	t.Logf("%s: %d bytes, %d packets written, %d discontinuities, %s of media time",
		filepath.Base(f.Path), info.Size(), st.FramesWritten, st.Discontinuities, st.Duration)
	require.Less(t, info.Size(), int64(1<<20), "20 leaps of an hour grew the file past 1 MB")
	require.GreaterOrEqual(t, st.FramesWritten-before.FramesWritten, 25, "the attack's packets were recorded")
	require.GreaterOrEqual(t, st.Discontinuities, 15, "the leaps were recorded as discontinuities")

	// In the file: the packets add up to seconds, the granule positions
	// to the hours the timestamps leapt.
	data, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	o := readOggOut(t, data)
	var samples uint64
	for _, p := range o.packets {
		samples += uint64(opusPacketSamples(p))
	}
	last := o.granules[len(o.granules)-1]
	t.Logf("packets: %.1f s of audio; last granule position: %.1f h", float64(samples)/48000, float64(last)/hour)
	require.Less(t, samples, uint64(60*48000), "no hours of filler")
	require.Greater(t, last, uint64(15*hour), "the granule positions jump by the gaps")
}

// TestRoomRecorderLongAndOddTrackNames records tracks whose names are too
// long for a file name, differ only past the cut, or try to leave the
// directory: each is recorded, inside the directory, under its own short
// name.
func TestRoomRecorderLongAndOddTrackNames(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	dir := t.TempDir()
	rec, err := NewRoomRecorder(dir)
	require.NoError(t, err)
	started := startedFiles(rec)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)

	long := strings.Repeat("microphone-", 27) // 297 characters
	names := []string{long + "one", long + "two", "../../escape/..", "ünïcödé 名前"}
	tracks := map[string]*webrtc.TrackLocalStaticRTP{}
	for _, name := range names {
		tracks[name] = publishRawOpus(t, alice, name)
	}
	byName := map[string]*RecordedFile{}
	for range names {
		f := waitStarted(t, started)
		byName[f.TrackName] = f
	}
	// Some audio on each.
	for i := 0; i < 25; i++ {
		for _, name := range names {
			require.NoError(t, tracks[name].WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
				Payload: []byte{0xfc, 0xff, 0x01},
			}))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	bob.Disconnect()
	require.NoError(t, rec.Close())

	paths := map[string]bool{}
	for _, name := range names {
		f := byName[name]
		require.NotNil(t, f, "track %q not recorded", name)
		require.NoError(t, f.Failure(), name)
		base := filepath.Base(f.Path)
		t.Logf("%q (%d bytes) -> %s (%d bytes), %d packets", name[:min(len(name), 24)], len(name), base, len(base), f.Stats().FramesWritten)
		require.Equal(t, dir, filepath.Dir(f.Path), "recorded outside the directory")
		require.LessOrEqual(t, len(base), 200)
		require.True(t, strings.HasPrefix(base, "alice_"), base)
		require.False(t, paths[f.Path], "two tracks share %s", f.Path)
		paths[f.Path] = true
		require.Greater(t, f.Stats().FramesWritten, 0, name)
		_, err := os.Stat(f.Path)
		require.NoError(t, err)
	}
}

// TestRoomRecorderFileLimits bounds a room recorder to one file of at
// most 4 kB: the second track is refused, the first stops at the bound,
// and both are reported with ErrLimitReached through Failure and the
// callback, while Failure is read concurrently (for the race detector).
func TestRoomRecorderFileLimits(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	dir := t.TempDir()
	const maxBytes = 4000
	rec, err := NewRoomRecorder(dir, WithMaxFiles(1), WithMaxFileBytes(maxBytes))
	require.NoError(t, err)
	started := startedFiles(rec)
	ended := watchEnded(rec)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)

	first := publishRawOpus(t, alice, "first")
	f := waitStarted(t, started)
	_ = publishRawOpus(t, alice, "second")
	refused := ended.wait(t, 1)[0]
	require.ErrorIs(t, refused.Failure(), ErrLimitReached)
	require.Equal(t, "second", refused.TrackName)
	require.Empty(t, refused.Path)

	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() { // reads while the recording writes
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			default:
				_ = f.Failure()
				_ = rec.Stats()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	payload := make([]byte, 200)
	payload[0] = 0xfc
	for i := 0; i < 200 && f.Failure() == nil; i++ {
		require.NoError(t, first.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
			Payload: payload,
		}))
		time.Sleep(5 * time.Millisecond)
	}
	end := ended.wait(t, 1)[0]
	close(stop)
	<-polled
	require.Same(t, f, end)
	require.ErrorIs(t, f.Failure(), ErrLimitReached)
	info, err := os.Stat(f.Path)
	require.NoError(t, err)
	t.Logf("%s stopped at %d bytes (bound %d): %v", filepath.Base(f.Path), info.Size(), maxBytes, f.Failure())
	require.LessOrEqual(t, info.Size(), int64(maxBytes+oggPageHeaderSize), "the file passed its bound")
	data, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	o := readOggOut(t, data) // finished and valid
	require.True(t, o.eos)
	require.NotEmpty(t, o.packets)

	st := rec.Stats()
	require.Equal(t, RoomStats{Files: 1, Refused: 1, Failed: 2}, st)
	bob.Disconnect()
	require.NoError(t, rec.Close())
	require.Len(t, rec.Files(), 1)
}

// TestRoomRecorderReportsCreateFailures removes the recording directory:
// the track cannot be recorded, and that is reported.
func TestRoomRecorderReportsCreateFailures(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	dir := filepath.Join(t.TempDir(), "gone")
	rec, err := NewRoomRecorder(dir)
	require.NoError(t, err)
	require.NoError(t, os.Remove(dir))
	ended := watchEnded(rec)
	bob := joinRoom(t, srv, room, "bob", rec.Callback())
	alice := joinRoom(t, srv, room, "alice", nil)
	_ = publishRawOpus(t, alice, "mic")
	f := ended.wait(t, 1)[0]
	t.Logf("reported: %v", f.Failure())
	require.ErrorIs(t, f.Failure(), os.ErrNotExist)
	require.Empty(t, f.Path)
	require.Equal(t, []*RecordedFile{f}, rec.Files())
	require.Equal(t, RoomStats{Files: 1, Failed: 1}, rec.Stats())
	bob.Disconnect()
	require.NoError(t, rec.Close())
}
