package lksdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
)

// defaultStreamTimeout bounds each send of the v2-style stream calls that
// take no context.
const defaultStreamTimeout = 30 * time.Second

// streamWriter sends one outgoing stream: its header first, then chunks in
// order, then the trailer.
type streamWriter struct {
	p            *LocalParticipant
	id           string
	destinations []string
	total        *uint64
	progress     func(float64)

	mu     sync.Mutex // orders the chunks of concurrent writes
	index  uint64
	sent   uint64
	closed bool
	err    error // the first error; later writes fail with it
}

func (w *streamWriter) packet(value isDataPacketStream) *livekit.DataPacket {
	dp := &livekit.DataPacket{Kind: livekit.DataPacket_RELIABLE, DestinationIdentities: w.destinations}
	value.set(dp)
	return dp
}

type isDataPacketStream interface{ set(*livekit.DataPacket) }

type streamHeader struct{ h *livekit.DataStream_Header }
type streamChunk struct{ c *livekit.DataStream_Chunk }
type streamTrailer struct{ t *livekit.DataStream_Trailer }

func (v streamHeader) set(dp *livekit.DataPacket) {
	dp.Value = &livekit.DataPacket_StreamHeader{StreamHeader: v.h}
}
func (v streamChunk) set(dp *livekit.DataPacket) {
	dp.Value = &livekit.DataPacket_StreamChunk{StreamChunk: v.c}
}
func (v streamTrailer) set(dp *livekit.DataPacket) {
	dp.Value = &livekit.DataPacket_StreamTrailer{StreamTrailer: v.t}
}

func newStreamHeader(id, topic, mimeType string, total *uint64, attrs map[string]string) *livekit.DataStream_Header {
	h := &livekit.DataStream_Header{
		StreamId:   id,
		Timestamp:  time.Now().UnixMilli(),
		Topic:      topic,
		MimeType:   mimeType,
		Attributes: maps.Clone(attrs),
	}
	if total != nil {
		v := *total
		h.TotalLength = &v
	}
	return h
}

func (w *streamWriter) open(ctx context.Context, h *livekit.DataStream_Header) error {
	if err := w.p.publishData(ctx, w.packet(streamHeader{h})); err != nil {
		w.err = fmt.Errorf("lksdk: sending stream header: %w", err)
		return w.err
	}
	return nil
}

// writeChunks sends data as chunks, each at most StreamChunkSize bytes;
// split, when set, moves a cut back to a character boundary.
func (w *streamWriter) writeChunks(ctx context.Context, data []byte, split func([]byte, int) int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("lksdk: write to a closed stream")
	}
	for len(data) > 0 {
		n := min(len(data), StreamChunkSize)
		if split != nil {
			n = split(data, n)
		}
		err := w.p.publishData(ctx, w.packet(streamChunk{&livekit.DataStream_Chunk{
			StreamId: w.id, ChunkIndex: w.index, Content: data[:n],
		}}))
		if err != nil {
			w.err = fmt.Errorf("lksdk: sending stream chunk %d: %w", w.index, err)
			return w.err
		}
		w.index++
		w.sent += uint64(n)
		data = data[n:]
		if w.progress != nil && w.total != nil && *w.total > 0 {
			w.progress(min(float64(w.sent)/float64(*w.total), 1))
		}
	}
	return nil
}

// close sends the trailer and waits until the stream has left the send
// buffer; reason, when set, tells receivers the stream was cut short.
func (w *streamWriter) close(ctx context.Context, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	err := w.p.publishData(ctx, w.packet(streamTrailer{&livekit.DataStream_Trailer{StreamId: w.id, Reason: reason}}))
	if err != nil {
		w.err = fmt.Errorf("lksdk: sending stream trailer: %w", err)
		return w.err
	}
	// The stream is sent once it has left the send buffer: a Disconnect
	// right after would otherwise cut its end.
	if err := w.p.engine.waitReliableSent(ctx); err != nil {
		w.err = fmt.Errorf("lksdk: sending stream: %w", err)
	}
	return w.err
}

// utf8Cut moves a cut at n back to the start of a character, so that no
// chunk of a text stream splits one.
func utf8Cut(b []byte, n int) int {
	if n >= len(b) {
		return n
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// TextStreamWriter sends a text stream made with StreamText.
type TextStreamWriter struct {
	// Info describes the stream, as its header did.
	Info TextStreamInfo
	w    *streamWriter
}

// Write sends text, cut into chunks at character boundaries, and calls
// onDone, if set, once it was sent. It waits for the sending (up to 30 s);
// a failure is kept and returned by Err and by the next writes.
func (tw *TextStreamWriter) Write(text string, onDone *func()) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	_ = tw.WriteContext(ctx, text)
	if onDone != nil && *onDone != nil {
		(*onDone)()
	}
}

// WriteContext sends text, bounded by ctx.
func (tw *TextStreamWriter) WriteContext(ctx context.Context, text string) error {
	return tw.w.writeChunks(ctx, []byte(text), utf8Cut)
}

// Close ends the stream, waiting (up to 30 s) until all of it has left
// this process, so that disconnecting afterwards loses none of it.
func (tw *TextStreamWriter) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	_ = tw.CloseContext(ctx)
}

