package lksdk

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"
)

// negotiationDelay is how long Negotiate waits for more changes before it
// makes an offer, so that a burst of changes costs one round trip.
const negotiationDelay = 20 * time.Millisecond

// PCTransport is one WebRTC peer connection to the server, with the
// negotiation rules LiveKit expects: the publisher side offers, the
// subscriber side answers, and ICE candidates received before the remote
// description are held until it is set.
type PCTransport struct {
	pc  *webrtc.PeerConnection
	log logr.Logger

	// OnOffer is called with each offer this side makes, to be sent to the
	// server.
	OnOffer func(description webrtc.SessionDescription)
	// OnCandidate is called with each local ICE candidate, to be sent to
	// the server. While ICE starts on a connection this side controls (it
	// made the offer), candidates wait until the connection is up; see
	// candidateHoldLimit for why.
	OnCandidate func(candidate webrtc.ICECandidateInit)

	mu                sync.Mutex
	pendingCandidates []webrtc.ICECandidateInit
	offering          bool // an offer is out and its answer not yet in
	renegotiate       bool // a change came while offering: offer again
	restartICE        bool // the next offer restarts ICE
	debounce          *time.Timer
	hold              candidateHold
	closed            bool
}

// NewPCTransport returns a transport on a new peer connection using the
// SDK's default WebRTC API and the given ICE servers.
func NewPCTransport(iceServers []webrtc.ICEServer) (*PCTransport, error) {
	api, err := defaultWebRTCAPI()
	if err != nil {
		return nil, err
	}
	return newPCTransport(api, webrtc.Configuration{ICEServers: iceServers, SDPSemantics: webrtc.SDPSemanticsUnifiedPlan}, logr.Logger{})
}

func newPCTransport(api *webrtc.API, cfg webrtc.Configuration, log logr.Logger) (*PCTransport, error) {
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("lksdk: creating peer connection: %w", err)
	}
	t := &PCTransport{pc: pc, log: log}
	pc.OnICECandidate(t.onLocalCandidate)
	pc.OnICEConnectionStateChange(t.onICEState)
	return t, nil
}

func (t *PCTransport) logger() logr.Logger {
	if t.log.GetSink() == nil {
		return getLogger()
	}
	return t.log
}

// PeerConnection returns the underlying peer connection.
func (t *PCTransport) PeerConnection() *webrtc.PeerConnection {
	return t.pc
}

// IsConnected reports whether the peer connection is connected.
func (t *PCTransport) IsConnected() bool {
	return t.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// AddICECandidate adds a remote candidate, or holds it until the remote
// description is set. While ICE starts on a connection the server controls
// (this side answered), it also holds it until the connection is up; see
// candidateHoldLimit for why.
func (t *PCTransport) AddICECandidate(candidate webrtc.ICECandidateInit) error {
	t.mu.Lock()
	if t.hold.remote && !t.closed {
		t.hold.heldRemote = append(t.hold.heldRemote, candidate)
		t.startHoldTimerLocked()
		t.mu.Unlock()
		return nil
	}
	if t.pc.RemoteDescription() == nil {
		t.pendingCandidates = append(t.pendingCandidates, candidate)
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	return t.pc.AddICECandidate(candidate)
}

// SetRemoteDescription sets the server's offer or answer. After an answer, a
// negotiation asked for in the meantime is started.
func (t *PCTransport) SetRemoteDescription(sd webrtc.SessionDescription) error {
	t.mu.Lock()
	release := func() {}
	switch {
	case isICELite(sd.SDP):
		release = t.stopHoldingLocked()
	case sd.Type == webrtc.SDPTypeOffer && t.startsICE(sd):
		// This side answers, so it is controlled: the server checks first.
		release = t.holdLocked(false)
	}
	if err := t.pc.SetRemoteDescription(sd); err != nil {
		t.mu.Unlock()
		release()
		return fmt.Errorf("lksdk: setting remote %s: %w", sd.Type, err)
	}
	pending := t.pendingCandidates
	t.pendingCandidates = nil
	if t.hold.remote {
		// Candidates that came before the offer wait with those after it.
		t.hold.heldRemote = append(pending, t.hold.heldRemote...)
		if len(t.hold.heldRemote) > 0 {
			t.startHoldTimerLocked()
		}
		pending = nil
	}
	again := false
	if sd.Type == webrtc.SDPTypeAnswer {
		t.offering = false
		again, t.renegotiate = t.renegotiate, false
	}
	t.mu.Unlock()
	release()

	var firstErr error
	for _, c := range pending {
		if err := t.pc.AddICECandidate(c); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("lksdk: adding held ICE candidate: %w", err)
		}
	}
	if again {
		t.createAndSendOffer()
	}
	return firstErr
}

// CreateAnswer answers the remote offer that was set last.
func (t *PCTransport) CreateAnswer() (webrtc.SessionDescription, error) {
	answer, err := t.pc.CreateAnswer(nil)
	if err != nil {
		return answer, fmt.Errorf("lksdk: creating answer: %w", err)
	}
	if err := t.pc.SetLocalDescription(answer); err != nil {
		return answer, fmt.Errorf("lksdk: setting local answer: %w", err)
	}
	return answer, nil
}

// Negotiate makes an offer shortly, taking in every change made until then.
// If an offer is already out, a new one follows its answer.
func (t *PCTransport) Negotiate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if t.debounce == nil {
		t.debounce = time.AfterFunc(negotiationDelay, t.createAndSendOffer)
	} else {
		t.debounce.Reset(negotiationDelay)
	}
}

// RestartICE makes an offer that restarts ICE, at once or after the answer
// to the offer that is out.
func (t *PCTransport) RestartICE() {
	t.mu.Lock()
	t.restartICE = true
	offering := t.offering
	if offering {
		// The answer to the offer that is out may never come (the
		// connection it went on is gone): start over from stable.
		if err := t.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err == nil {
			t.offering = false
			offering = false
		}
	}
	t.mu.Unlock()
	if !offering {
		t.createAndSendOffer()
	}
}

func (t *PCTransport) createAndSendOffer() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	if t.offering {
		t.renegotiate = true
		t.mu.Unlock()
		return
	}
	restart := t.restartICE
	offer, err := t.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	release := func() {}
	if err == nil && (restart || t.pc.CurrentRemoteDescription() == nil) && !isICELite(offer.SDP) {
		// This side offers, so it controls: it checks first. Gathering
		// starts with SetLocalDescription.
		release = t.holdLocked(true)
	}
	if err == nil {
		err = t.pc.SetLocalDescription(offer)
	}
	if err != nil {
		t.mu.Unlock()
		release()
		t.logger().Error(err, "could not make an offer")
		return
	}
	t.offering = true
	t.restartICE = false
	onOffer := t.OnOffer
	t.mu.Unlock()
	release()
	if onOffer != nil {
		onOffer(offer)
	}
}

// startsICE reports whether the remote description sd starts ICE: it is
// the first, or its credentials are new (an ICE restart). t.mu is held.
func (t *PCTransport) startsICE(sd webrtc.SessionDescription) bool {
	current := t.pc.CurrentRemoteDescription()
	return current == nil || iceUfrag(current.SDP) != iceUfrag(sd.SDP)
}

// Close closes the peer connection.
func (t *PCTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	if t.debounce != nil {
		t.debounce.Stop()
	}
	if t.hold.timer != nil {
		t.hold.timer.Stop()
	}
	t.hold = candidateHold{}
	t.mu.Unlock()
	return t.pc.Close()
}
