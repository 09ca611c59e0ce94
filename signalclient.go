package lksdk

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
	"google.golang.org/protobuf/proto"
)

// PROTOCOL is the version of LiveKit's signalling protocol this SDK speaks.
const PROTOCOL = 16

const (
	signalWriteTimeout   = 5 * time.Second
	defaultPingInterval  = 5 * time.Second
	defaultPingTimeout   = 15 * time.Second
	maxSignalMessageSize = 8 << 20
)

// SignalClient is the WebSocket connection to the server's signalling
// endpoint: protobuf SignalRequests out, SignalResponses in. The RTCEngine
// uses it; most programs never touch it.
//
// After Join, Start begins reading: each response is passed, in order and on
// one goroutine, to OnResponse if it is set, or else to the callback for its
// type. The client keeps the connection alive with pings at the interval the
// server asks for, and closes it when no answer comes within the server's
// ping timeout.
type SignalClient struct {
	OnClose                 func()
	OnAnswer                func(sd webrtc.SessionDescription)
	OnOffer                 func(sd webrtc.SessionDescription)
	OnTrickle               func(init webrtc.ICECandidateInit, target livekit.SignalTarget)
	OnParticipantUpdate     func([]*livekit.ParticipantInfo)
	OnLocalTrackPublished   func(response *livekit.TrackPublishedResponse)
	OnSpeakersChanged       func([]*livekit.SpeakerInfo)
	OnConnectionQuality     func([]*livekit.ConnectionQualityInfo)
	OnRoomUpdate            func(room *livekit.Room)
	OnTrackMuted            func(request *livekit.MuteTrackRequest)
	OnLocalTrackUnpublished func(response *livekit.TrackUnpublishedResponse)
	OnTokenRefresh          func(refreshToken string)
	OnLeave                 func()

	// OnResponse, when set, receives every response in place of the
	// callbacks above (pongs excepted).
	OnResponse func(res *livekit.SignalResponse)
	// OnCloseWithError is called, like OnClose, when the connection is lost,
	// with the reason.
	OnCloseWithError func(err error)

	// OnInvalidResponse, when set, is told of each response dropped because
	// it is invalid; the error wraps ErrInvalidResponse.
	OnInvalidResponse func(err error)

	// Dialer dials the WebSocket; websocket.DefaultDialer when nil.
	Dialer *websocket.Dialer

	mu      sync.Mutex
	conn    *websocket.Conn
	conns   sync.WaitGroup // the reader and pinger of the current conn
	stop    chan struct{}  // closed to stop them
	started atomic.Bool

	writeMu sync.Mutex
	log     logr.Logger // the room's; the package's when unset

	pingInterval time.Duration
	pingTimeout  time.Duration
	lastRecv     atomic.Int64 // unix nanoseconds
	rtt          atomic.Int64 // milliseconds
	lostReason   atomic.Pointer[error]

	invalidResponses atomic.Uint64

	// deliver, when set, receives every valid response in place of
	// OnResponse, with the size of its wire message and the stop channel
	// of the connection it came on (closed when that connection's reader
	// must end). It runs on the reader and may block it.
	deliver func(res *livekit.SignalResponse, size int, stop <-chan struct{})
}

// InvalidResponses returns how many responses were dropped because they
// were invalid (see OnInvalidResponse).
func (c *SignalClient) InvalidResponses() uint64 {
	return c.invalidResponses.Load()
}

func (c *SignalClient) logger() logr.Logger {
	if c.log.GetSink() == nil {
		return getLogger()
	}
	return c.log
}

// NewSignalClient returns a SignalClient that is not connected.
func NewSignalClient() *SignalClient {
	return &SignalClient{}
}

// SignalOptions are the query parameters of a signalling connection.
type SignalOptions struct {
	AutoSubscribe bool
	// Reconnect asks to resume the session of ParticipantSID.
	Reconnect       bool
	ParticipantSID  string
	ReconnectReason livekit.ReconnectReason
}

func signalOptionsFrom(params *ConnectParams) SignalOptions {
	if params == nil {
		return SignalOptions{AutoSubscribe: true}
	}
	return SignalOptions{AutoSubscribe: params.AutoSubscribe}
}

// Join connects to the server at urlPrefix with token and waits for its
// JoinResponse, for at most 15 seconds.
func (c *SignalClient) Join(urlPrefix string, token string, params *ConnectParams) (*livekit.JoinResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.JoinWithContext(ctx, urlPrefix, token, signalOptionsFrom(params))
}