// CloseContext ends the stream, bounded by ctx.
func (tw *TextStreamWriter) CloseContext(ctx context.Context) error { return tw.w.close(ctx, "") }

// Abort ends the stream with reason; receivers get ErrStreamAborted.
func (tw *TextStreamWriter) Abort(ctx context.Context, reason string) error {
	return tw.w.close(ctx, reason)
}

// Err returns the first error the stream met, or nil.
func (tw *TextStreamWriter) Err() error {
	tw.w.mu.Lock()
	defer tw.w.mu.Unlock()
	return tw.w.err
}

// ByteStreamWriter sends a byte stream made with StreamBytes.
type ByteStreamWriter struct {
	// Info describes the stream, as its header did.
	Info ByteStreamInfo
	w    *streamWriter
}

// Write sends data, cut into chunks, and calls onDone, if set, once it was
// sent. It waits for the sending (up to 30 s); a failure is kept and
// returned by Err and by the next writes.
func (bw *ByteStreamWriter) Write(data []byte, onDone *func()) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	_ = bw.WriteContext(ctx, data)
	if onDone != nil && *onDone != nil {
		(*onDone)()
	}
}

// WriteContext sends data, bounded by ctx.
func (bw *ByteStreamWriter) WriteContext(ctx context.Context, data []byte) error {
	return bw.w.writeChunks(ctx, data, nil)
}

