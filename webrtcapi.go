package lksdk

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
)

// NewWebRTCAPI returns a pion API with the codecs, header extensions and
// interceptors (NACK, RTCP reports, congestion control feedback) the SDK
// needs, configured by se.
//
// Pass it to rooms with WithWebRTCAPI. One API may serve any number of rooms
// in a process: build it once with a SettingEngine that shares a UDP mux
// (se.SetICEUDPMux) to use one socket for all of them, or that limits ICE to
// some interfaces or ports.
func NewWebRTCAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
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
	if err := webrtc.RegisterDefaultInterceptors(m, registry); err != nil {
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
