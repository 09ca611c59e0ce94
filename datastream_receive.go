package lksdk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// incomingStream is the reassembly of one incoming stream: chunks queue
// here, from the engine loop, until its reader takes them. Nothing here
// blocks the loop.
type incomingStream struct {
	id, sender string
	total      *uint64
	limit      int
	stats      *streamStats

	mu        sync.Mutex
	queue     [][]byte // chunks not yet read
	head      []byte   // the rest of the chunk being read
	buffered  int      // bytes in queue and head
	received  uint64   // bytes that arrived
	read      uint64   // bytes handed to the reader
	nextIndex uint64   // the chunk index expected next
	ended     bool     // no more data will come
	err       error    // why it ended; nil: the end of the stream
	wake      chan struct{}
	progress  func(float64)
	final     map[string]string // the trailer's attributes
	// leftTimer, once the sender left, ends the stream when nothing more
	// of it comes for the grace: each chunk restarts it.
	leftTimer *time.Timer
	leftGrace time.Duration
}

func newIncomingStream(id, sender string, total *uint64, limit int, stats *streamStats) *incomingStream {
	return &incomingStream{id: id, sender: sender, total: total, limit: limit, stats: stats, wake: make(chan struct{}, 1)}
}

func (s *incomingStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// push adds the chunk index; it reports whether the stream ended with it.
func (s *incomingStream) push(index uint64, content []byte) (ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return true
	}
	switch {
	case index < s.nextIndex:
		return false // a repeat: already have it
	case index > s.nextIndex:
		s.stats.malformed.Add(1)
		s.endLocked(fmt.Errorf("%w: got chunk %d, expected %d", ErrStreamMalformed, index, s.nextIndex))
		return true
	}
	s.nextIndex++
	if s.leftTimer != nil {
		s.leftTimer.Reset(s.leftGrace)
	}
	if len(content) == 0 {
		return false
	}
	s.received += uint64(len(content))
	if s.total != nil && s.received > *s.total {
		s.stats.malformed.Add(1)
		s.endLocked(fmt.Errorf("%w: more than %d bytes", ErrStreamTooLong, *s.total))
		return true
	}
	if s.buffered+len(content) > s.limit {
		s.stats.bufferFull.Add(1)
		s.endLocked(fmt.Errorf("%w (%d bytes buffered)", ErrStreamBufferFull, s.buffered))
		return true
	}
	s.queue = append(s.queue, content)
	s.buffered += len(content)
	s.signal()
	return false
}

// finish ends the stream as its trailer says.
func (s *incomingStream) finish(reason string, attrs map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(attrs) > 0 && !s.ended {
		s.final = maps.Clone(attrs)
	}
	switch {
	case reason != "":
		s.endLocked(fmt.Errorf("%w: %s", ErrStreamAborted, reason))
	case s.total != nil && s.received < *s.total:
		s.stats.malformed.Add(1)
		s.endLocked(fmt.Errorf("%w: %d of %d bytes", ErrStreamIncomplete, s.received, *s.total))
	default:
		s.endLocked(nil)
	}
}

// fail ends the stream with err, unless it already ended.
func (s *incomingStream) fail(err error) {
	s.mu.Lock()
	s.endLocked(err)
	s.mu.Unlock()
}

func (s *incomingStream) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	if s.leftTimer != nil {
		s.leftTimer.Stop()
	}
	s.signal()
}

