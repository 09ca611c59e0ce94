package lksdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

const (
	reliableDataChannel = "_reliable"
	lossyDataChannel    = "_lossy"

	defaultJoinTimeout = 15 * time.Second
	// maxDataPacketSize is the largest DataPacket the server reads.
	maxDataPacketSize = 65535
	// dataBufferHigh is how much data may wait in a data channel's send
	// buffer before a publish waits for it to drain.
	dataBufferHigh = 1 << 20
)

// RTCEngine is a participant's connection to the server: the signalling
// socket and the two peer connections (the publisher, which sends media and
// data, and the subscriber, which receives them). Room uses it; most programs
// never touch it.
//
// Signal responses and peer connection events are handled in the order they
// arrive, on one goroutine of the engine's; the callbacks below are called
// from it and must not block.
type RTCEngine struct {
	// JoinTimeout bounds Join (15 s when zero).
	JoinTimeout time.Duration

	OnDisconnected          func()
	OnMediaTrack            func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver)
	OnParticipantUpdate     func([]*livekit.ParticipantInfo)
	OnActiveSpeakersChanged func([]*livekit.SpeakerInfo)
	OnSpeakersChanged       func([]*livekit.SpeakerInfo)
	OnDataReceived          func(userPacket *livekit.UserPacket)
	OnConnectionQuality     func([]*livekit.ConnectionQualityInfo)
	OnRoomUpdate            func(room *livekit.Room)
	OnRestarting            func()
	OnRestarted             func(*livekit.JoinResponse)
	OnResuming              func()
	OnResumed               func()

	client *SignalClient
	opts   engineOptions

	mu          sync.Mutex
	publisher   *PCTransport
	subscriber  *PCTransport
	reliableDC  *webrtc.DataChannel
	lossyDC     *webrtc.DataChannel
	join        *livekit.JoinResponse
	token       string
	url         string
	closed      bool
	publisherUp bool   // a publisher offer was made
	sid         string // the participant's session id
	episode     *episode
	leaving     bool // the room is closing: no more recovery

	state   atomic.Int32 // a ConnectionState
	handler engineHandler

	loop *serialQueue

	trackPublishedCh chan *livekit.TrackPublishedResponse
	pendingMu        sync.Mutex
	pendingTracks    map[string]chan *livekit.TrackInfo
	pendingRequests  map[uint32]chan *livekit.RequestResponse
	requestID        atomic.Uint32

	subscriberConnected *stateFlag
	publisherConnected  *stateFlag
	reliableOpen        *stateFlag
	serverDataOpen      *stateFlag // the server's reliable channel to us is open
	lossyOpen           *stateFlag
	reliableBuf         *bufferWatch // the reliable channel's send buffer

	inbound    *inboundData  // bounds received data
	signalGate *flowGate     // bounds signal responses waiting for the loop
	stop       chan struct{} // closed by Close

	dataMu      sync.Mutex
	reliableSeq uint32
}

// episode is one recovery of a lost connection.
type episode struct {
	cancel   context.CancelFunc
	done     chan struct{}
	reason   livekit.ReconnectReason
	escalate atomic.Bool // go straight to a full reconnect
}

// engineOptions are the WebRTC settings a Room passes to its engine.
type engineOptions struct {
	api              *webrtc.API
	iceServers       []webrtc.ICEServer
	iceServersSet    bool
	transportPolicy  webrtc.ICETransportPolicy
	autoSubscribe    bool
	reconnectTimeout time.Duration
	noReconnect      bool               // a lost connection ends the room
	log              logr.Logger        // every line the engine logs; the package's when unset
	dataCryptor      DataCryptor        // WithDataCryptor; nil: data goes in clear
	encryption       *EncryptionOptions // WithEncryption; nil: tracks as they are
}

// NewRTCEngine returns an engine that is not connected.
func NewRTCEngine() *RTCEngine {
	return newRTCEngine(engineOptions{autoSubscribe: true}, nil)
}

