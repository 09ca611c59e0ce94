package lksdk_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// heapPeak samples the heap until stopped and returns the largest value
// seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// writeRandomFile writes size random bytes to a file in dir, a megabyte at
// a time, and returns its path and SHA-256.
func writeRandomFile(t *testing.T, dir string, size int) (string, [32]byte) {
	path := filepath.Join(dir, "big.bin")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(buf) {
		b := buf[:min(left, len(buf))]
		_, _ = rand.Read(b)
		h.Write(b)
		_, err := f.Write(b)
		require.NoError(t, err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return path, sum
}

// TestLargeFileWithBoundedMemory sends a 100 MB file from disk and receives
// it as a stream: neither side holds it. The heap, measured for both
// participants of this process, grows by less than maxHeapGrowth, a third
// of the file.
func TestLargeFileWithBoundedMemory(t *testing.T) {
	const size = 100 << 20
	const maxHeapGrowth = size / 3
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	path, want := writeRandomFile(t, t.TempDir(), size)

	results := make(chan byteResult, 1)
	require.NoError(t, bob.RegisterByteStreamHandler("files", hashingHandler(results, nil)))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop := heapPeak()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	info, err := alice.LocalParticipant.SendFileWithContext(ctx, path, lksdk.StreamBytesOptions{Topic: "files"})
	require.NoError(t, err)
	res := recv(t, results, 2*time.Minute, "the file")
	peak := stop()
	t.Logf("100 MB file in %s; heap %d MiB before, peak %d MiB", time.Since(start), base>>20, peak>>20)

	require.NoError(t, res.err)
	require.Equal(t, int64(size), res.n)
	require.Equal(t, want, res.sum, "file intact")
	require.Equal(t, "big.bin", *res.info.Name)
	require.Equal(t, info.Id, res.info.Id)
	require.Equal(t, "application/octet-stream", res.info.MimeType, ".bin has no mime type of its own")
	require.Less(t, peak-min(base, peak), uint64(maxHeapGrowth), "the heap grew by %d MiB for a %d MiB file", (peak-base)>>20, size>>20)
}

// TestStreamSentBeforeLeavingArrivesWhole leaves the room as soon as
// SendFile returns: the file must still arrive whole, since SendFile
// returns only once the stream has left the send buffer.
func TestStreamSentBeforeLeavingArrivesWhole(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	results := make(chan byteResult, 1)
	require.NoError(t, bob.RegisterByteStreamHandler("files", hashingHandler(results, nil)))
	const size = 3_000_000 // more than the data channel's send buffer holds
	path, want := writeRandomFile(t, t.TempDir(), size)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := alice.LocalParticipant.SendFileWithContext(ctx, path, lksdk.StreamBytesOptions{Topic: "files"})
	require.NoError(t, err)
	alice.Disconnect()
	res := recv(t, results, 20*time.Second, "the file")
	require.NoError(t, res.err)
	require.Equal(t, int64(size), res.n)
	require.Equal(t, want, res.sum)
}

// TestStreamEndsWhileOtherDataFlows ends a stream while another goroutine
// keeps the data channel's send buffer full: the stream's end must not
// wait for the buffer to be idle, only for its own data.
func TestStreamEndsWhileOtherDataFlows(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	got := make(chan string, 1)
	require.NoError(t, bob.RegisterTextStreamHandler("t", func(r *lksdk.TextStreamReader, _ string) { got <- r.ReadAll() }))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flood, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		payload := make([]byte, 60_000)
		for flood.Err() == nil {
			_ = alice.LocalParticipant.PublishDataPacket(flood, payload, lksdk.WithDataTopic("flood"))
		}
	}()
	defer func() { stopFlood(); wg.Wait() }()
	time.Sleep(300 * time.Millisecond) // the buffer fills

	_, err := alice.LocalParticipant.SendTextWithContext(ctx, "through the flood", lksdk.StreamTextOptions{Topic: "t"})
	require.NoError(t, err)
	require.Equal(t, "through the flood", recv(t, got, 20*time.Second, "the text"))
}