// readContext reads into p what arrived, waiting for data, the stream's end
// or ctx.
func (s *incomingStream) readContext(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		s.mu.Lock()
		if len(s.head) == 0 && len(s.queue) > 0 {
			s.head, s.queue[0] = s.queue[0], nil
			s.queue = s.queue[1:]
		}
		if len(s.head) > 0 {
			n := copy(p, s.head)
			s.head = s.head[n:]
			s.buffered -= n
			s.read += uint64(n)
			progress, read := s.progress, s.read
			s.mu.Unlock()
			if progress != nil && s.total != nil && *s.total > 0 {
				progress(float64(read) / float64(*s.total))
			}
			return n, nil
		}
		if s.ended {
			err := s.err
			s.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// readAll reads the rest of the stream. Its buffer grows with what arrives;
// the declared size only sets a first capacity (at most 1 MiB and the
// buffer limit), so a false one costs nothing.
func (s *incomingStream) readAll(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if s.total != nil {
		buf.Grow(int(min(*s.total, uint64(s.limit), 1<<20)))
	}
	chunk := make([]byte, StreamChunkSize)
	for {
		n, err := s.readContext(ctx, chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return buf.Bytes(), err
		}
	}
}

func (s *incomingStream) setProgress(fn func(float64)) {
	s.mu.Lock()
	s.progress = fn
	s.mu.Unlock()
}

// streamReader is what text and byte stream readers share.
type streamReader struct {
	s      *incomingStream
	header map[string]string // the header's attributes
	br     *bufio.Reader
	mu     sync.Mutex
	// err is the error that ended a ReadAll, for the v2-style ReadAll that
	// returns none.
	err error
}

func newStreamReader(s *incomingStream, header map[string]string) streamReader {
	return streamReader{s: s, header: maps.Clone(header), br: bufio.NewReaderSize(readerFunc(func(p []byte) (int, error) {
		return s.readContext(context.Background(), p)
	}), StreamChunkSize)}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Read reads the next bytes of the stream, waiting for them to arrive. It
// returns io.EOF at the end of a complete stream, another error (see
// ErrStreamIncomplete and the others) when the stream ended otherwise.
func (r *streamReader) Read(p []byte) (int, error) { return r.br.Read(p) }

// ReadString reads up to and including the first delim, as
// bufio.Reader.ReadString does.
func (r *streamReader) ReadString(delim byte) (string, error) { return r.br.ReadString(delim) }

// ReadByte reads one byte.
func (r *streamReader) ReadByte() (byte, error) { return r.br.ReadByte() }

// OnProgress makes fn be called, on the reading goroutine, each time more
// of the stream has been read, with the part read so far (0 to 1). It is
// called only for streams that declare their size.
func (r *streamReader) OnProgress(fn func(progress float64)) { r.s.setProgress(fn) }

// BytesReceived returns how many bytes of the stream have arrived so far.
func (r *streamReader) BytesReceived() uint64 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.received
}

// FinalAttributes returns the attributes of the stream's header updated
// with those its trailer carried (the sender's last word, such as a
// transcription's final state). Before the stream's end it returns the
// header's.
func (r *streamReader) FinalAttributes() map[string]string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	out := maps.Clone(r.header)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, r.s.final)
	return out
}

// Err returns the error that ended the last ReadAll, or nil.
func (r *streamReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *streamReader) readAll(ctx context.Context) ([]byte, error) {
	var head []byte
	if n := r.br.Buffered(); n > 0 {
		head = make([]byte, n)
		_, _ = io.ReadFull(r.br, head)
	}
	rest, err := r.s.readAll(ctx)
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	if head != nil {
		rest = append(head, rest...)
	}
	return rest, err
}

// TextStreamReader reads an incoming text stream. Read, ReadString and
// ReadByte read it as it arrives; ReadAll waits for all of it.
type TextStreamReader struct {
	// Info is what the stream's header said.
	Info TextStreamInfo
	streamReader
}

// ReadAll waits for the end of the stream and returns its text. If the
// stream ended with an error, it returns what arrived and Err says why.
func (r *TextStreamReader) ReadAll() string {
	b, _ := r.readAll(context.Background())
	return string(b)
}

// ReadAllContext is ReadAll bounded by ctx, returning the error that ended
// the stream, if any.
func (r *TextStreamReader) ReadAllContext(ctx context.Context) (string, error) {
	b, err := r.readAll(ctx)
	return string(b), err
}

// ByteStreamReader reads an incoming byte stream; it is an io.Reader.
type ByteStreamReader struct {
	// Info is what the stream's header said.
	Info ByteStreamInfo
	streamReader
}

// ReadAll waits for the end of the stream and returns its bytes. If the
// stream ended with an error, it returns what arrived and Err says why.
// To keep memory bounded for large streams, read with Read (io.Copy)
// instead.
func (r *ByteStreamReader) ReadAll() []byte {
	b, _ := r.readAll(context.Background())
	return b
}

// ReadAllContext is ReadAll bounded by ctx, returning the error that ended
// the stream, if any.
func (r *ByteStreamReader) ReadAllContext(ctx context.Context) ([]byte, error) {
	return r.readAll(ctx)
}

// handleStreamHeader opens an incoming stream and starts its handler, or
// drops the stream when its topic has no handler. It runs on the engine
// loop.
func (r *Room) handleStreamHeader(sender string, h *livekit.DataStream_Header) {
	if h == nil {
		return
	}
	s := r.ext().streams
	text, bytes, st, ok := s.openStream(sender, h)
	if !ok {
		return
	}
	info := infoOf(h)
	if text != nil {
		th := h.GetTextHeader()
		reader := &TextStreamReader{Info: TextStreamInfo{
			StreamInfo: info, ReplyToStreamId: th.GetReplyToStreamId(),
			AttachedStreamIds: append([]string(nil), th.GetAttachedStreamIds()...), Generated: th.GetGenerated(),
		}, streamReader: newStreamReader(st, h.Attributes)}
		go text(reader, sender)
		return
	}
	reader := &ByteStreamReader{Info: ByteStreamInfo{StreamInfo: info}, streamReader: newStreamReader(st, h.Attributes)}
	if bh := h.GetByteHeader(); bh != nil && bh.Name != "" {
		name := bh.Name
		reader.Info.Name = &name
	}
	go bytes(reader, sender)
}

