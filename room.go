package lksdk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
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

	callback *RoomCallback
	engine   *RTCEngine
	params   ConnectParams
	log      logr.Logger

	lock           sync.RWMutex
	sid            string
	name           string
	metadata       string
	serverInfo     *livekit.ServerInfo
	participants   map[string]*RemoteParticipant // by sid
	activeSpeakers []Participant
	pendingTracks  map[string]pendingTrack          // by track sid: media that came before its publication
	heldData       map[string][]*livekit.DataPacket // by sender identity: data that came before its sender
	heldTimers     []*time.Timer
	state          roomState        // changed only by transition
	reason         DisconnectReason // set on entering closing
	cancelJoin     context.CancelFunc

	tokenSource func() (string, error)

	dispatcher *serialQueue
	goroutines goroutineGroup
	done       chan struct{} // closed when the room is fully disconnected
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
		heldData:      map[string][]*livekit.DataPacket{},
		done:          make(chan struct{}),
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
	r.tokenSource = func() (string, error) { return NewJoinToken(info, grant, 0) }
	return r.JoinWithTokenContext(ctx, url, token, opts...)
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
	r.params = params
	if params.logger != nil {
		r.log = *params.logger // else the package's, as it is at each line
	}
	params.engine.log = r.log
	r.lock.Unlock()

	e := newRTCEngine(params.engine)
	e.onJoin = r.applyJoin
	e.onResponse = r.handleResponse
	e.onTrack = r.handleTrack
	e.onData = r.handleData
	e.hooks = recoveryHooks{
		reconnecting:          r.recoveryStarted,
		reconnected:           r.recovered,
		rejoined:              r.applyRejoin,
		restarted:             r.LocalParticipant.republish,
		syncState:             r.syncState,
		failed:                func(reason DisconnectReason) { r.beginClose(reason, false) },
		tokenSource:           r.tokenSource,
		beforeCloseTransports: r.LocalParticipant.stopRTCPReaders,
	}
	e.onSubscriberOffer = r.checkUnsubscribed
	dispatcher := newSerialQueue()
	r.lock.Lock()
	r.engine, r.dispatcher = e, dispatcher
	r.lock.Unlock()
	r.LocalParticipant.engine = e

	_, err := e.JoinContext(ctx, url, token)
	return r.finishJoin(err)
}

// applyJoin records the room, the local participant and the others. The
// engine runs it on its loop before any other response.
func (r *Room) applyJoin(join *livekit.JoinResponse) {
	r.lock.Lock()
	r.sid, r.name, r.metadata = join.Room.GetSid(), join.Room.GetName(), join.Room.GetMetadata()
	r.serverInfo = join.ServerInfo
	r.lock.Unlock()
	r.LocalParticipant.applyInfo(join.Participant)
	r.applyParticipants(join.OtherParticipants)
}

// emit queues a callback for the dispatcher.
func (r *Room) emit(fn func(cb *RoomCallback)) {
	cb := r.callback
	r.dispatcher.post(func() { fn(cb) })
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
		r.engine.client.dropConnection()
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
	_ = r.engine.client.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Simulate{Simulate: s}})
}

// --- events, applied on the engine's loop ---

func (r *Room) handleResponse(res *livekit.SignalResponse) {
	switch m := res.Message.(type) {
	case *livekit.SignalResponse_Update:
		r.applyParticipants(m.Update.Participants)
	case *livekit.SignalResponse_RoomUpdate:
		r.applyRoom(m.RoomUpdate.Room)
	case *livekit.SignalResponse_SpeakersChanged:
		r.applySpeakers(m.SpeakersChanged.Speakers)
	case *livekit.SignalResponse_ConnectionQuality:
		r.applyQuality(m.ConnectionQuality.Updates)
	case *livekit.SignalResponse_Mute:
		r.applyServerMute(m.Mute)
	case *livekit.SignalResponse_TrackSubscribed:
		if pub, _ := r.LocalParticipant.getPublication(m.TrackSubscribed.GetTrackSid()).(*LocalTrackPublication); pub != nil {
			pub.subscribed.set()
		}
	case *livekit.SignalResponse_TrackUnpublished:
		// Unpublishing waits for the track's writer: never on the loop.
		sid := m.TrackUnpublished.TrackSid
		r.goroutines.start(func() { _ = r.LocalParticipant.UnpublishTrack(sid) })
	case *livekit.SignalResponse_SubscriptionResponse:
		r.subscriptionFailed(m.SubscriptionResponse.TrackSid)
	case *livekit.SignalResponse_Leave:
		r.handleLeave(m.Leave)
	}
}