// JoinWithContext is Join bounded by ctx, with explicit options.
func (c *SignalClient) JoinWithContext(ctx context.Context, urlPrefix, token string, opts SignalOptions) (*livekit.JoinResponse, error) {
	opts.Reconnect = false
	res, err := c.connect(ctx, urlPrefix, token, opts)
	if err != nil {
		return nil, err
	}
	join := res.GetJoin()
	if join == nil {
		c.Close()
		return nil, &ConnectError{Phase: PhaseJoin, Err: fmt.Errorf("%w: first response was %T, not a join response", ErrSignalError, res.Message)}
	}
	if err := validateJoin(join); err != nil {
		c.Close()
		return nil, &ConnectError{Phase: PhaseJoin, Err: fmt.Errorf("%w: %w", ErrSignalError, err)}
	}
	c.setPingTiming(join.PingInterval, join.PingTimeout)
	return join, nil
}

// Reconnect resumes the session opts.ParticipantSID on a new connection and
// returns the server's ReconnectResponse. A server that cannot resume the
// session answers with a LeaveRequest, returned as an error wrapping
// ErrResumeRefused.
func (c *SignalClient) Reconnect(ctx context.Context, urlPrefix, token string, opts SignalOptions) (*livekit.ReconnectResponse, error) {
	opts.Reconnect = true
	res, err := c.connect(ctx, urlPrefix, token, opts)
	if err != nil {
		return nil, err
	}
	rr := res.GetReconnect()
	if rr == nil {
		c.Close()
		return nil, &ConnectError{Phase: PhaseJoin, Err: fmt.Errorf("%w: first response was %T", ErrSignalError, res.Message)}
	}
	return rr, nil
}

// connect dials, then reads until the first response that is a join, a
// reconnect or a leave.
func (c *SignalClient) connect(ctx context.Context, urlPrefix, token string, opts SignalOptions) (*livekit.SignalResponse, error) {
	if err := validateServerURL(urlPrefix); err != nil {
		return nil, &ConnectError{Phase: PhaseSignalDial, Err: err}
	}
	c.Close() // a previous connection, if any
	base := ToWebsocketURL(urlPrefix)
	query := signalQuery(token, opts)

	dialer, stopDialWatch := cancellableDialer(ctx, c.Dialer)
	conn, resp, err := dialer.DialContext(ctx, base+"/rtc?"+query, nil)
	stopDialWatch()
	if err != nil {
		return nil, dialError(ctx, c.Dialer, base, query, resp, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	conn.SetReadLimit(maxSignalMessageSize)

	// Read the first answer, bounded by ctx.
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(deadline)
	}
	stopWatch := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stopWatch()
	for {
		res, err := readResponse(conn)
		if err != nil {
			_ = conn.Close()
			if ctx.Err() != nil || isTimeout(err) {
				return nil, &ConnectError{Phase: PhaseJoin, Err: fmt.Errorf("%w: no join response: %w", ErrConnectionTimeout, ctx.Err())}
			}
			return nil, &ConnectError{Phase: PhaseJoin, Err: fmt.Errorf("%w: reading join response: %w", ErrSignalError, err)}
		}
		switch m := res.Message.(type) {
		case *livekit.SignalResponse_Join, *livekit.SignalResponse_Reconnect:
			_ = conn.SetReadDeadline(time.Time{})
			c.mu.Lock()
			c.conn = conn
			c.mu.Unlock()
			c.lastRecv.Store(time.Now().UnixNano())
			return res, nil
		case *livekit.SignalResponse_Leave:
			_ = conn.Close()
			err := fmt.Errorf("%w: server sent leave (%s, action %s)", ErrSignalError, m.Leave.Reason, m.Leave.Action)
			if opts.Reconnect {
				err = fmt.Errorf("%w: %w", ErrResumeRefused, err)
			}
			return nil, &ConnectError{Phase: PhaseJoin, Reason: m.Leave.Reason.String(), Err: err}
		}
	}
}

func readResponse(conn *websocket.Conn) (*livekit.SignalResponse, error) {
	res, _, err := readSizedResponse(conn)
	return res, err
}

// readSizedResponse reads one response and returns it with the size of its
// wire message.
func readSizedResponse(conn *websocket.Conn) (*livekit.SignalResponse, int, error) {
	for {
		mt, payload, err := conn.ReadMessage()
		if err != nil {
			return nil, 0, err
		}
		if mt != websocket.BinaryMessage {
			continue // the SDK only speaks binary; text would be JSON
		}
		res := &livekit.SignalResponse{}
		if err := proto.Unmarshal(payload, res); err != nil {
			return nil, 0, fmt.Errorf("decoding signal response: %w", err)
		}
		return res, len(payload), nil
	}
}

// The ping timing a join response may ask for: an interval up to
// maxPingInterval, and a timeout longer than the interval (else a healthy
// connection would be declared lost between two pings) and at most
// maxPingTimeout. Values outside are replaced by the defaults.
const (
	maxPingInterval = time.Minute
	maxPingTimeout  = 5 * time.Minute
)

func (c *SignalClient) setPingTiming(intervalSec, timeoutSec int32) {
	c.pingInterval, c.pingTimeout = defaultPingInterval, defaultPingTimeout
	if intervalSec > 0 && time.Duration(intervalSec)*time.Second <= maxPingInterval {
		c.pingInterval = time.Duration(intervalSec) * time.Second
	}
	if timeoutSec > 0 && time.Duration(timeoutSec)*time.Second <= maxPingTimeout {
		c.pingTimeout = time.Duration(timeoutSec) * time.Second
	}
	if c.pingTimeout <= c.pingInterval {
		c.pingTimeout = c.pingInterval + defaultPingTimeout - defaultPingInterval
	}
}

// SetPingTiming overrides the ping interval and timeout the server asked for;
// zero keeps the current value.
func (c *SignalClient) SetPingTiming(interval, timeout time.Duration) {
	if interval > 0 {
		c.pingInterval = interval
	}
	if timeout > 0 {
		c.pingTimeout = timeout
	}
}

// Start begins reading responses and pinging the server.
func (c *SignalClient) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil || c.stop != nil {
		return
	}
	if c.pingInterval == 0 {
		c.setPingTiming(0, 0)
	}
	stop := make(chan struct{})
	c.stop = stop
	c.started.Store(true)
	c.conns.Add(2)
	go c.readLoop(c.conn, stop)
	go c.pingLoop(c.conn, stop)
}