// newRTCEngine returns an engine that tells h of what happens (nothing but
// its callback fields when h is nil).
func newRTCEngine(opts engineOptions, h engineHandler) *RTCEngine {
	if h == nil {
		h = noHandler{}
	}
	client := NewSignalClient()
	client.log = opts.log
	return &RTCEngine{
		client:              client,
		opts:                opts,
		handler:             h,
		trackPublishedCh:    make(chan *livekit.TrackPublishedResponse, 32),
		pendingTracks:       map[string]chan *livekit.TrackInfo{},
		pendingRequests:     map[uint32]chan *livekit.RequestResponse{},
		subscriberConnected: newStateFlag(),
		publisherConnected:  newStateFlag(),
		reliableOpen:        newStateFlag(),
		serverDataOpen:      newStateFlag(),
		lossyOpen:           newStateFlag(),
		inbound:             newInboundData(),
		signalGate:          newFlowGate(MaxPendingSignalResponses, MaxPendingSignalBytes),
		stop:                make(chan struct{}),
	}
}

// Join connects to the room the token grants, with params.
func (e *RTCEngine) Join(url string, token string, params *ConnectParams) (*livekit.JoinResponse, error) {
	timeout := e.JoinTimeout
	if timeout <= 0 {
		timeout = defaultJoinTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if params != nil {
		e.opts.autoSubscribe = params.AutoSubscribe
	}
	return e.JoinContext(ctx, url, token)
}

// JoinContext connects to the room the token grants and returns when the
// server's join response is in and the primary peer connection is up. On
// failure everything the engine started is stopped again.
func (e *RTCEngine) JoinContext(ctx context.Context, url, token string) (*livekit.JoinResponse, error) {
	join, err := e.client.JoinWithContext(ctx, url, token, SignalOptions{AutoSubscribe: e.opts.autoSubscribe})
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.join, e.url, e.token, e.sid = join, url, token, join.Participant.GetSid()
	e.mu.Unlock()
	loop := newSerialQueue()
	e.mu.Lock()
	e.loop = loop
	e.mu.Unlock()
	loop.post(func() { e.handler.joined(join) })

	if err := e.createTransports(join); err != nil {
		e.abandonJoin(ctx)
		return nil, &ConnectError{Phase: PhaseICE, Err: err}
	}
	e.client.deliver = e.deliverResponse
	e.client.OnCloseWithError = func(err error) {
		e.post(func() {
			e.startRecovery(recoverResume, livekit.ReconnectReason_RR_SIGNAL_DISCONNECTED, fmt.Errorf("signal connection lost: %w", err))
		})
	}
	e.client.Start()

	primary := e.subscriberConnected
	if !join.SubscriberPrimary {
		primary = e.publisherConnected
		e.negotiatePublisher()
	}
	if err := primary.wait(ctx); err != nil {
		e.abandonJoin(ctx)
		return nil, &ConnectError{Phase: PhaseICE, Err: fmt.Errorf("%w: peer connection not connected: %w", ErrConnectionTimeout, err)}
	}
	e.waitServerData(ctx)
	return join, nil
}

// abandonJoin ends a join that failed after the server took it: the server
// is told the participant leaves (it would otherwise wait for it to come
// back), and the engine is closed.
func (e *RTCEngine) abandonJoin(ctx context.Context) {
	reason := livekit.DisconnectReason_JOIN_FAILURE
	if errors.Is(ctx.Err(), context.Canceled) {
		reason = livekit.DisconnectReason_CLIENT_INITIATED // Disconnect during the join
	}
	if err := e.client.sendLeave(reason); err != nil {
		e.logger().V(1).Info("could not tell the server of the failed join", "error", err.Error())
	}
	e.Close()
}

func (e *RTCEngine) rtcConfiguration(join *livekit.JoinResponse) webrtc.Configuration {
	cfg := webrtc.Configuration{
		ICEServers:         FromProtoIceServers(join.IceServers),
		ICETransportPolicy: e.opts.transportPolicy,
		SDPSemantics:       webrtc.SDPSemanticsUnifiedPlan,
		BundlePolicy:       webrtc.BundlePolicyMaxBundle,
	}
	if e.opts.iceServersSet {
		cfg.ICEServers = e.opts.iceServers
	}
	if join.GetClientConfiguration().GetForceRelay() == livekit.ClientConfigSetting_ENABLED {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return cfg
}

func (e *RTCEngine) createTransports(join *livekit.JoinResponse) error {
	api := e.opts.api
	if api == nil {
		var err error
		if api, err = defaultWebRTCAPI(); err != nil {
			return err
		}
	}
	cfg := e.rtcConfiguration(join)
	pub, err := newPCTransport(api, cfg, e.opts.log)
	if err != nil {
		return err
	}
	sub, err := newPCTransport(api, cfg, e.opts.log)
	if err != nil {
		_ = pub.Close()
		return err
	}
	e.mu.Lock()
	e.publisher, e.subscriber = pub, sub
	e.mu.Unlock()

	pub.OnOffer = func(sd webrtc.SessionDescription) {
		if err := e.client.SendOffer(sd); err != nil {
			e.logger().V(1).Info("could not send offer", "error", err)
		}
	}
	e.watchTransport(pub, livekit.SignalTarget_PUBLISHER, e.publisherConnected)
	e.watchTransport(sub, livekit.SignalTarget_SUBSCRIBER, e.subscriberConnected)

	sub.pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		e.post(func() {
			if e.transport(livekit.SignalTarget_SUBSCRIBER) != sub {
				return // a track of a session that was replaced
			}
			e.handler.mediaTrack(track, receiver)
			if e.OnMediaTrack != nil {
				e.OnMediaTrack(track, receiver)
			}
		})
	})
	// The server sends data on channels it opens on the subscriber
	// connection (on the publisher one when it is the primary).
	for _, t := range []*PCTransport{sub, pub} {
		t.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			e.receiveData(dc)
			if dc.Label() == reliableDataChannel {
				dc.OnOpen(func() {
					if e.transport(livekit.SignalTarget_SUBSCRIBER) == sub || e.transport(livekit.SignalTarget_PUBLISHER) == pub {
						e.serverDataOpen.set()
					}
				})
			}
		})
	}

	ordered := false
	var noRetransmits uint16
	reliable, err := pub.pc.CreateDataChannel(reliableDataChannel, &webrtc.DataChannelInit{})
	if err != nil {
		return err
	}
	lossy, err := pub.pc.CreateDataChannel(lossyDataChannel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &noRetransmits})
	if err != nil {
		return err
	}
	watch := newBufferWatch(reliable)
	e.mu.Lock()
	e.reliableDC, e.lossyDC, e.reliableBuf = reliable, lossy, watch
	e.mu.Unlock()
	// A channel of a session that was replaced does not touch the flags.
	current := func(dc **webrtc.DataChannel, mine *webrtc.DataChannel) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return *dc == mine
	}
	reliable.OnOpen(func() {
		if current(&e.reliableDC, reliable) {
			e.reliableOpen.set()
		}
	})
	reliable.OnClose(func() {
		watch.onClose() // those waiting for its buffer see it closed
		if current(&e.reliableDC, reliable) {
			e.reliableOpen.reset()
		}
	})
	lossy.OnOpen(func() {
		if current(&e.lossyDC, lossy) {
			e.lossyOpen.set()
		}
	})
	lossy.OnClose(func() {
		if current(&e.lossyDC, lossy) {
			e.lossyOpen.reset()
		}
	})
	e.receiveData(reliable)
	e.receiveData(lossy)
	return nil
}