func (r *Room) applyRoom(room *livekit.Room) {
	r.lock.Lock()
	old := r.metadata
	r.metadata = room.GetMetadata()
	if room.GetSid() != "" {
		r.sid = room.GetSid()
	}
	r.lock.Unlock()
	if old != room.GetMetadata() {
		md := room.GetMetadata()
		r.emit(func(cb *RoomCallback) { cb.OnRoomMetadataChanged(md) })
	}
}

func (r *Room) applyParticipants(infos []*livekit.ParticipantInfo) {
	local := r.LocalParticipant
	for _, pi := range infos {
		if pi.Sid == local.SID() || pi.Identity == local.Identity() {
			if pi.Sid == local.SID() {
				r.applyLocalInfo(pi)
			}
			continue
		}
		r.lock.RLock()
		rp := r.participants[pi.Sid]
		r.lock.RUnlock()

		if pi.State == livekit.ParticipantInfo_DISCONNECTED {
			if rp != nil {
				rp.applyInfo(pi) // its last word: why it left
				r.removeParticipant(rp)
			}
			continue
		}
		isNew := rp == nil
		if isNew {
			// A new session of an identity replaces the old one.
			if old := r.GetParticipantByIdentity(pi.Identity); old != nil {
				r.removeParticipant(old)
			}
			rp = newRemoteParticipant(r)
		}
		changes, ok := rp.applyInfo(pi)
		if !ok {
			continue
		}
		if isNew {
			r.lock.Lock()
			r.participants[pi.Sid] = rp
			r.lock.Unlock()
			r.emit(func(cb *RoomCallback) { cb.OnParticipantConnected(rp) })
			r.releaseData(pi.Identity)
		}
		r.emitInfoChanges(changes, rp)
		tracks := rp.applyTracks(pi)
		for _, pub := range tracks.published {
			r.emit(func(cb *RoomCallback) { cb.OnTrackPublished(pub, rp) })
			r.resolvePendingTrack(pub)
		}
		for _, pub := range tracks.muted {
			muted := pub.IsMuted()
			r.emit(func(cb *RoomCallback) {
				if muted {
					cb.OnTrackMuted(pub, rp)
				} else {
					cb.OnTrackUnmuted(pub, rp)
				}
			})
		}
		for _, pub := range tracks.unpublished {
			r.unpublished(pub, rp)
		}
	}
}

func (r *Room) emitInfoChanges(ch infoChanges, p Participant) {
	if ch.metadataChanged {
		old := ch.oldMetadata
		r.emit(func(cb *RoomCallback) { cb.OnMetadataChanged(old, p) })
	}
	if ch.nameChanged {
		old := ch.oldName
		r.emit(func(cb *RoomCallback) { cb.OnNameChanged(old, p) })
	}
	if len(ch.attributes) > 0 {
		attrs := ch.attributes
		r.emit(func(cb *RoomCallback) { cb.OnAttributesChanged(attrs, p) })
	}
}

func (r *Room) applyLocalInfo(pi *livekit.ParticipantInfo) {
	local := r.LocalParticipant
	changes, ok := local.applyInfo(pi)
	if !ok {
		return
	}
	r.emitInfoChanges(changes, local)
	for _, ti := range pi.Tracks {
		if pub, _ := local.getPublication(ti.Sid).(*LocalTrackPublication); pub != nil {
			pub.mu.Lock()
			pub.info = ti
			pub.mu.Unlock()
		}
	}
}

func (r *Room) removeParticipant(rp *RemoteParticipant) {
	r.lock.Lock()
	delete(r.participants, rp.SID())
	r.lock.Unlock()
	for _, pub := range rp.removeAllTracks() {
		r.unpublished(pub, rp)
	}
	r.emit(func(cb *RoomCallback) { cb.OnParticipantDisconnected(rp) })
}

// unpublished reports a remote track gone: unsubscribed first if it was.
func (r *Room) unpublished(pub *RemoteTrackPublication, rp *RemoteParticipant) {
	r.unsubscribed(pub, rp)
	r.emit(func(cb *RoomCallback) { cb.OnTrackUnpublished(pub, rp) })
}

