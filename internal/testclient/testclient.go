// Package testclient holds what the SDK's tests use to connect participants
// to the test server: options that keep all traffic on loopback.
package testclient

import (
	"net"
	"sync"

	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
)

var (
	once sync.Once
	api  *webrtc.API
	err  error
)

// LoopbackSettingEngine returns a SettingEngine that gathers only UDP host
// candidates of the loopback interface, with no mDNS.
func LoopbackSettingEngine() webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// Loopback returns connect options that keep a test participant's media on
// 127.0.0.1: host candidates of the loopback interface, UDP only, no mDNS,
// no STUN servers. Every room of the process shares one WebRTC API.
func Loopback() ([]lksdk.ConnectOption, error) {
	once.Do(func() {
		api, err = lksdk.NewWebRTCAPI(LoopbackSettingEngine())
	})
	if err != nil {
		return nil, err
	}
	return []lksdk.ConnectOption{lksdk.WithWebRTCAPI(api), lksdk.WithICEServers()}, nil
}
