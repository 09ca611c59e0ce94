package lksdk

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Data streams carry text and files of any length between participants,
// as the other LiveKit SDKs send them: a header (topic, mime type,
// attributes, total length when known), chunks of at most StreamChunkSize
// bytes and a trailer, all on the reliable data channel.
//
// # Receiving, and its bounds
//
// An incoming stream goes to the handler registered for its topic and kind
// (Room.RegisterTextStreamHandler, Room.RegisterByteStreamHandler), called
// on a goroutine of its own with a reader. A stream whose topic has no
// handler is dropped at once: nothing of it is kept.
//
// Chunks are buffered between their arrival and the reader: at most
// MaxStreamBufferBytes per stream (see Room.SetDataStreamBufferLimit). A
// reader that falls so far behind that the buffer would overflow loses the
// stream: what was buffered can still be read, then the reader returns
// ErrStreamBufferFull and the rest of the stream is dropped. The room never
// waits for a reader, and memory stays bounded. At most MaxIncomingStreams
// streams are open at once per room; the headers of more are dropped.
// DataStreamStats counts each of these.
//
// A stream ends with io.EOF once its trailer came and everything was read;
// with ErrStreamIncomplete if it carried less than its header announced,
// ErrStreamTooLong if more, ErrStreamAborted if its sender gave a reason,
// ErrStreamSenderLeft if the sender left the room (and nothing more of the
// stream came for SenderLeftGrace after), ErrStreamMalformed if a
// chunk is missing, and ErrNotConnected when the room closes.

// StreamChunkSize is the largest chunk of a data stream, in bytes, as the
// other SDKs use it.
const StreamChunkSize = 15000

// Bounds of incoming data streams.
const (
	// MaxStreamBufferBytes is the default of how much of one incoming stream
	// is buffered, waiting for its reader.
	MaxStreamBufferBytes = 8 << 20
	// MaxIncomingStreams is how many incoming streams may be open at once in
	// a room.
	MaxIncomingStreams = 64
)

// MIME types of streams that set none.
const (
	textStreamMimeType = "text/plain"
	byteStreamMimeType = "application/octet-stream"
)

// Errors that end an incoming stream.
var (
	// ErrStreamIncomplete: the stream ended with less than its declared
	// length.
	ErrStreamIncomplete = errors.New("lksdk: data stream ended before its declared length")
	// ErrStreamTooLong: the stream carried more than its declared length.
	ErrStreamTooLong = errors.New("lksdk: data stream longer than its declared length")
	// ErrStreamAborted: the sender ended the stream with a reason.
	ErrStreamAborted = errors.New("lksdk: data stream aborted by its sender")
	// ErrStreamSenderLeft: the sender left the room before the stream
	// ended, and no more of it came for SenderLeftGrace.
	ErrStreamSenderLeft = errors.New("lksdk: data stream's sender left the room")
	// ErrStreamBufferFull: the reader fell behind by more than the stream
	// buffer; the rest of the stream was dropped.
	ErrStreamBufferFull = errors.New("lksdk: data stream reader fell behind, buffer full")
	// ErrStreamMalformed: a chunk of the stream was missing.
	ErrStreamMalformed = errors.New("lksdk: data stream chunks missing or out of order")
)

// StreamInfo is what a data stream's header says of it.
type StreamInfo struct {
	// Id is the stream's unique id.
	Id string
	// MimeType is the content's type ("text/plain" for text streams).
	MimeType string
	// Topic is the topic the sender gave; handlers are chosen by it.
	Topic string
	// Timestamp is when the stream started, in milliseconds since the Unix
	// epoch.
	Timestamp int64
	// Size is the stream's total length in bytes, when the sender declared
	// it.
	Size *uint64
	// Attributes are the sender's own key/value pairs.
	Attributes map[string]string
}

// TextStreamInfo describes a text stream.
type TextStreamInfo struct {
	StreamInfo
	// ReplyToStreamId is the stream this one answers, if any.
	ReplyToStreamId string
	// AttachedStreamIds are the ids of byte streams that go with the text.
	AttachedStreamIds []string
	// Generated is set when an agent generated the text from a
	// participant's speech.
	Generated bool
}

// ByteStreamInfo describes a byte stream.
type ByteStreamInfo struct {
	StreamInfo
	// Name is the file's or stream's name, if the sender gave one.
	Name *string
}

// StreamTextOptions describe a text stream to send.
type StreamTextOptions struct {
	// Topic lets receivers choose a handler.
	Topic string
	// DestinationIdentities limits the stream to these participants; empty
	// sends to everyone.
	DestinationIdentities []string
	// StreamId sets the stream's id; nil makes a new one.
	StreamId *string
	// ReplyToStreamId names a stream this one answers.
	ReplyToStreamId *string
	// TotalSize declares the length in bytes; SendText sets it.
	TotalSize *uint64
	// Attributes are key/value pairs sent in the header.
	Attributes map[string]string
	// OnProgress, if set, is called as chunks are sent with the part sent
	// so far (0 to 1), when the total size is known.
	OnProgress *func(progress float64)
}

