package lksdk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

// progressLog records progress values, checking they never go back.
type progressLog struct {
	mu     sync.Mutex
	values []float64
}

func (p *progressLog) add(v float64) {
	p.mu.Lock()
	p.values = append(p.values, v)
	p.mu.Unlock()
}

func (p *progressLog) check(t *testing.T, what string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotEmpty(t, p.values, "%s: no progress reported", what)
	for i := 1; i < len(p.values); i++ {
		require.GreaterOrEqual(t, p.values[i], p.values[i-1], "%s: progress went back", what)
	}
	require.InDelta(t, 1.0, p.values[len(p.values)-1], 1e-9, "%s: progress ends at 1", what)
}

type textResult struct {
	info   lksdk.TextStreamInfo
	sender string
	text   string
	err    error
}

func TestTextStreamArrivesIntact(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)

	results := make(chan textResult, 2)
	var recvProgress progressLog
	require.NoError(t, bob.RegisterTextStreamHandler("notes", func(r *lksdk.TextStreamReader, from string) {
		r.OnProgress(recvProgress.add)
		text, err := r.ReadAllContext(context.Background())
		results <- textResult{info: r.Info, sender: from, text: text, err: err}
	}))
	require.Error(t, bob.RegisterTextStreamHandler("notes", func(*lksdk.TextStreamReader, string) {}), "one handler a topic")

	// 100 KB of text with characters of 1 to 4 bytes, so that chunk cuts
	// fall inside characters unless they are moved.
	var sb strings.Builder
	for sb.Len() < 100_000 {
		sb.WriteString("ascii é 日本語 🎉 ")
	}
	text := sb.String()
	var sendProgress progressLog
	onProgress := sendProgress.add
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := alice.LocalParticipant.SendTextWithContext(ctx, text, lksdk.StreamTextOptions{
		Topic: "notes", Attributes: map[string]string{"lang": "mixed", "n": "1"}, OnProgress: &onProgress,
	})
	require.NoError(t, err)
	sendProgress.check(t, "sender")

	res := recv(t, results, 20*time.Second, "the text stream")
	require.NoError(t, res.err)
	require.Equal(t, sha256.Sum256([]byte(text)), sha256.Sum256([]byte(res.text)), "text intact")
	require.Equal(t, "alice", res.sender)
	require.Equal(t, info.Id, res.info.Id)
	require.Equal(t, "notes", res.info.Topic)
	require.Equal(t, "text/plain", res.info.MimeType)
	require.Equal(t, map[string]string{"lang": "mixed", "n": "1"}, res.info.Attributes)
	require.NotNil(t, res.info.Size)
	require.Equal(t, uint64(len(text)), *res.info.Size)
	require.InDelta(t, time.Now().UnixMilli(), res.info.Timestamp, 60_000)
	recvProgress.check(t, "receiver")

	// A stream written piece by piece, its size unknown, read word by word.
	words := make(chan []string, 1)
	require.NoError(t, bob.RegisterTextStreamHandler("words", func(r *lksdk.TextStreamReader, _ string) {
		var got []string
		for {
			w, err := r.ReadString(' ')
			if w != "" {
				got = append(got, w)
			}
			if err != nil {
				if err != io.EOF || r.Info.Size != nil {
					got = append(got, "unexpected: "+err.Error())
				}
				words <- got
				return
			}
		}
	}))
	tw, err := alice.LocalParticipant.StreamTextWithContext(ctx, lksdk.StreamTextOptions{Topic: "words"})
	require.NoError(t, err)
	for _, w := range []string{"one ", "two ", "three"} {
		require.NoError(t, tw.WriteContext(ctx, w))
	}
	require.NoError(t, tw.CloseContext(ctx))
	require.Equal(t, []string{"one ", "two ", "three"}, recv(t, words, 10*time.Second, "the words"))
}

type byteResult struct {
	info lksdk.ByteStreamInfo
	sum  [32]byte
	n    int64
	err  error
}