func (r *Room) unsubscribed(pub *RemoteTrackPublication, rp *RemoteParticipant) {
	if track := pub.clearReceiver(); track != nil {
		r.emit(func(cb *RoomCallback) { cb.OnTrackUnsubscribed(track, pub, rp) })
	}
}

// handleTrack matches a received media track to its publication: its stream
// id is "PA_participant|TR_track" and its id the track's sid.
func (r *Room) handleTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	psid, _, _ := strings.Cut(track.StreamID(), "|")
	rp := r.GetParticipant(psid)
	var pub *RemoteTrackPublication
	if rp != nil {
		pub = rp.GetTrackPublication(track.ID())
	}
	if pub == nil {
		r.lock.Lock()
		r.pendingTracks[track.ID()] = pendingTrack{track: track, receiver: receiver}
		r.lock.Unlock()
		return
	}
	r.subscribed(pub, rp, track, receiver)
}

func (r *Room) resolvePendingTrack(pub *RemoteTrackPublication) {
	r.lock.Lock()
	pt, ok := r.pendingTracks[pub.SID()]
	delete(r.pendingTracks, pub.SID())
	r.lock.Unlock()
	if ok {
		r.subscribed(pub, pub.participant, pt.track, pt.receiver)
	}
}

func (r *Room) subscribed(pub *RemoteTrackPublication, rp *RemoteParticipant, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	pub.setReceiver(track, receiver)
	r.emit(func(cb *RoomCallback) { cb.OnTrackSubscribed(track, pub, rp) })
}

// checkUnsubscribed reports the subscribed tracks whose media section the
// server's new offer made inactive: the server stopped sending them.
func (r *Room) checkUnsubscribed(offer webrtc.SessionDescription, transceivers []*webrtc.RTPTransceiver) {
	sending := sendingMids(offer.SDP)
	byReceiver := map[*webrtc.RTPReceiver]string{}
	for _, t := range transceivers {
		if t.Receiver() != nil {
			byReceiver[t.Receiver()] = t.Mid()
		}
	}
	for _, rp := range r.GetParticipants() {
		for _, pub := range rp.TrackPublications() {
			receiver := pub.Receiver()
			if receiver == nil {
				continue
			}
			if mid, ok := byReceiver[receiver]; ok && !sending[mid] {
				r.unsubscribed(pub, rp)
			}
		}
	}
}

// sendingMids returns the mids of the media sections in which the offerer
// sends.
func sendingMids(sdpText string) map[string]bool {
	out := map[string]bool{}
	parsed := &sdp.SessionDescription{}
	if err := parsed.Unmarshal([]byte(sdpText)); err != nil {
		return out
	}
	for _, m := range parsed.MediaDescriptions {
		mid, _ := m.Attribute(sdp.AttrKeyMID)
		if m.MediaName.Port.Value == 0 {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "sendonly" || a.Key == "sendrecv" {
				out[mid] = true
			}
		}
	}
	return out
}

func (r *Room) subscriptionFailed(trackSID string) {
	for _, rp := range r.GetParticipants() {
		if rp.GetTrackPublication(trackSID) != nil {
			r.emit(func(cb *RoomCallback) { cb.OnTrackSubscriptionFailed(trackSID, rp) })
			return
		}
	}
}

const (
	// heldDataTimeout bounds how long data from a participant the room does
	// not know yet waits for the participant's arrival. The server announces
	// participants that publish nothing in batches, every 3 s.
	heldDataTimeout = 5 * time.Second
	heldDataMax     = 4096
)

// handleData delivers a user data packet. Data from a sender the room does
// not know yet is held until the sender is known (or heldDataTimeout), so
// that callbacks always get the sender, and in order.
func (r *Room) handleData(dp *livekit.DataPacket) {
	if dp.GetUser() == nil {
		return
	}
	identity := senderIdentity(dp)
	if identity != "" {
		r.lock.Lock()
		held, holding := r.heldData[identity]
		if holding || r.participantByIdentityLocked(identity) == nil {
			if len(held) < heldDataMax {
				r.heldData[identity] = append(held, dp)
				if !holding {
					r.heldTimers = append(r.heldTimers, time.AfterFunc(heldDataTimeout, func() {
						r.engine.loop.post(func() { r.releaseData(identity) })
					}))
				}
				r.lock.Unlock()
				return
			}
			r.lock.Unlock()
			r.releaseData(identity) // too much held: deliver it as it is
			r.deliverData(dp, nil)
			return
		}
		r.lock.Unlock()
	}
	r.deliverData(dp, r.GetParticipantByIdentity(identity))
}