// watchTransport trickles t's candidates to the server and tracks whether
// it is connected; a failed connection is reported as lost.
func (e *RTCEngine) watchTransport(t *PCTransport, target livekit.SignalTarget, connected *stateFlag) {
	t.OnCandidate = func(c webrtc.ICECandidateInit) {
		if e.transport(target) != t {
			return
		}
		if err := e.client.SendICECandidate(c, target); err != nil {
			e.logger().V(1).Info("could not send ICE candidate", "error", err)
		}
	}
	t.pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		e.logger().V(1).Info("peer connection state", "target", target, "state", state)
		switch state {
		case webrtc.PeerConnectionStateConnected:
			if e.transport(target) == t {
				connected.set()
			}
		case webrtc.PeerConnectionStateFailed:
			if e.transport(target) != t {
				return // a connection of a session that was replaced
			}
			connected.reset()
			e.post(func() {
				if e.transport(target) == t {
					e.startRecovery(recoverResume, reconnectReasonFor(target), fmt.Errorf("%s peer connection failed", target))
				}
			})
		case webrtc.PeerConnectionStateDisconnected:
			// Nothing came from the server for pion's disconnected timeout
			// (5 s unless a SettingEngine says otherwise): its media node
			// may be gone while the signal connection, relayed by another
			// node of a cluster, lives on. Resuming asks the cluster at
			// once; if the session is gone, the refusal leads to a full
			// reconnect.
			if e.transport(target) != t {
				return
			}
			connected.reset()
			e.post(func() {
				if e.transport(target) == t && t.pc.ConnectionState() == webrtc.PeerConnectionStateDisconnected {
					e.startRecovery(recoverResume, reconnectReasonFor(target), fmt.Errorf("%s peer connection disconnected", target))
				}
			})
		case webrtc.PeerConnectionStateClosed:
			if e.transport(target) == t {
				connected.reset()
			}
		}
	})
}

