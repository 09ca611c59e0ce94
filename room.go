package lksdk

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// DisconnectReason says why a room was left; see livekit.DisconnectReason for
// the values (CLIENT_INITIATED, PARTICIPANT_REMOVED, ROOM_DELETED, ...).
type DisconnectReason = livekit.DisconnectReason

// ConnectParams are the settings of a connection to a room, set with
// ConnectOptions.
type ConnectParams struct {
	AutoSubscribe bool
	Reconnect     bool
	Callback      *RoomCallback

	engine engineOptions
	logger *logr.Logger
}

// ConnectOption sets a connection setting.
type ConnectOption func(*ConnectParams)

// WithAutoSubscribe sets whether the participant subscribes to every track
// published in the room (the default) or only to those it asks for with
// RemoteTrackPublication.SetSubscribed.
func WithAutoSubscribe(val bool) ConnectOption {
	return func(p *ConnectParams) { p.AutoSubscribe = val }
}

// WithICEServers makes the peer connections use these STUN/TURN servers
// instead of those the server suggests. With none, only host candidates are
// used.
func WithICEServers(servers ...webrtc.ICEServer) ConnectOption {
	return func(p *ConnectParams) { p.engine.iceServers, p.engine.iceServersSet = servers, true }
}

// WithICETransportPolicy sets which candidates may be used: all (default) or
// relay (TURN) only.
func WithICETransportPolicy(policy webrtc.ICETransportPolicy) ConnectOption {
	return func(p *ConnectParams) { p.engine.transportPolicy = policy }
}

// WithWebRTCAPI makes the room's peer connections come from api, made with
// NewWebRTCAPI: to share one API (and UDP mux) between rooms, or to limit
// ICE to some interfaces or ports.
func WithWebRTCAPI(api *webrtc.API) ConnectOption {
	return func(p *ConnectParams) { p.engine.api = api }
}

// WithReconnectTimeout sets how long a lost connection is tried again
// (DefaultReconnectTimeout by default) before the room disconnects.
func WithReconnectTimeout(d time.Duration) ConnectOption {
	return func(p *ConnectParams) { p.engine.reconnectTimeout = d }
}

// WithLogger gives the room a logger of its own instead of the one set with
// SetLogger.
func WithLogger(l logr.Logger) ConnectOption {
	return func(p *ConnectParams) { p.logger = &l }
}

// SimulateScenario is a failure or event to simulate, for testing a
// program's handling of it.
type SimulateScenario int

// The scenarios Room.Simulate can play.
const (
	// SimulateSignalReconnect drops the signalling connection.
	SimulateSignalReconnect SimulateScenario = iota
	// SimulateSpeakerUpdate makes the server report this participant as the
	// active speaker for 3 s.
	SimulateSpeakerUpdate
	// SimulateNodeFailure makes the server drop the participant as if its
	// node failed.
	SimulateNodeFailure
	// SimulateServerLeave makes the server close the session as when it shuts
	// down.
	SimulateServerLeave
	// SimulateMigration makes the server close the session as when it moves
	// it to another node.
	SimulateMigration
	// SimulateForceTCP makes the server restart ICE preferring TCP.
	SimulateForceTCP
	// SimulateForceTLS makes the server restart ICE preferring TURN/TLS.
	SimulateForceTLS
)

// Room is a connection to a LiveKit room as a participant.
type Room struct {
	// LocalParticipant is this program's participant.
	LocalParticipant *LocalParticipant

	ignoreSignals // the responses the engine keeps to itself

	callback *RoomCallback
	engine   *RTCEngine
	params   ConnectParams
	log      logr.Logger

	lock           sync.RWMutex
	sid            string
	name           string
	metadata       string
	serverInfo     *livekit.ServerInfo
	sifTrailer     []byte                        // the join response's server-injected-frame trailer
	participants   map[string]*RemoteParticipant // by sid
	activeSpeakers []Participant
	pendingTracks  map[string]pendingTrack // by track sid: media that came before its publication
	held           heldState               // data that came before its sender
	heldLog        rateLog
	state          roomState        // changed only by transition
	reason         DisconnectReason // set on entering closing
	closingFrom    roomState        // the state closing was entered from
	cancelJoin     context.CancelFunc

	tokenSource func() (string, error)

	dispatcher *serialQueue
	goroutines goroutineGroup
	done       chan struct{} // closed when the room is fully disconnected
	left       chan struct{} // closed once the server was told of the leave (see markLeft)
	leftDone   bool          // left is closed; under lock

	dataExt roomDataExt // RPC, data streams, typed data packets
}