// releaseData delivers the data held for identity.
func (r *Room) releaseData(identity string) {
	r.lock.Lock()
	held := r.heldData[identity]
	delete(r.heldData, identity)
	rp := r.participantByIdentityLocked(identity)
	r.lock.Unlock()
	for _, dp := range held {
		r.deliverData(dp, rp)
	}
}

func senderIdentity(dp *livekit.DataPacket) string {
	if dp.ParticipantIdentity != "" {
		return dp.ParticipantIdentity
	}
	return dp.GetUser().GetParticipantIdentity()
}

func (r *Room) deliverData(dp *livekit.DataPacket, rp *RemoteParticipant) {
	user := dp.GetUser()
	params := DataReceiveParams{Sender: rp, SenderIdentity: senderIdentity(dp), Topic: user.GetTopic(), Kind: dp.Kind}
	payload := user.Payload
	r.emit(func(cb *RoomCallback) {
		cb.OnDataReceived(payload, rp)
		cb.OnDataPacket(payload, params)
	})
}

func (r *Room) applySpeakers(speakers []*livekit.SpeakerInfo) {
	for _, s := range speakers {
		var p Participant
		var changed bool
		if s.Sid == r.LocalParticipant.SID() {
			changed, p = r.LocalParticipant.setSpeaking(s.Level, s.Active), r.LocalParticipant
		} else if rp := r.GetParticipant(s.Sid); rp != nil {
			changed, p = rp.setSpeaking(s.Level, s.Active), rp
		} else {
			continue
		}
		if changed {
			r.emit(func(cb *RoomCallback) { cb.OnIsSpeakingChanged(p) })
		}
	}
	var active []Participant
	if r.LocalParticipant.IsSpeaking() {
		active = append(active, r.LocalParticipant)
	}
	for _, rp := range r.GetParticipants() {
		if rp.IsSpeaking() {
			active = append(active, rp)
		}
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].AudioLevel() > active[j].AudioLevel() })
	r.lock.Lock()
	r.activeSpeakers = active
	r.lock.Unlock()
	list := append([]Participant(nil), active...)
	r.emit(func(cb *RoomCallback) { cb.OnActiveSpeakersChanged(list) })
}

func (r *Room) applyQuality(updates []*livekit.ConnectionQualityInfo) {
	for _, u := range updates {
		var p Participant
		if u.ParticipantSid == r.LocalParticipant.SID() {
			r.LocalParticipant.setQuality(u.Quality)
			p = r.LocalParticipant
		} else if rp := r.GetParticipant(u.ParticipantSid); rp != nil {
			rp.setQuality(u.Quality)
			p = rp
		} else {
			continue
		}
		r.emit(func(cb *RoomCallback) { cb.OnConnectionQualityChanged(u, p) })
	}
}

// applyServerMute records a mute of a local track asked for by the server.
func (r *Room) applyServerMute(req *livekit.MuteTrackRequest) {
	pub, _ := r.LocalParticipant.getPublication(req.Sid).(*LocalTrackPublication)
	if pub == nil || !pub.setMutedByServer(req.Muted) {
		return
	}
	local := r.LocalParticipant
	r.emit(func(cb *RoomCallback) {
		if req.Muted {
			cb.OnTrackMuted(pub, local)
		} else {
			cb.OnTrackUnmuted(pub, local)
		}
	})
}

// handleLeave obeys the server's LeaveRequest: resume, reconnect, or leave.
// A server shutting down is reconnected to (another node may take over).
func (r *Room) handleLeave(leave *livekit.LeaveRequest) {
	if r.currentState() >= stateClosing {
		return // the server's echo of our own leave
	}
	r.logger().Info("server asked to leave", "reason", leave.Reason, "action", leave.Action)
	cause := fmt.Errorf("server sent leave (%s, %s)", leave.Reason, leave.Action)
	switch {
	case leave.Action == livekit.LeaveRequest_RESUME:
		r.engine.startRecovery(recoverResume, livekit.ReconnectReason_RR_UNKNOWN, cause)
	case leave.Action == livekit.LeaveRequest_RECONNECT, leave.Reason == livekit.DisconnectReason_SERVER_SHUTDOWN,
		leave.Reason == livekit.DisconnectReason_MIGRATION:
		r.engine.startRecovery(recoverRestart, livekit.ReconnectReason_RR_UNKNOWN, cause)
	default:
		r.beginClose(leave.Reason, false)
	}
}