// openStream records the stream h announces and returns its handler, or reports
// false when the stream is dropped.
func (s *streamState) openStream(sender string, h *livekit.DataStream_Header) (TextStreamHandler, ByteStreamHandler, *incomingStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, false
	}
	var text TextStreamHandler
	var bytes ByteStreamHandler
	switch h.ContentHeader.(type) {
	case *livekit.DataStream_Header_TextHeader:
		text = s.textHandlers[h.Topic]
	case *livekit.DataStream_Header_ByteHeader:
		bytes = s.byteHandlers[h.Topic]
	default:
		s.stats.malformed.Add(1)
		return nil, nil, nil, false
	}
	switch {
	case h.StreamId == "" || s.open[h.StreamId] != nil || h.Compression != livekit.DataStream_NONE:
		// No id, a repeated header, or a compression this participant
		// never asked for.
		s.stats.malformed.Add(1)
		return nil, nil, nil, false
	case text == nil && bytes == nil:
		s.stats.noHandler.Add(1)
		return nil, nil, nil, false
	case len(s.open) >= MaxIncomingStreams:
		s.stats.tooMany.Add(1)
		return nil, nil, nil, false
	}
	st := newIncomingStream(h.StreamId, sender, declaredLength(h), s.bufferLimit, &s.stats)
	if h.InlineContent != nil {
		// The whole content in the header: the stream is complete.
		st.push(0, h.InlineContent)
		st.finish("", nil)
	} else {
		s.open[h.StreamId] = st
	}
	s.stats.received.Add(1)
	return text, bytes, st, true
}

// chunk adds a chunk to its stream; chunks of streams not open (dropped,
// ended, or never announced) are ignored.
func (s *streamState) chunk(sender string, c *livekit.DataStream_Chunk) {
	if c == nil {
		return
	}
	s.mu.Lock()
	st := s.open[c.StreamId]
	s.mu.Unlock()
	if st == nil || st.sender != sender {
		return
	}
	if st.push(c.ChunkIndex, c.Content) {
		s.forget(st)
	}
}

// trailer ends its stream.
func (s *streamState) trailer(sender string, t *livekit.DataStream_Trailer) {
	if t == nil {
		return
	}
	s.mu.Lock()
	st := s.open[t.StreamId]
	if st != nil && st.sender == sender {
		delete(s.open, t.StreamId)
	} else {
		st = nil
	}
	s.mu.Unlock()
	if st != nil {
		st.finish(t.Reason, t.Attributes)
	}
}

func (s *streamState) forget(st *incomingStream) {
	s.mu.Lock()
	if s.open[st.id] == st {
		delete(s.open, st.id)
	}
	s.mu.Unlock()
}

// senderLeft ends the streams from identity with ErrStreamSenderLeft once
// no chunk of them has come for the grace (SenderLeftGrace): what the
// sender sent before it left may still be on its way.
func (s *streamState) senderLeft(identity string) {
	s.mu.Lock()
	var gone []*incomingStream
	for _, st := range s.open {
		if st.sender == identity {
			gone = append(gone, st)
		}
	}
	grace := s.leftGrace
	s.mu.Unlock()
	for _, st := range gone {
		st.mu.Lock()
		if !st.ended && st.leftTimer == nil {
			st.leftGrace = grace
			st.leftTimer = time.AfterFunc(grace, func() {
				s.forget(st)
				st.fail(ErrStreamSenderLeft)
			})
		}
		st.mu.Unlock()
	}
}

// closeAll ends every stream with ErrNotConnected and drops any that come.
func (s *streamState) closeAll() {
	s.mu.Lock()
	s.closed = true
	open := s.open
	s.open = map[string]*incomingStream{}
	s.mu.Unlock()
	for _, st := range open {
		st.fail(fmt.Errorf("%w: the room closed", ErrNotConnected))
	}
}

// declaredLength is the stream's declared total length, or nil. A length
// of 0 means none: the browser SDK sends 0 for byte streams of unknown
// size.
func declaredLength(h *livekit.DataStream_Header) *uint64 {
	if h.GetTotalLength() == 0 {
		return nil
	}
	v := h.GetTotalLength()
	return &v
}
