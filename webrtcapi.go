package lksdk

import (
	"fmt"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
)

// DefaultRetransmissionBuffer is how many sent packets each published video
// stream keeps for answering NACKs, unless WithRetransmissionBuffer says
// otherwise. 128 packets are about 2 s of a 500 kbps stream and 0.5 s of a
// 2.5 Mbps one: several round trips, which is as far back as a
// retransmission can still help. pion's own default, 1,024 packets, holds
// about 1.5 MB per video track.
const DefaultRetransmissionBuffer = 128

// WebRTCAPIOption configures NewWebRTCAPIWithOptions.
type WebRTCAPIOption func(*webrtcAPIOptions)

type webrtcAPIOptions struct {
	retransmissionBuffer uint16
}

// WithRetransmissionBuffer sets how many sent packets each published video
// stream keeps to retransmit when the server reports them lost: a power of
// two from 1 to 32,768 (DefaultRetransmissionBuffer when unset). Each kept
// packet costs about 1.5 KB.
func WithRetransmissionBuffer(packets uint16) WebRTCAPIOption {
	return func(o *webrtcAPIOptions) { o.retransmissionBuffer = packets }
}

// NewWebRTCAPI returns a pion API with the codecs, header extensions and
// interceptors (NACK, RTCP reports, congestion control feedback) the SDK
// needs, configured by se. It is NewWebRTCAPIWithOptions without options.
//
// Pass it to rooms with WithWebRTCAPI. One API may serve any number of rooms
// in a process: build it once with a SettingEngine that limits ICE to some
// interfaces or ports.
//
// Each peer connection needs a UDP socket of its own when it talks to a
// LiveKit server listening on one UDP port (the server's default,
// rtc.udp_port): two peer connections sharing a socket (se.SetICEUDPMux)
// would have the same address pair, and the server could not tell them
// apart. A shared mux only works against servers that give every peer
// connection its own port (rtc.port_range_start/end).
func NewWebRTCAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	return NewWebRTCAPIWithOptions(se)
}

// NewWebRTCAPIWithOptions is NewWebRTCAPI with options for the interceptors.
func NewWebRTCAPIWithOptions(se webrtc.SettingEngine, opts ...WebRTCAPIOption) (*webrtc.API, error) {
	o := webrtcAPIOptions{retransmissionBuffer: DefaultRetransmissionBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if n := o.retransmissionBuffer; n == 0 || n&(n-1) != 0 || n > 1<<15 {
		return nil, fmt.Errorf("lksdk: retransmission buffer of %d packets: must be a power of two from 1 to 32768", n)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	for _, ext := range []string{sdp.AudioLevelURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: ext}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	// Simulcast layers carry their mid and rid in header extensions.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	// pion's default set (webrtc.RegisterDefaultInterceptors), with the NACK
	// responder's buffer sized here.
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	responder, err := nack.NewResponderInterceptor(nack.ResponderSize(o.retransmissionBuffer))
	if err != nil {
		return nil, err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	registry.Add(responder)
	registry.Add(generator)
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(m, registry); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(se)), nil
}

var (
	defaultAPIOnce sync.Once
	defaultAPI     *webrtc.API
	defaultAPIErr  error
)

// defaultWebRTCAPI is the API rooms use unless given one: pion's normal
// candidate gathering, shared by every room of the process.
func defaultWebRTCAPI() (*webrtc.API, error) {
	defaultAPIOnce.Do(func() {
		defaultAPI, defaultAPIErr = NewWebRTCAPI(webrtc.SettingEngine{})
	})
	return defaultAPI, defaultAPIErr
}