// ReadFromContext sends everything r yields, one chunk at a time, so that
// at most one chunk is held in memory, bounded by ctx; it returns the bytes
// sent.
func (bw *ByteStreamWriter) ReadFromContext(ctx context.Context, r io.Reader) (int64, error) {
	buf := make([]byte, StreamChunkSize)
	var n int64
	for {
		m, err := io.ReadFull(r, buf)
		if m > 0 {
			if werr := bw.w.writeChunks(ctx, buf[:m], nil); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Close ends the stream, waiting (up to 30 s) until all of it has left
// this process, so that disconnecting afterwards loses none of it.
func (bw *ByteStreamWriter) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	_ = bw.CloseContext(ctx)
}

// CloseContext ends the stream, bounded by ctx.
func (bw *ByteStreamWriter) CloseContext(ctx context.Context) error { return bw.w.close(ctx, "") }

// Abort ends the stream with reason; receivers get ErrStreamAborted.
func (bw *ByteStreamWriter) Abort(ctx context.Context, reason string) error {
	return bw.w.close(ctx, reason)
}

// Err returns the first error the stream met, or nil.
func (bw *ByteStreamWriter) Err() error {
	bw.w.mu.Lock()
	defer bw.w.mu.Unlock()
	return bw.w.err
}

func (p *LocalParticipant) newStreamWriter(id *string, destinations []string, total *uint64, progress *func(float64)) *streamWriter {
	w := &streamWriter{p: p, id: newUUID(), destinations: append([]string(nil), destinations...), total: total}
	if id != nil && *id != "" {
		w.id = *id
	}
	if progress != nil {
		w.progress = *progress
	}
	return w
}

// StreamText starts a text stream, to be written with Write and ended with
// Close. A failure to send the header (within 30 s) is kept in the writer:
// see Err.
func (p *LocalParticipant) StreamText(options StreamTextOptions) *TextStreamWriter {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	tw, _ := p.StreamTextWithContext(ctx, options)
	return tw
}

// StreamTextWithContext starts a text stream, sending its header bounded
// by ctx. On error the writer is returned too, failing every write.
func (p *LocalParticipant) StreamTextWithContext(ctx context.Context, options StreamTextOptions) (*TextStreamWriter, error) {
	w := p.newStreamWriter(options.StreamId, options.DestinationIdentities, options.TotalSize, options.OnProgress)
	h := newStreamHeader(w.id, options.Topic, textStreamMimeType, options.TotalSize, options.Attributes)
	th := &livekit.DataStream_TextHeader{OperationType: livekit.DataStream_CREATE}
	if options.ReplyToStreamId != nil {
		th.ReplyToStreamId = *options.ReplyToStreamId
	}
	h.ContentHeader = &livekit.DataStream_Header_TextHeader{TextHeader: th}
	tw := &TextStreamWriter{w: w, Info: TextStreamInfo{StreamInfo: infoOf(h), ReplyToStreamId: th.ReplyToStreamId}}
	return tw, w.open(ctx, h)
}

// SendText sends text as one stream and returns its description, or nil
// if it could not be sent within 30 s.
func (p *LocalParticipant) SendText(text string, options StreamTextOptions) *TextStreamInfo {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	info, err := p.SendTextWithContext(ctx, text, options)
	if err != nil {
		return nil
	}
	return info
}

// SendTextWithContext sends text as one stream, with its total size
// declared, bounded by ctx.
func (p *LocalParticipant) SendTextWithContext(ctx context.Context, text string, options StreamTextOptions) (*TextStreamInfo, error) {
	size := uint64(len(text))
	options.TotalSize = &size
	tw, err := p.StreamTextWithContext(ctx, options)
	if err != nil {
		return nil, err
	}
	if err := tw.WriteContext(ctx, text); err != nil {
		return nil, err
	}
	if err := tw.CloseContext(ctx); err != nil {
		return nil, err
	}
	return &tw.Info, nil
}

// StreamBytes starts a byte stream, to be written with Write and ended
// with Close. A failure to send the header (within 30 s) is kept in the
// writer: see Err.
func (p *LocalParticipant) StreamBytes(options StreamBytesOptions) *ByteStreamWriter {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	bw, _ := p.StreamBytesWithContext(ctx, options)
	return bw
}

// StreamBytesWithContext starts a byte stream, sending its header bounded
// by ctx. On error the writer is returned too, failing every write.
func (p *LocalParticipant) StreamBytesWithContext(ctx context.Context, options StreamBytesOptions) (*ByteStreamWriter, error) {
	w := p.newStreamWriter(options.StreamId, options.DestinationIdentities, options.TotalSize, options.OnProgress)
	mimeType := options.MimeType
	if mimeType == "" {
		mimeType = byteStreamMimeType
	}
	h := newStreamHeader(w.id, options.Topic, mimeType, options.TotalSize, options.Attributes)
	bh := &livekit.DataStream_ByteHeader{}
	if options.FileName != nil {
		bh.Name = *options.FileName
	}
	h.ContentHeader = &livekit.DataStream_Header_ByteHeader{ByteHeader: bh}
	bw := &ByteStreamWriter{w: w, Info: ByteStreamInfo{StreamInfo: infoOf(h)}}
	if options.FileName != nil {
		name := *options.FileName
		bw.Info.Name = &name
	}
	return bw, w.open(ctx, h)
}

// SendFile sends the file at filePath as one byte stream, read from disk
// one chunk at a time (memory does not grow with the file), with its size,
// name and mime type (guessed from the name unless options set one). It
// waits up to 30 s for each chunk's sending; use SendFileWithContext to
// bound the whole.
func (p *LocalParticipant) SendFile(filePath string, options StreamBytesOptions) (*ByteStreamInfo, error) {
	return p.sendFile(context.Background(), filePath, options, true)
}

// SendFileWithContext is SendFile bounded by ctx. When ctx ends the stream
// is aborted, so receivers do not wait for the rest.
func (p *LocalParticipant) SendFileWithContext(ctx context.Context, filePath string, options StreamBytesOptions) (*ByteStreamInfo, error) {
	return p.sendFile(ctx, filePath, options, false)
}

func (p *LocalParticipant) sendFile(ctx context.Context, filePath string, options StreamBytesOptions, perChunkTimeout bool) (*ByteStreamInfo, error) {
	f, err := os.Open(filePath)
	if err != nil {
		return nil, fmt.Errorf("lksdk: SendFile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("lksdk: SendFile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("lksdk: SendFile: %s is not a regular file", filePath)
	}
	size := uint64(st.Size())
	options.TotalSize = &size
	if options.FileName == nil {
		name := filepath.Base(filePath)
		options.FileName = &name
	}
	if options.MimeType == "" {
		options.MimeType = mime.TypeByExtension(filepath.Ext(filePath))
	}
	if perChunkTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStreamTimeout)
		defer cancel()
	}
	bw, err := p.StreamBytesWithContext(ctx, options)
	if err != nil {
		return nil, err
	}
	// The file is read one chunk at a time: with a per-chunk timeout, each
	// chunk gets a fresh deadline.
	r := io.Reader(f)
	buf := make([]byte, StreamChunkSize)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if perChunkTimeout {
				cctx, cancel = context.WithTimeout(context.Background(), defaultStreamTimeout)
			}
			werr := bw.WriteContext(cctx, buf[:n])
			cancel()
			if werr != nil {
				abortStream(bw.w, werr)
				return nil, werr
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			abortStream(bw.w, rerr)
			return nil, fmt.Errorf("lksdk: SendFile: reading %s: %w", filePath, rerr)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), defaultStreamTimeout)
	defer cancel()
	if !perChunkTimeout {
		cctx = ctx
	}
	if err := bw.CloseContext(cctx); err != nil {
		return nil, err
	}
	return &bw.Info, nil
}

// abortStream tells receivers that the stream ends early, when the trailer
// can still be sent.
func abortStream(w *streamWriter, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.mu.Lock()
	w.err = nil // the trailer goes out even after a failed chunk
	w.mu.Unlock()
	_ = w.close(ctx, cause.Error())
	w.mu.Lock()
	w.err = cause
	w.mu.Unlock()
}

func infoOf(h *livekit.DataStream_Header) StreamInfo {
	info := StreamInfo{Id: h.StreamId, MimeType: h.MimeType, Topic: h.Topic, Timestamp: h.Timestamp, Attributes: maps.Clone(h.Attributes)}
	info.Size = declaredLength(h)
	if info.Attributes == nil {
		info.Attributes = map[string]string{}
	}
	return info
}