type pendingTrack struct {
	track    *webrtc.TrackRemote
	receiver *webrtc.RTPReceiver
}

// CreateRoom returns a Room that is not connected; Join connects it.
// callback may be nil.
func CreateRoom(callback *RoomCallback) *Room {
	cb := NewRoomCallback()
	cb.Merge(callback)
	r := &Room{
		callback:      cb,
		participants:  map[string]*RemoteParticipant{},
		pendingTracks: map[string]pendingTrack{},
		held:          heldState{bySender: map[string]*heldSender{}},
		done:          make(chan struct{}),
		left:          make(chan struct{}),
	}
	r.LocalParticipant = newLocalParticipant(r)
	return r
}

// ConnectToRoom joins the room info names as the participant it describes,
// with a token signed by info's API key and secret (allowed to update its
// own metadata). It returns once the room is connected, within 15 s.
func ConnectToRoom(url string, info ConnectInfo, callback *RoomCallback, opts ...ConnectOption) (*Room, error) {
	r := CreateRoom(callback)
	if err := r.Join(url, info, opts...); err != nil {
		return nil, err
	}
	return r, nil
}

// ConnectToRoomWithToken joins a room with a token made elsewhere.
func ConnectToRoomWithToken(url string, token string, callback *RoomCallback, opts ...ConnectOption) (*Room, error) {
	r := CreateRoom(callback)
	if err := r.JoinWithToken(url, token, opts...); err != nil {
		return nil, err
	}
	return r, nil
}

// Join connects the room as the participant info describes, within 15 s.
func (r *Room) Join(url string, info ConnectInfo, opts ...ConnectOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultJoinTimeout)
	defer cancel()
	return r.JoinWithContext(ctx, url, info, opts...)
}

// JoinWithContext is Join bounded by ctx.
func (r *Room) JoinWithContext(ctx context.Context, url string, info ConnectInfo, opts ...ConnectOption) error {
	grant := &auth.VideoGrant{}
	grant.SetCanUpdateOwnMetadata(true)
	token, err := NewJoinToken(info, grant, 0)
	if err != nil {
		return err
	}
	// A full reconnect joins again with a token of its own.
	return r.join(ctx, url, token, func() (string, error) { return NewJoinToken(info, grant, 0) }, opts)
}

// JoinWithToken connects the room with a token, within 15 s.
func (r *Room) JoinWithToken(url string, token string, opts ...ConnectOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultJoinTimeout)
	defer cancel()
	return r.JoinWithTokenContext(ctx, url, token, opts...)
}

// JoinWithTokenContext connects the room with a token, bounded by ctx. On
// failure nothing is left running, and the error says which phase failed
// (see ConnectError).
func (r *Room) JoinWithTokenContext(ctx context.Context, url, token string, opts ...ConnectOption) error {
	return r.join(ctx, url, token, nil, opts)
}

// join connects the room; tokenSource, when set, mints the token of a full
// reconnect.
func (r *Room) join(ctx context.Context, url, token string, tokenSource func() (string, error), opts []ConnectOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.startJoin(cancel); err != nil {
		return err
	}

	params := ConnectParams{AutoSubscribe: true, Reconnect: true}
	for _, o := range opts {
		o(&params)
	}
	params.engine.autoSubscribe = params.AutoSubscribe
	params.engine.noReconnect = !params.Reconnect
	r.callback.Merge(params.Callback) // no callback runs before the join
	r.lock.Lock()
	r.params, r.tokenSource = params, tokenSource
	if params.logger != nil {
		r.log = *params.logger // else the package's, as it is at each line
	}
	params.engine.log = r.log
	r.lock.Unlock()

	e := newRTCEngine(params.engine, r)
	dispatcher := newSerialQueue()
	r.lock.Lock()
	r.engine, r.dispatcher = e, dispatcher
	r.lock.Unlock()
	r.LocalParticipant.engine = e

	_, err := e.JoinContext(ctx, url, token)
	return r.finishJoin(err)
}