// hashingHandler streams each byte stream into SHA-256, holding none of it.
func hashingHandler(results chan<- byteResult, progress *progressLog) lksdk.ByteStreamHandler {
	return func(r *lksdk.ByteStreamReader, _ string) {
		if progress != nil {
			r.OnProgress(progress.add)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		var res byteResult
		res.info, res.n, res.err = r.Info, n, err
		copy(res.sum[:], h.Sum(nil))
		results <- res
	}
}

func TestByteStreamArrivesIntact(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	carol := join(t, srv, room, "carol", nil)
	alice := join(t, srv, room, "alice", nil)
	results := make(chan byteResult, 1)
	var progress progressLog
	require.NoError(t, bob.RegisterByteStreamHandler("blobs", hashingHandler(results, &progress)))
	carolGot := make(chan byteResult, 1)
	require.NoError(t, carol.RegisterByteStreamHandler("blobs", hashingHandler(carolGot, nil)))

	data := make([]byte, 5<<20)
	_, _ = rand.Read(data)
	size := uint64(len(data))
	name := "blob.bin"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{
		Topic: "blobs", MimeType: "application/x-test", TotalSize: &size, FileName: &name,
		Attributes: map[string]string{"kind": "random"}, DestinationIdentities: []string{"bob"},
	})
	require.NoError(t, err)
	// Writes of odd sizes: the receiver sees one stream whatever the cuts.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 100_003)
		require.NoError(t, bw.WriteContext(ctx, rest[:n]))
		rest = rest[n:]
	}
	require.NoError(t, bw.CloseContext(ctx))

	res := recv(t, results, time.Minute, "the byte stream")
	t.Logf("5 MB byte stream in %s", time.Since(start))
	require.NoError(t, res.err)
	require.Equal(t, int64(len(data)), res.n)
	require.Equal(t, sha256.Sum256(data), res.sum, "bytes intact")
	require.Equal(t, "blobs", res.info.Topic)
	require.Equal(t, "application/x-test", res.info.MimeType)
	require.Equal(t, map[string]string{"kind": "random"}, res.info.Attributes)
	require.Equal(t, size, *res.info.Size)
	require.Equal(t, name, *res.info.Name)
	progress.check(t, "receiver")

	// Sent to bob only: carol, with a handler for the topic, got nothing.
	_, err = alice.LocalParticipant.SendTextWithContext(ctx, "sync", lksdk.StreamTextOptions{Topic: "sync", DestinationIdentities: []string{"carol"}})
	require.NoError(t, err)
	eventually(t, 10*time.Second, func() bool { return carol.DataStreamStats().DroppedNoHandler == 1 }, "carol's later stream")
	require.Zero(t, carol.DataStreamStats().Received)
	require.Empty(t, carolGot)
}

func TestStreamWithoutHandlerIsDropped(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := alice.LocalParticipant.SendTextWithContext(ctx, strings.Repeat("unheard ", 5000), lksdk.StreamTextOptions{Topic: "nobody-listens"})
	require.NoError(t, err)
	eventually(t, 10*time.Second, func() bool { return bob.DataStreamStats().DroppedNoHandler == 1 }, "the stream to be dropped")

	// A text handler does not take byte streams of its topic.
	got := make(chan string, 2)
	require.NoError(t, bob.RegisterTextStreamHandler("nobody-listens", func(r *lksdk.TextStreamReader, _ string) { got <- r.ReadAll() }))
	_, err = alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "nobody-listens"})
	require.NoError(t, err)
	_, err = alice.LocalParticipant.SendTextWithContext(ctx, "heard", lksdk.StreamTextOptions{Topic: "nobody-listens"})
	require.NoError(t, err)
	require.Equal(t, "heard", recv(t, got, 10*time.Second, "the second stream"))
	st := bob.DataStreamStats()
	require.Equal(t, uint64(2), st.DroppedNoHandler)
	require.Equal(t, uint64(1), st.Received)

	// Unregistered: dropped again.
	bob.UnregisterTextStreamHandler("nobody-listens")
	_, err = alice.LocalParticipant.SendTextWithContext(ctx, "unheard", lksdk.StreamTextOptions{Topic: "nobody-listens"})
	require.NoError(t, err)
	eventually(t, 10*time.Second, func() bool { return bob.DataStreamStats().DroppedNoHandler == 3 }, "the third stream to be dropped")
}

