package lksdk

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func testStreamState(limit int) *streamState {
	s := newStreamState()
	s.bufferLimit = limit
	s.leftGrace = 50 * time.Millisecond
	s.byteHandlers["t"] = func(*ByteStreamReader, string) {}
	s.textHandlers["t"] = func(*TextStreamReader, string) {}
	return s
}

func byteHeader(id string, total *uint64) *livekit.DataStream_Header {
	return &livekit.DataStream_Header{StreamId: id, Topic: "t", TotalLength: total,
		ContentHeader: &livekit.DataStream_Header_ByteHeader{ByteHeader: &livekit.DataStream_ByteHeader{}}}
}

func chunk(id string, index uint64, content string) *livekit.DataStream_Chunk {
	return &livekit.DataStream_Chunk{StreamId: id, ChunkIndex: index, Content: []byte(content)}
}

func readAllNow(t *testing.T, st *incomingStream) (string, error) {
	t.Helper()
	b, err := st.readAll(context.Background())
	return string(b), err
}

func TestStreamReassembly(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	t.Run("in order, repeats ignored", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, ok := s.openStream("a", byteHeader("1", u(6)))
		require.True(t, ok)
		s.chunk("a", chunk("1", 0, "abc"))
		s.chunk("a", chunk("1", 0, "abc"))
		s.chunk("b", chunk("1", 1, "zzz")) // another sender's packet for the id
		s.chunk("a", chunk("1", 1, "def"))
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "1"})
		got, err := readAllNow(t, st)
		require.NoError(t, err)
		require.Equal(t, "abcdef", got)
		require.Empty(t, s.open, "an ended stream is forgotten")
	})
	t.Run("trailer attributes update the header's", func(t *testing.T) {
		s := testStreamState(1 << 20)
		h := byteHeader("1", nil)
		h.Attributes = map[string]string{"a": "1", "b": "2"}
		_, _, st, _ := s.openStream("a", h)
		r := newStreamReader(st, h.Attributes)
		require.Equal(t, map[string]string{"a": "1", "b": "2"}, r.FinalAttributes())
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "1", Attributes: map[string]string{"b": "3", "c": "4"}})
		require.Equal(t, map[string]string{"a": "1", "b": "3", "c": "4"}, r.FinalAttributes())
	})
	t.Run("missing chunk", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, _ := s.openStream("a", byteHeader("1", nil))
		s.chunk("a", chunk("1", 0, "abc"))
		s.chunk("a", chunk("1", 2, "ghi"))
		got, err := readAllNow(t, st)
		require.ErrorIs(t, err, ErrStreamMalformed)
		require.Equal(t, "abc", got)
		require.Empty(t, s.open)
	})
	t.Run("chunks without a header", func(t *testing.T) {
		s := testStreamState(1 << 20)
		s.chunk("a", chunk("nope", 0, "abc"))
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "nope"})
		require.Empty(t, s.open)
	})
	t.Run("huge declared length allocates nothing for it", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, _ := s.openStream("a", byteHeader("1", u(1<<62)))
		s.chunk("a", chunk("1", 0, "abc"))
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "1"})
		got, err := readAllNow(t, st)
		require.ErrorIs(t, err, ErrStreamIncomplete)
		require.Equal(t, "abc", got)
	})
	t.Run("longer than declared", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, _ := s.openStream("a", byteHeader("1", u(2)))
		s.chunk("a", chunk("1", 0, "abc"))
		_, err := readAllNow(t, st)
		require.ErrorIs(t, err, ErrStreamTooLong)
	})
	t.Run("buffer limit", func(t *testing.T) {
		s := testStreamState(StreamChunkSize)
		_, _, st, _ := s.openStream("a", byteHeader("1", nil))
		s.chunk("a", &livekit.DataStream_Chunk{StreamId: "1", ChunkIndex: 0, Content: make([]byte, StreamChunkSize)})
		s.chunk("a", chunk("1", 1, "x"))
		s.chunk("a", chunk("1", 2, "y"))
		got, err := readAllNow(t, st)
		require.ErrorIs(t, err, ErrStreamBufferFull)
		require.Len(t, got, StreamChunkSize)
		require.Equal(t, uint64(1), s.stats.bufferFull.Load())
	})
	t.Run("bad headers are dropped", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, _, ok := s.openStream("a", &livekit.DataStream_Header{StreamId: "1", Topic: "t"})
		require.False(t, ok, "no content header")
		_, _, _, ok = s.openStream("a", byteHeader("", nil))
		require.False(t, ok, "no id")
		h := byteHeader("2", nil)
		h.Topic = "other"
		_, _, _, ok = s.openStream("a", h)
		require.False(t, ok, "no handler")
		_, _, _, ok = s.openStream("a", byteHeader("3", nil))
		require.True(t, ok)
		_, _, _, ok = s.openStream("a", byteHeader("3", nil))
		require.False(t, ok, "a repeated header")
		require.Equal(t, uint64(1), s.stats.noHandler.Load())
		require.Equal(t, uint64(3), s.stats.malformed.Load())
	})
	t.Run("open streams are bounded", func(t *testing.T) {
		s := testStreamState(1 << 20)
		for i := 0; i < MaxIncomingStreams+5; i++ {
			s.openStream("a", byteHeader(string(rune('A'+i)), nil))
		}
		require.Len(t, s.open, MaxIncomingStreams)
		require.Equal(t, uint64(5), s.stats.tooMany.Load())
	})
	t.Run("what was sent before leaving still arrives", func(t *testing.T) {
		s := testStreamState(1 << 20)
		s.leftGrace = time.Hour // only the trailer can end it
		_, _, st, _ := s.openStream("a", byteHeader("1", u(6)))
		s.chunk("a", chunk("1", 0, "abc"))
		s.senderLeft("a")
		s.chunk("a", chunk("1", 1, "def"))
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "1"})
		got, err := readAllNow(t, st)
		require.NoError(t, err)
		require.Equal(t, "abcdef", got)
	})
	t.Run("sender leaves, room closes", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, a, _ := s.openStream("a", byteHeader("1", nil))
		_, _, b, _ := s.openStream("b", byteHeader("2", nil))
		s.senderLeft("a")
		_, err := readAllNow(t, a)
		require.ErrorIs(t, err, ErrStreamSenderLeft)
		s.closeAll()
		_, err = readAllNow(t, b)
		require.ErrorIs(t, err, ErrNotConnected)
		_, _, _, ok := s.openStream("a", byteHeader("3", nil))
		require.False(t, ok, "a closed room takes no streams")
	})
	t.Run("a declared length of 0 is no length", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, _ := s.openStream("a", byteHeader("1", u(0)))
		s.chunk("a", chunk("1", 0, "abc"))
		s.trailer("a", &livekit.DataStream_Trailer{StreamId: "1"})
		got, err := readAllNow(t, st)
		require.NoError(t, err)
		require.Equal(t, "abc", got)
	})
	t.Run("empty inline content is a complete, empty stream", func(t *testing.T) {
		s := testStreamState(1 << 20)
		h := byteHeader("1", nil)
		h.InlineContent = []byte{}
		_, _, st, ok := s.openStream("a", h)
		require.True(t, ok)
		got, err := readAllNow(t, st)
		require.NoError(t, err)
		require.Empty(t, got)
		require.Empty(t, s.open)
	})
	t.Run("inline content", func(t *testing.T) {
		s := testStreamState(1 << 20)
		h := byteHeader("1", nil)
		h.InlineContent = []byte("all of it")
		_, _, st, ok := s.openStream("a", h)
		require.True(t, ok)
		got, err := readAllNow(t, st)
		require.NoError(t, err)
		require.Equal(t, "all of it", got)
	})
	t.Run("read waits for data, bounded by its context", func(t *testing.T) {
		s := testStreamState(1 << 20)
		_, _, st, _ := s.openStream("a", byteHeader("1", nil))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := st.readContext(ctx, make([]byte, 10))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestUTF8Cut(t *testing.T) {
	b := []byte("aé日🎉")
	for n := 1; n <= len(b); n++ {
		c := utf8Cut(b, n)
		require.LessOrEqual(t, c, n)
		require.Greater(t, c, 0)
		require.True(t, c == len(b) || (b[c]&0xC0) != 0x80, "cut %d (from %d) inside a character", c, n)
	}
}

// FuzzStreamReassembly feeds random headers, chunks, trailers and leaves to
// the reassembly and reads what it gives: nothing may panic, no stream may
// buffer past its limit, and every stream must end when told.
func FuzzStreamReassembly(f *testing.F) {
	f.Add([]byte{0, 1, 5, 1, 1, 0, 3, 1, 1, 1, 3, 2, 1, 0})
	f.Add([]byte{1, 1, 0, 9, 0, 1, 255, 1, 1, 7, 200, 2, 1, 1})
	f.Add([]byte{0, 2, 0, 0, 2, 0, 1, 2, 1, 100, 3, 2, 4})
	f.Add([]byte{0, 1, 255, 1, 1, 0, 255, 1, 1, 1, 255, 1, 1, 2, 255, 4})
	const limit = 4 * StreamChunkSize
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := testStreamState(limit)
		streams := map[string]*incomingStream{}
		next := func() byte {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return b
		}
		for len(ops) > 0 {
			op, id := next()%6, string(rune('a'+next()%4))
			switch op {
			case 0: // header, maybe with a declared length
				var total *uint64
				if v := next(); v != 0 {
					t := uint64(v) << (next() % 64)
					total = &t
				}
				h := byteHeader(id, total)
				if next()%5 == 0 {
					h.InlineContent = make([]byte, int(next()))
				}
				if _, _, st, ok := s.openStream("p", h); ok {
					streams[id] = st
				}
			case 1: // chunk
				idx := uint64(next() % 8)
				size := int(next()) * 100
				s.chunk("p", &livekit.DataStream_Chunk{StreamId: id, ChunkIndex: idx, Content: make([]byte, size)})
			case 2: // trailer
				reason := ""
				if next()%3 == 0 {
					reason = "stop"
				}
				s.trailer("p", &livekit.DataStream_Trailer{StreamId: id, Reason: reason})
			case 3:
				s.senderLeft("p")
			case 4: // read what is there
				if st := streams[id]; st != nil {
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					for {
						if _, err := st.readContext(ctx, make([]byte, int(next())+1)); err != nil {
							break
						}
					}
				}
			case 5:
				s.chunk("q", chunk(id, 0, "other sender"))
			}
			for _, st := range streams {
				st.mu.Lock()
				buffered := st.buffered
				st.mu.Unlock()
				if buffered > limit {
					t.Fatalf("stream buffers %d bytes, past its limit %d", buffered, limit)
				}
			}
		}
		s.closeAll()
		for id, st := range streams {
			_, err := st.readAll(context.Background())
			if err != nil && !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrStreamSenderLeft) &&
				!errors.Is(err, ErrStreamAborted) && !errors.Is(err, ErrStreamIncomplete) && !errors.Is(err, ErrStreamTooLong) &&
				!errors.Is(err, ErrStreamBufferFull) && !errors.Is(err, ErrStreamMalformed) && err != io.EOF {
				t.Fatalf("stream %s ended with an unexpected error %v", id, err)
			}
		}
	})
}