// StreamBytesOptions describe a byte stream to send.
type StreamBytesOptions struct {
	// Topic lets receivers choose a handler.
	Topic string
	// MimeType is the content's type; SendFile guesses it from the file's
	// name when empty, otherwise "application/octet-stream".
	MimeType string
	// DestinationIdentities limits the stream to these participants; empty
	// sends to everyone.
	DestinationIdentities []string
	// StreamId sets the stream's id; nil makes a new one.
	StreamId *string
	// TotalSize declares the length in bytes; SendFile sets it.
	TotalSize *uint64
	// Attributes are key/value pairs sent in the header.
	Attributes map[string]string
	// OnProgress, if set, is called as chunks are sent with the part sent
	// so far (0 to 1), when the total size is known.
	OnProgress *func(progress float64)
	// FileName is the name sent in the header; SendFile uses the file's
	// base name when nil.
	FileName *string
}

// TextStreamHandler is called with each incoming text stream of its topic
// and the sender's identity, on a goroutine of its own.
type TextStreamHandler func(reader *TextStreamReader, participantIdentity string)

// ByteStreamHandler is called with each incoming byte stream of its topic
// and the sender's identity, on a goroutine of its own.
type ByteStreamHandler func(reader *ByteStreamReader, participantIdentity string)

// DataStreamStats counts what a room did with incoming data streams.
type DataStreamStats struct {
	// Received is the number of streams handed to a handler.
	Received uint64
	// DroppedNoHandler is the number of streams dropped because their topic
	// had no handler.
	DroppedNoHandler uint64
	// DroppedTooMany is the number of streams dropped because
	// MaxIncomingStreams were open.
	DroppedTooMany uint64
	// BufferFull is the number of streams ended because their reader fell
	// behind.
	BufferFull uint64
	// Malformed is the number of streams ended by missing chunks, a wrong
	// length, or a header that could not be used.
	Malformed uint64
}

type streamStats struct {
	received, noHandler, tooMany, bufferFull, malformed atomic.Uint64
}

// RegisterTextStreamHandler makes handler receive the text streams of
// topic. It fails if topic already has a text stream handler.
func (r *Room) RegisterTextStreamHandler(topic string, handler TextStreamHandler) error {
	if handler == nil {
		return errors.New("lksdk: RegisterTextStreamHandler needs a handler")
	}
	return r.ext().streams.register(topic, handler, nil)
}

// UnregisterTextStreamHandler removes the text stream handler of topic;
// streams already started go on.
func (r *Room) UnregisterTextStreamHandler(topic string) {
	s := r.ext().streams
	s.mu.Lock()
	delete(s.textHandlers, topic)
	s.mu.Unlock()
}

// RegisterByteStreamHandler makes handler receive the byte streams of
// topic. It fails if topic already has a byte stream handler.
func (r *Room) RegisterByteStreamHandler(topic string, handler ByteStreamHandler) error {
	if handler == nil {
		return errors.New("lksdk: RegisterByteStreamHandler needs a handler")
	}
	return r.ext().streams.register(topic, nil, handler)
}

// UnregisterByteStreamHandler removes the byte stream handler of topic;
// streams already started go on.
func (r *Room) UnregisterByteStreamHandler(topic string) {
	s := r.ext().streams
	s.mu.Lock()
	delete(s.byteHandlers, topic)
	s.mu.Unlock()
}

// SetDataStreamBufferLimit sets how many bytes of each incoming stream may
// wait for its reader (MaxStreamBufferBytes by default); it applies to
// streams that start afterwards.
func (r *Room) SetDataStreamBufferLimit(bytes int) {
	s := r.ext().streams
	s.mu.Lock()
	s.bufferLimit = max(bytes, StreamChunkSize)
	s.mu.Unlock()
}

// DataStreamStats returns the counts of what the room did with incoming
// data streams.
func (r *Room) DataStreamStats() DataStreamStats {
	st := &r.ext().streams.stats
	return DataStreamStats{
		Received:         st.received.Load(),
		DroppedNoHandler: st.noHandler.Load(),
		DroppedTooMany:   st.tooMany.Load(),
		BufferFull:       st.bufferFull.Load(),
		Malformed:        st.malformed.Load(),
	}
}

func (s *streamState) register(topic string, text TextStreamHandler, bytes ByteStreamHandler) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if text != nil {
		if _, ok := s.textHandlers[topic]; ok {
			return fmt.Errorf("lksdk: topic %q already has a text stream handler", topic)
		}
		s.textHandlers[topic] = text
	}
	if bytes != nil {
		if _, ok := s.byteHandlers[topic]; ok {
			return fmt.Errorf("lksdk: topic %q already has a byte stream handler", topic)
		}
		s.byteHandlers[topic] = bytes
	}
	return nil
}

// streamState is a room's incoming streams and stream handlers.
type streamState struct {
	mu           sync.Mutex
	open         map[string]*incomingStream // by stream id
	textHandlers map[string]TextStreamHandler
	byteHandlers map[string]ByteStreamHandler
	bufferLimit  int
	leftGrace    time.Duration // SenderLeftGrace
	closed       bool
	stats        streamStats
}

func newStreamState() *streamState {
	return &streamState{
		open:         map[string]*incomingStream{},
		textHandlers: map[string]TextStreamHandler{},
		byteHandlers: map[string]ByteStreamHandler{},
		leftGrace:    SenderLeftGrace,
		bufferLimit:  MaxStreamBufferBytes,
	}
}