// joined records the room, the local participant and the others. The
// engine runs it on its loop before any other response.
func (r *Room) joined(join *livekit.JoinResponse) {
	r.lock.Lock()
	r.sid, r.name, r.metadata = join.Room.GetSid(), join.Room.GetName(), join.Room.GetMetadata()
	r.serverInfo = join.ServerInfo
	r.sifTrailer = join.SifTrailer
	r.lock.Unlock()
	r.LocalParticipant.applyInfo(join.Participant)
	r.applyParticipants(join.OtherParticipants)
}

// SifTrailer returns the room's server-injected-frame trailer from the
// join response: the server ends the frames it injects into an encrypted
// track (in clear) with it, so that decryptors (pkg/e2ee) pass them on
// instead of counting them as failures. Nil before joining or when the
// server sends none.
func (r *Room) SifTrailer() []byte {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return append([]byte(nil), r.sifTrailer...)
}

// emit queues a callback for the dispatcher, within MaxPendingCallbacks.
func (r *Room) emit(fn func(cb *RoomCallback)) {
	cb := r.callback
	r.post(func() { fn(cb) })
}

// SID returns the room's session id (RM_...).
func (r *Room) SID() string {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.sid
}

// Name returns the room's name.
func (r *Room) Name() string {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.name
}

// Metadata returns the room's metadata.
func (r *Room) Metadata() string {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.metadata
}

// ServerInfo returns what the server said of itself when joining.
func (r *Room) ServerInfo() *livekit.ServerInfo {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.serverInfo
}

// GetParticipant returns the remote participant with session id sid, or nil.
func (r *Room) GetParticipant(sid string) *RemoteParticipant {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.participants[sid]
}

// GetParticipantBySID returns the remote participant with session id sid,
// or nil. It is GetParticipant under its newer name.
func (r *Room) GetParticipantBySID(sid string) *RemoteParticipant { return r.GetParticipant(sid) }

// GetRemoteParticipants returns the remote participants. It is
// GetParticipants under its newer name.
func (r *Room) GetRemoteParticipants() []*RemoteParticipant { return r.GetParticipants() }

// GetParticipantByIdentity returns the remote participant with this
// identity, or nil.
func (r *Room) GetParticipantByIdentity(identity string) *RemoteParticipant {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return r.participantByIdentityLocked(identity)
}

func (r *Room) participantByIdentityLocked(identity string) *RemoteParticipant {
	for _, p := range r.participants {
		if p.Identity() == identity {
			return p
		}
	}
	return nil
}

// GetParticipants returns the remote participants.
func (r *Room) GetParticipants() []*RemoteParticipant {
	r.lock.RLock()
	defer r.lock.RUnlock()
	out := make([]*RemoteParticipant, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p)
	}
	return out
}

// ActiveSpeakers returns the participants speaking now, loudest first.
func (r *Room) ActiveSpeakers() []Participant {
	r.lock.RLock()
	defer r.lock.RUnlock()
	return append([]Participant(nil), r.activeSpeakers...)
}

// Simulate plays a scenario, for testing how a program copes with it.
func (r *Room) Simulate(scenario SimulateScenario) {
	if r.engine == nil {
		return
	}
	var s *livekit.SimulateScenario
	switch scenario {
	case SimulateSignalReconnect:
		r.engine.simulateSignalLoss()
		return
	case SimulateSpeakerUpdate:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_SpeakerUpdate{SpeakerUpdate: 3}}
	case SimulateNodeFailure:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_NodeFailure{NodeFailure: true}}
	case SimulateServerLeave:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_ServerLeave{ServerLeave: true}}
	case SimulateMigration:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_Migration{Migration: true}}
	case SimulateForceTCP:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_SwitchCandidateProtocol{SwitchCandidateProtocol: livekit.CandidateProtocol_TCP}}
	case SimulateForceTLS:
		s = &livekit.SimulateScenario{Scenario: &livekit.SimulateScenario_SwitchCandidateProtocol{SwitchCandidateProtocol: livekit.CandidateProtocol_TLS}}
	default:
		return
	}
	_ = r.engine.sendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Simulate{Simulate: s}})
}