// IsStarted reports whether the client is reading responses.
func (c *SignalClient) IsStarted() bool {
	return c.started.Load()
}

// RTT returns the round-trip time of the last ping.
func (c *SignalClient) RTT() time.Duration {
	return time.Duration(c.rtt.Load()) * time.Millisecond
}

// ReadResponse reads one response. It is for use before Start.
func (c *SignalClient) ReadResponse() (*livekit.SignalResponse, error) {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return nil, fmt.Errorf("%w: not connected", ErrSignalError)
	}
	return readResponse(conn)
}

func (c *SignalClient) readLoop(conn *websocket.Conn, stop chan struct{}) {
	defer c.conns.Done()
	for {
		res, size, err := readSizedResponse(conn)
		if err != nil {
			c.lost(conn, stop, err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		switch m := res.Message.(type) {
		case *livekit.SignalResponse_PongResp:
			c.rtt.Store(time.Now().UnixMilli() - m.PongResp.LastPingTimestamp)
			continue
		case *livekit.SignalResponse_Pong:
			continue
		}
		c.dispatch(res, size, stop)
	}
}

// pingLoop pings the server every ping interval and closes the connection
// once nothing has come from the server for the ping timeout. It wakes for
// whichever comes first, so a silent server is caught on time.
func (c *SignalClient) pingLoop(conn *websocket.Conn, stop chan struct{}) {
	defer c.conns.Done()
	timer := time.NewTimer(c.pingInterval)
	defer timer.Stop()
	nextPing := time.Now().Add(c.pingInterval)
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		lastRecv := time.Unix(0, c.lastRecv.Load())
		if silent := now.Sub(lastRecv); silent >= c.pingTimeout {
			// Closing the socket ends the read loop, which reports the loss.
			reason := fmt.Errorf("%w: no answer from the server for %s (ping timeout %s)", ErrSignalError, silent.Round(time.Millisecond), c.pingTimeout)
			c.lostReason.Store(&reason)
			_ = conn.Close()
			return
		}
		if !now.Before(nextPing) {
			_ = c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{
				PingReq: &livekit.Ping{Timestamp: now.UnixMilli(), Rtt: c.rtt.Load()},
			}})
			nextPing = now.Add(c.pingInterval)
		}
		wake := nextPing
		if deadline := lastRecv.Add(c.pingTimeout); deadline.Before(wake) {
			wake = deadline
		}
		timer.Reset(max(time.Until(wake), time.Millisecond))
	}
}

