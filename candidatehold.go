package lksdk

import (
	"strings"
	"time"

	"github.com/pion/webrtc/v3"
)

// Who checks first when ICE starts.
//
// An ICE agent that receives a connectivity check from an address it has no
// candidate for takes the address as a peer-reflexive candidate. The
// controlling agent (the offerer: livekit-server on the subscriber
// connection, the SDK on the publisher one) then waits before it nominates
// a pair with that candidate: one second, pion's default, on both sides.
// The candidate for the same address that arrives a moment later by trickle
// does not help: pion/ice v2 (the SDK's) and v4 before 4.4
// (livekit-server's) keep the peer-reflexive one, and the trickled one's
// checks are credited to it. With trickle on loopback this happened to
// about one connection in three: the controlled side learned the other's
// candidates first and its checks overtook its own candidates.
//
// So until the connection is up the controlled side stays silent, and the
// controlling agent hears only checks that answer its own, from addresses
// it has just checked and therefore knows:
//
//   - where the SDK answers (it is controlled), the server's candidates are
//     kept from the ICE agent, which then does not check first; the server
//     has the SDK's candidates and checks them;
//   - where the SDK offers (it controls), its candidates are not sent to the
//     server, which then cannot check first; the SDK checks the server's.
//
// What is kept back is released when the connection is up (then it is only
// for completeness) or candidateHoldLimit after the first candidate was
// kept: should the controlling side's checks not get through (a NAT in
// between, a relay), the controlled side must check too. A second is lost
// only where the server waits longer than that anyway (peer-reflexive and
// relayed pairs: one and two seconds, server-reflexive ones half a second).
// Neither is held when either side is ICE-lite: a lite agent never checks.
const candidateHoldLimit = 250 * time.Millisecond

// candidateHold is what a transport keeps back while ICE starts; its
// PCTransport's mu guards it.
type candidateHold struct {
	local, remote bool // hold candidates of this side, of the server
	heldLocal     []webrtc.ICECandidateInit
	heldRemote    []webrtc.ICECandidateInit
	timer         *time.Timer
	generation    uint64 // counts holds, so that a late timer releases only its own
}

// onLocalCandidate passes a gathered candidate to OnCandidate, or keeps it.
func (t *PCTransport) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return // gathering is complete
	}
	init := c.ToJSON()
	t.mu.Lock()
	if t.hold.local && !t.closed {
		t.hold.heldLocal = append(t.hold.heldLocal, init)
		t.startHoldTimerLocked()
		t.mu.Unlock()
		return
	}
	send := t.OnCandidate
	t.mu.Unlock()
	if send != nil {
		send(init)
	}
}

// holdLocked starts holding the candidates of one side (this one's when
// local), for an ICE start. t.mu is held; it returns a function that
// delivers what the other side had kept, to be called once t.mu is
// unlocked.
func (t *PCTransport) holdLocked(local bool) (release func()) {
	t.hold.generation++
	if t.hold.timer != nil {
		t.hold.timer.Stop()
		t.hold.timer = nil
	}
	t.hold.local, t.hold.remote = local, !local
	var heldLocal, heldRemote []webrtc.ICECandidateInit
	if local {
		heldRemote, t.hold.heldRemote = t.hold.heldRemote, nil
	} else {
		heldLocal, t.hold.heldLocal = t.hold.heldLocal, nil
	}
	return func() { t.deliver(heldLocal, heldRemote) }
}

// stopHoldingLocked ends any hold; t.mu is held. It returns what is to be
// released once t.mu is unlocked.
func (t *PCTransport) stopHoldingLocked() (release func()) {
	heldLocal, heldRemote := t.hold.heldLocal, t.hold.heldRemote
	if t.hold.timer != nil {
		t.hold.timer.Stop()
	}
	t.hold = candidateHold{generation: t.hold.generation + 1}
	return func() { t.deliver(heldLocal, heldRemote) }
}

// startHoldTimerLocked bounds the hold, from the first candidate kept.
func (t *PCTransport) startHoldTimerLocked() {
	if t.hold.timer != nil {
		return
	}
	gen := t.hold.generation
	t.hold.timer = time.AfterFunc(candidateHoldLimit, func() {
		t.mu.Lock()
		if t.hold.generation != gen || t.closed {
			t.mu.Unlock()
			return
		}
		release := t.stopHoldingLocked()
		t.mu.Unlock()
		release()
	})
}

// releaseCandidates ends the hold: the connection is up, or failed.
func (t *PCTransport) releaseCandidates() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	release := t.stopHoldingLocked()
	t.mu.Unlock()
	release()
}

// deliver sends local candidates that were kept back to the server and
// gives the server's to the ICE agent.
func (t *PCTransport) deliver(local, remote []webrtc.ICECandidateInit) {
	t.mu.Lock()
	send := t.OnCandidate
	t.mu.Unlock()
	for _, c := range local {
		if send != nil {
			send(c)
		}
	}
	for _, c := range remote {
		if err := t.AddICECandidate(c); err != nil {
			t.logger().V(1).Info("could not add ICE candidate", "error", err)
		}
	}
}

// onICEState ends the hold once ICE has a result.
func (t *PCTransport) onICEState(state webrtc.ICEConnectionState) {
	switch state {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted, webrtc.ICEConnectionStateFailed:
		t.releaseCandidates()
	}
}

// isICELite reports whether a description is of an ICE-lite agent.
func isICELite(sd string) bool {
	return strings.Contains(sd, "\na=ice-lite")
}

// iceUfrag returns a description's ICE username fragment ("" if none).
func iceUfrag(sd string) string {
	for _, line := range strings.Split(sd, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