func (e *RTCEngine) transport(target livekit.SignalTarget) *PCTransport {
	e.mu.Lock()
	defer e.mu.Unlock()
	if target == livekit.SignalTarget_PUBLISHER {
		return e.publisher
	}
	return e.subscriber
}

// serverDataWait bounds how long a join waits for the server's data channel.
const serverDataWait = 3 * time.Second

// waitServerData waits, briefly, until the channel the server sends data on
// is open: the server drops what it sends before, so a room that reports
// itself connected can receive data.
func (e *RTCEngine) waitServerData(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, serverDataWait)
	defer cancel()
	if err := e.serverDataOpen.wait(ctx); err != nil {
		e.logger().V(1).Info("the server's data channel did not open", "error", err.Error())
	}
}

// negotiatePublisher makes the publisher offer, once.
func (e *RTCEngine) negotiatePublisher() {
	e.mu.Lock()
	pub, up := e.publisher, e.publisherUp
	e.publisherUp = true
	e.mu.Unlock()
	if pub != nil && !up {
		pub.Negotiate()
	}
}

// ensurePublisherConnected connects the publisher peer connection if it is
// not yet, and waits until it is connected.
func (e *RTCEngine) ensurePublisherConnected(ctx context.Context) error {
	e.negotiatePublisher()
	if err := e.publisherConnected.wait(ctx); err != nil {
		return &ConnectError{Phase: PhasePublisher, Err: fmt.Errorf("%w: publisher not connected: %w", ErrConnectionTimeout, err)}
	}
	return nil
}

// IsConnected reports whether the signal connection and the primary peer
// connection are up.
func (e *RTCEngine) IsConnected() bool {
	e.mu.Lock()
	join := e.join
	e.mu.Unlock()
	if join == nil || !e.client.IsStarted() {
		return false
	}
	if join.SubscriberPrimary {
		return e.subscriberConnected.isSet()
	}
	return e.publisherConnected.isSet()
}

// TrackPublishedChan receives the server's confirmations of published
// tracks. It is kept for compatibility; it drops what is not read in time.
func (e *RTCEngine) TrackPublishedChan() <-chan *livekit.TrackPublishedResponse {
	return e.trackPublishedCh
}

// logger returns the room's logger, or the package's (SetLogger) when the
// room has none of its own.
func (e *RTCEngine) logger() logr.Logger {
	if e.opts.log.GetSink() == nil {
		return getLogger()
	}
	return e.opts.log
}

// onLoop reports whether the caller runs on the engine's loop.
func (e *RTCEngine) onLoop() bool {
	e.mu.Lock()
	loop := e.loop
	e.mu.Unlock()
	return loop != nil && loop.onQueue()
}

// Close closes the connections and stops the engine's goroutines. It does
// not tell the server; Room.Disconnect does.
func (e *RTCEngine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stop) // before the channels close: their readers may wait on it

	e.stopRecovery()
	e.state.Store(int32(ConnectionStateDisconnected))
	e.client.Close()
	e.closeTransports()
	e.mu.Lock()
	loop := e.loop
	e.mu.Unlock()
	if loop != nil {
		loop.closeAndWait()
	}
}