// lost handles the end of conn's read loop: it reports the loss unless the
// connection was closed on purpose.
func (c *SignalClient) lost(conn *websocket.Conn, stop chan struct{}, err error) {
	c.mu.Lock()
	current := c.conn == conn
	if current {
		c.conn = nil
		c.stop = nil
		c.started.Store(false)
		close(stop)
	}
	c.mu.Unlock()
	_ = conn.Close()
	if !current {
		return // closed by Close or replaced
	}
	if reason := c.lostReason.Swap(nil); reason != nil {
		err = *reason
	}
	c.logger().Info("signal connection lost", "error", err.Error())
	if c.OnCloseWithError != nil {
		c.OnCloseWithError(err)
	}
	if c.OnClose != nil {
		c.OnClose()
	}
}

// dispatch delivers res, or drops it, logged and counted, when it is
// invalid (see validateResponse).
func (c *SignalClient) dispatch(res *livekit.SignalResponse, size int, stop <-chan struct{}) {
	if err := validateResponse(res); err != nil {
		c.invalidResponses.Add(1)
		c.logger().Error(err, "dropped a signal response")
		if c.OnInvalidResponse != nil {
			c.OnInvalidResponse(err)
		}
		return
	}
	if c.deliver != nil {
		c.deliver(res, size, stop)
		return
	}
	if c.OnResponse != nil {
		c.OnResponse(res)
		return
	}
	dispatchSignal(res, signalClientCallbacks{c: c})
}

// Close closes the connection, without calling OnClose, and waits for the
// client's goroutines to end.
func (c *SignalClient) Close() {
	c.mu.Lock()
	conn, stop := c.conn, c.stop
	c.conn, c.stop = nil, nil
	c.started.Store(false)
	if stop != nil {
		close(stop)
	}
	c.mu.Unlock()
	if conn != nil {
		c.writeMu.Lock()
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		c.writeMu.Unlock()
		_ = conn.Close()
	}
	c.conns.Wait()
}

// dropConnection closes the socket as a network failure would: the loss is
// reported through OnClose.
func (c *SignalClient) dropConnection() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

// SendRequest sends req, waiting at most 5 seconds for the socket.
func (c *SignalClient) SendRequest(req *livekit.SignalRequest) error {
	payload, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("%w: not connected", ErrSignalError)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(signalWriteTimeout))
	if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
		return fmt.Errorf("%w: %w", ErrSignalError, err)
	}
	return nil
}

// SendOffer sends a publisher offer.
func (c *SignalClient) SendOffer(sd webrtc.SessionDescription) error {
	return c.sendSDP(sd, 0, true)
}

// SendAnswer sends a subscriber answer.
func (c *SignalClient) SendAnswer(sd webrtc.SessionDescription) error {
	return c.sendSDP(sd, 0, false)
}

func (c *SignalClient) sendSDP(sd webrtc.SessionDescription, id uint32, offer bool) error {
	desc := ToProtoSessionDescription(sd)
	desc.Id = id
	if offer {
		return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: desc}})
	}
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: desc}})
}

// SendICECandidate trickles a local candidate of the target connection.
func (c *SignalClient) SendICECandidate(candidate webrtc.ICECandidateInit, target livekit.SignalTarget) error {
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{
		Trickle: ToProtoTrickle(candidate, target),
	}})
}

// SendMuteTrack tells the server a published track was muted or unmuted.
func (c *SignalClient) SendMuteTrack(sid string, muted bool) error {
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Mute{
		Mute: &livekit.MuteTrackRequest{Sid: sid, Muted: muted},
	}})
}

// SendSyncState sends the client's state after a resume.
func (c *SignalClient) SendSyncState(state *livekit.SyncState) error {
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_SyncState{SyncState: state}})
}

// SendUpdateTrackSettings changes how a subscribed track is received.
func (c *SignalClient) SendUpdateTrackSettings(settings *livekit.UpdateTrackSettings) error {
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_TrackSetting{TrackSetting: settings}})
}

// SendLeave tells the server the participant is leaving.
func (c *SignalClient) SendLeave() error {
	return c.sendLeave(livekit.DisconnectReason_CLIENT_INITIATED)
}

// sendLeave tells the server the participant is leaving, and why.
func (c *SignalClient) sendLeave(reason livekit.DisconnectReason) error {
	return c.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{
		Leave: &livekit.LeaveRequest{Reason: reason, Action: livekit.LeaveRequest_DISCONNECT},
	}})
}