func TestStreamEndsWithErrors(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make(chan byteResult, 4)
	require.NoError(t, bob.RegisterByteStreamHandler("bytes", hashingHandler(results, nil)))

	t.Run("aborted by its sender", func(t *testing.T) {
		bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "bytes"})
		require.NoError(t, err)
		require.NoError(t, bw.WriteContext(ctx, []byte("partial")))
		require.NoError(t, bw.Abort(ctx, "user cancelled"))
		res := recv(t, results, 10*time.Second, "the stream's end")
		require.ErrorIs(t, res.err, lksdk.ErrStreamAborted)
		require.ErrorContains(t, res.err, "user cancelled")
		require.Equal(t, int64(len("partial")), res.n, "what came is read first")
	})
	t.Run("shorter than declared", func(t *testing.T) {
		size := uint64(1000)
		bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "bytes", TotalSize: &size})
		require.NoError(t, err)
		require.NoError(t, bw.WriteContext(ctx, make([]byte, 10)))
		require.NoError(t, bw.CloseContext(ctx))
		require.ErrorIs(t, recv(t, results, 10*time.Second, "the stream's end").err, lksdk.ErrStreamIncomplete)
	})
	t.Run("longer than declared", func(t *testing.T) {
		size := uint64(10)
		bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "bytes", TotalSize: &size})
		require.NoError(t, err)
		require.NoError(t, bw.WriteContext(ctx, make([]byte, 11)))
		require.NoError(t, bw.CloseContext(ctx))
		require.ErrorIs(t, recv(t, results, 10*time.Second, "the stream's end").err, lksdk.ErrStreamTooLong)
	})
	t.Run("sender leaves", func(t *testing.T) {
		bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "bytes"})
		require.NoError(t, err)
		require.NoError(t, bw.WriteContext(ctx, []byte("before leaving")))
		eventually(t, 10*time.Second, func() bool { return bob.DataStreamStats().Received == 4 }, "the stream to start")
		alice.Disconnect()
		res := recv(t, results, 15*time.Second, "the stream's end")
		require.ErrorIs(t, res.err, lksdk.ErrStreamSenderLeft)
	})
}

func TestSlowStreamReaderIsBounded(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	bob := join(t, srv, room, "bob", nil)
	alice := join(t, srv, room, "alice", nil)
	const limit = 100_000
	bob.SetDataStreamBufferLimit(limit)
	start := make(chan struct{})
	results := make(chan byteResult, 1)
	handler := hashingHandler(results, nil)
	require.NoError(t, bob.RegisterByteStreamHandler("slow", func(r *lksdk.ByteStreamReader, from string) {
		<-start // read nothing until the whole stream was sent
		handler(r, from)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB, ten times the buffer
	bw, err := alice.LocalParticipant.StreamBytesWithContext(ctx, lksdk.StreamBytesOptions{Topic: "slow"})
	require.NoError(t, err)
	require.NoError(t, bw.WriteContext(ctx, data), "the sender is never held up by a slow reader")
	require.NoError(t, bw.CloseContext(ctx))
	eventually(t, 10*time.Second, func() bool { return bob.DataStreamStats().BufferFull == 1 }, "the buffer to fill")
	close(start)
	res := recv(t, results, 10*time.Second, "the reader's end")
	require.ErrorIs(t, res.err, lksdk.ErrStreamBufferFull)
	require.LessOrEqual(t, res.n, int64(limit), "no more than the buffer was kept")
	require.Greater(t, res.n, int64(limit-lksdk.StreamChunkSize), "what was buffered is read")
}