// syncState is what the client has, for the server after a resume. It
// reads the subscriber's local description, so it runs on the engine loop,
// where that description is changed.
func (r *Room) syncState() *livekit.SyncState {
	st := r.subscriptionState()
	if sub := r.engine.transport(livekit.SignalTarget_SUBSCRIBER); sub != nil {
		if ld := sub.pc.LocalDescription(); ld != nil {
			st.Answer = ToProtoSessionDescription(*ld)
		}
	}
	for _, pub := range r.LocalParticipant.TrackPublications() {
		st.PublishTracks = append(st.PublishTracks, &livekit.TrackPublishedResponse{Cid: pub.cid(), Track: pub.TrackInfo()})
	}
	r.engine.mu.Lock()
	for _, dc := range []*webrtc.DataChannel{r.engine.reliableDC, r.engine.lossyDC} {
		if dc != nil && dc.ID() != nil {
			st.DataChannels = append(st.DataChannels, &livekit.DataChannelInfo{Label: dc.Label(), Id: uint32(*dc.ID()), Target: livekit.SignalTarget_PUBLISHER})
		}
	}
	r.engine.mu.Unlock()
	return st
}

// subscriptionState is what was asked of the remote tracks: the
// subscriptions made by hand, or the unsubscriptions when auto-subscribing.
func (r *Room) subscriptionState() *livekit.SyncState {
	st := &livekit.SyncState{Subscription: &livekit.UpdateSubscription{Subscribe: !r.params.AutoSubscribe}}
	for _, rp := range r.GetParticipants() {
		pt := &livekit.ParticipantTracks{ParticipantSid: rp.SID()}
		for _, pub := range rp.TrackPublications() {
			intent := pub.subscriptionIntent()
			// With auto-subscribe the server needs what was unsubscribed;
			// without, what was subscribed.
			if (r.params.AutoSubscribe && intent == intentUnsubscribe) ||
				(!r.params.AutoSubscribe && intent == intentSubscribe) {
				pt.TrackSids = append(pt.TrackSids, pub.SID())
				st.Subscription.TrackSids = append(st.Subscription.TrackSids, pub.SID())
			}
			if !pub.IsEnabled() {
				st.TrackSidsDisabled = append(st.TrackSidsDisabled, pub.SID())
			}
		}
		if len(pt.TrackSids) > 0 {
			st.Subscription.ParticipantTracks = append(st.Subscription.ParticipantTracks, pt)
		}
	}
	return st
}

// applyRejoin applies the join response of a new session (a full
// reconnect): the old session's tracks are gone, participants who left
// meanwhile are removed, the others updated. It runs on the engine loop.
func (r *Room) applyRejoin(join *livekit.JoinResponse) {
	for _, rp := range r.GetParticipants() {
		for _, pub := range rp.TrackPublications() {
			r.unsubscribed(pub, rp)
		}
	}
	r.lock.Lock()
	r.pendingTracks = map[string]pendingTrack{}
	r.sid, r.name, r.metadata = join.Room.GetSid(), join.Room.GetName(), join.Room.GetMetadata()
	r.serverInfo = join.ServerInfo
	r.lock.Unlock()
	r.LocalParticipant.applyInfo(join.Participant)
	present := map[string]bool{}
	for _, pi := range join.OtherParticipants {
		present[pi.Sid] = true
	}
	for _, rp := range r.GetParticipants() {
		if !present[rp.SID()] {
			r.removeParticipant(rp)
		}
	}
	r.applyParticipants(join.OtherParticipants)
}

// restoreSubscriptions asks again for what was asked before a full
// reconnect: the subscriptions made by hand, or the unsubscriptions.
func (r *Room) restoreSubscriptions() {
	st := r.subscriptionState()
	if len(st.Subscription.TrackSids) == 0 {
		return
	}
	_ = r.engine.client.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{Subscription: st.Subscription}})
}
