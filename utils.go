package lksdk

import (
	"encoding/json"
	"reflect"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v3"
)

// FromProtoIceServers converts the ICE servers the server sends into pion's.
func FromProtoIceServers(iceservers []*livekit.ICEServer) []webrtc.ICEServer {
	if iceservers == nil {
		return nil
	}
	servers := make([]webrtc.ICEServer, 0, len(iceservers))
	for _, s := range iceservers {
		server := webrtc.ICEServer{URLs: s.Urls, Username: s.Username}
		if s.Credential != "" {
			server.Credential = s.Credential
			server.CredentialType = webrtc.ICECredentialTypePassword
		}
		servers = append(servers, server)
	}
	return servers
}

// ToProtoSessionDescription converts an SDP into its signalling form.
func ToProtoSessionDescription(sd webrtc.SessionDescription) *livekit.SessionDescription {
	return &livekit.SessionDescription{Type: sd.Type.String(), Sdp: sd.SDP}
}

// FromProtoSessionDescription converts a signalled SDP into pion's form.
func FromProtoSessionDescription(sd *livekit.SessionDescription) webrtc.SessionDescription {
	return webrtc.SessionDescription{Type: webrtc.NewSDPType(sd.GetType()), SDP: sd.GetSdp()}
}

// ToProtoTrickle converts a local ICE candidate into a trickle request for
// the peer connection target.
func ToProtoTrickle(candidateInit webrtc.ICECandidateInit, target livekit.SignalTarget) *livekit.TrickleRequest {
	data, _ := json.Marshal(candidateInit) // cannot fail: strings and pointers only
	return &livekit.TrickleRequest{CandidateInit: string(data), Target: target}
}

// FromProtoTrickle converts a trickled candidate into pion's form. A
// candidate that does not decode gives the zero value; see
// [SignalClient.OnTrickle] for where that is reported.
func FromProtoTrickle(trickle *livekit.TrickleRequest) webrtc.ICECandidateInit {
	ci := webrtc.ICECandidateInit{}
	_ = json.Unmarshal([]byte(trickle.GetCandidateInit()), &ci)
	return ci
}

// isNilFunc reports whether f, a func value in an interface, is nil.
func isNilFunc(f any) bool {
	v := reflect.ValueOf(f)
	return v.Kind() == reflect.Func && v.IsNil()
}
