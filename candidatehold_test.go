package lksdk

import (
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"
)

// The peer connections below stand in for livekit-server's: plain pion ones
// that trickle every candidate as soon as they have it. The controlling one
// must end up on a pair with the other side's signalled host candidate, not
// on a peer-reflexive one (which pion nominates only after a second). Each
// case runs several times: with the other side checking first it went wrong
// about every second time.
const iceStartRuns = 8

func loopbackTestAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, err := NewWebRTCAPI(loopbackSettingEngine())
	require.NoError(t, err)
	return api
}

// trickleTarget adds candidates to a plain peer connection, holding those
// that come before its remote description.
type trickleTarget struct {
	pc      *webrtc.PeerConnection
	mu      sync.Mutex
	ready   bool
	pending []webrtc.ICECandidateInit
}

// add runs on a goroutine of pion's: an error (the connection closed at
// the end of a run) shows in the outcome, not here.
func (p *trickleTarget) add(c webrtc.ICECandidateInit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		p.pending = append(p.pending, c)
		return
	}
	_ = p.pc.AddICECandidate(c)
}

func (p *trickleTarget) setRemote(t *testing.T, sd webrtc.SessionDescription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NoError(t, p.pc.SetRemoteDescription(sd))
	p.ready = true
	for _, c := range p.pending {
		require.NoError(t, p.pc.AddICECandidate(c))
	}
	p.pending = nil
}

// connected returns a channel closed when pc is connected.
func connected(pc *webrtc.PeerConnection) <-chan struct{} {
	done := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(done) })
		}
	})
	return done
}

func waitConnected(t *testing.T, chans ...<-chan struct{}) {
	t.Helper()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Fatal("the peer connections did not connect")
		}
	}
}

// selectedRemoteType is the type of the remote candidate of pc's selected
// pair.
func selectedRemoteType(t *testing.T, pc *webrtc.PeerConnection) webrtc.ICECandidateType {
	t.Helper()
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	require.NotNil(t, pair)
	return pair.Remote.Typ
}

// TestOfferingTransportChecksFirst: where the SDK offers (the publisher),
// it controls ICE; its candidates reach the other side only once it is
// connected, so the other side's checks answer the SDK's own.
func TestOfferingTransportChecksFirst(t *testing.T) {
	api := loopbackTestAPI(t)
	for range iceStartRuns {
		sdk, err := newPCTransport(api, webrtc.Configuration{}, logr.Discard())
		require.NoError(t, err)
		server, err := api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		remote := &trickleTarget{pc: server}

		var mu sync.Mutex
		var early int // candidates sent before the SDK's ICE was up
		offered := time.Now()
		sdk.OnCandidate = func(c webrtc.ICECandidateInit) {
			s := sdk.pc.ICEConnectionState()
			mu.Lock()
			if s != webrtc.ICEConnectionStateConnected && s != webrtc.ICEConnectionStateCompleted && time.Since(offered) < candidateHoldLimit {
				early++
			}
			mu.Unlock()
			remote.add(c)
		}
		server.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				_ = sdk.AddICECandidate(c.ToJSON())
			}
		})
		sdk.OnOffer = func(offer webrtc.SessionDescription) {
			remote.setRemote(t, offer)
			answer, err := server.CreateAnswer(nil)
			require.NoError(t, err)
			require.NoError(t, server.SetLocalDescription(answer))
			require.NoError(t, sdk.SetRemoteDescription(answer))
		}
		_, err = sdk.pc.CreateDataChannel("data", nil)
		require.NoError(t, err)
		up, serverUp := connected(sdk.pc), connected(server)
		sdk.createAndSendOffer()
		waitConnected(t, up, serverUp)

		require.Equal(t, webrtc.ICECandidateTypeHost, selectedRemoteType(t, sdk.pc), "the SDK, controlling, is on a pair with the other side's signalled candidate")
		mu.Lock()
		require.Zero(t, early, "candidates sent before the connection was up")
		mu.Unlock()
		require.NoError(t, sdk.Close())
		require.NoError(t, server.Close())
	}
}

// TestAnsweringTransportWaitsToBeChecked: where the SDK answers (the
// subscriber), the other side controls ICE; the SDK gives the other side's
// candidates to its ICE agent only once it is connected, so it does not
// check first, and the controlling side hears only checks from addresses it
// has candidates for.
func TestAnsweringTransportWaitsToBeChecked(t *testing.T) {
	api := loopbackTestAPI(t)
	for range iceStartRuns {
		sdk, err := newPCTransport(api, webrtc.Configuration{}, logr.Discard())
		require.NoError(t, err)
		server, err := api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		remote := &trickleTarget{pc: server}
		sdk.OnCandidate = func(c webrtc.ICECandidateInit) { remote.add(c) }
		server.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				_ = sdk.AddICECandidate(c.ToJSON())
			}
		})
		_, err = server.CreateDataChannel("data", nil)
		require.NoError(t, err)
		up, serverUp := connected(sdk.pc), connected(server)

		offer, err := server.CreateOffer(nil)
		require.NoError(t, err)
		require.NoError(t, server.SetLocalDescription(offer))
		require.NoError(t, sdk.SetRemoteDescription(offer))
		answer, err := sdk.CreateAnswer()
		require.NoError(t, err)
		remote.setRemote(t, answer)
		waitConnected(t, up, serverUp)

		require.Equal(t, webrtc.ICECandidateTypeHost, selectedRemoteType(t, server), "the other side, controlling, is on a pair with the SDK's signalled candidate")
		require.NoError(t, sdk.Close())
		require.NoError(t, server.Close())
	}
}

// TestICELiteOfferHoldsNothing: an ICE-lite offerer never checks, so the
// answering SDK must check it at once.
func TestICELiteOfferHoldsNothing(t *testing.T) {
	sdk, err := newPCTransport(loopbackTestAPI(t), webrtc.Configuration{}, logr.Discard())
	require.NoError(t, err)
	defer sdk.Close()
	liteSE := webrtc.SettingEngine{}
	liteSE.SetLite(true)
	liteSE.SetIncludeLoopbackCandidate(true)
	liteSE.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	liteSE.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	liteSE.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	liteAPI, err := NewWebRTCAPI(liteSE)
	require.NoError(t, err)
	server, err := liteAPI.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer server.Close()
	remote := &trickleTarget{pc: server}
	sdk.OnCandidate = func(c webrtc.ICECandidateInit) { remote.add(c) }
	server.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			_ = sdk.AddICECandidate(c.ToJSON())
		}
	})
	_, err = server.CreateDataChannel("data", nil)
	require.NoError(t, err)
	up, serverUp := connected(sdk.pc), connected(server)
	offer, err := server.CreateOffer(nil)
	require.NoError(t, err)
	require.True(t, isICELite(offer.SDP))
	require.NoError(t, server.SetLocalDescription(offer))
	require.NoError(t, sdk.SetRemoteDescription(offer))
	answer, err := sdk.CreateAnswer()
	require.NoError(t, err)
	remote.setRemote(t, answer)
	waitConnected(t, up, serverUp)
	sdk.mu.Lock()
	held := sdk.hold.remote
	sdk.mu.Unlock()
	require.False(t, held, "candidates of an ICE-lite peer are not held")
}

func TestICEDescriptionHelpers(t *testing.T) {
	sd := "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:abcd\r\na=ice-pwd:xyz\r\n"
	require.True(t, isICELite(sd))
	require.Equal(t, "abcd", iceUfrag(sd))
	require.False(t, isICELite("v=0\r\na=ice-ufrag:x\r\n"))
	require.Empty(t, iceUfrag("v=0\r\n"))
}
