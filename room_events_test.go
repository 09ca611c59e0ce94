package lksdk_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/internal/lktest"
)

func TestServerSideChangesReachCallbacks(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)

	roomMeta := make(chan string, 4)
	participantMeta := make(chan [2]string, 4) // old, new
	muted := make(chan lksdk.TrackPublication, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{
		OnRoomMetadataChanged: func(md string) { roomMeta <- md },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnMetadataChanged: func(old string, p lksdk.Participant) {
				if p.Identity() == "alice" {
					participantMeta <- [2]string{old, p.Metadata()}
				}
			},
			OnTrackMuted: func(pub lksdk.TrackPublication, p lksdk.Participant) { muted <- pub },
		},
	})
	localMuted := make(chan lksdk.TrackPublication, 4)
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackMuted: func(pub lksdk.TrackPublication, p lksdk.Participant) { localMuted <- pub },
	}})
	pubs := publishAV(t, a, "alice")
	eventually(t, 10*time.Second, func() bool {
		rp := b.GetParticipantByIdentity("alice")
		return rp != nil && len(rp.Tracks()) == 2
	}, "bob to see alice's tracks")

	_, err := rs.UpdateRoomMetadata(testContext(t), &livekit.UpdateRoomMetadataRequest{Room: room, Metadata: "room v2"})
	require.NoError(t, err)
	require.Equal(t, "room v2", recv(t, roomMeta, 5*time.Second, "OnRoomMetadataChanged"))
	require.Equal(t, "room v2", b.Metadata())

	_, err = rs.UpdateParticipant(testContext(t), &livekit.UpdateParticipantRequest{Room: room, Identity: "alice", Metadata: "alice v2"})
	require.NoError(t, err)
	require.Equal(t, [2]string{"metadata of alice", "alice v2"}, recv(t, participantMeta, 5*time.Second, "OnMetadataChanged"))

	_, err = rs.MutePublishedTrack(testContext(t), &livekit.MuteRoomTrackRequest{Room: room, Identity: "alice", TrackSid: pubs.audioPub.SID(), Muted: true})
	require.NoError(t, err)
	require.Equal(t, pubs.audioPub.SID(), recv(t, muted, 5*time.Second, "OnTrackMuted at the subscriber").SID())
	require.Equal(t, pubs.audioPub.SID(), recv(t, localMuted, 5*time.Second, "OnTrackMuted at the publisher").SID())
	require.True(t, pubs.audioPub.IsMuted())
	require.False(t, b.GetParticipantByIdentity("alice").IsMicrophoneEnabled())
	require.True(t, b.GetParticipantByIdentity("alice").IsCameraEnabled())
}

func TestOwnMetadataAndName(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	names := make(chan string, 4)
	metas := make(chan string, 4)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnMetadataChanged: func(_ string, p lksdk.Participant) { metas <- p.Metadata() },
		OnNameChanged:     func(_ string, p lksdk.Participant) { names <- p.Name() },
	}})
	a := join(t, srv, room, "alice", nil)
	eventually(t, 5*time.Second, func() bool { return b.GetParticipantByIdentity("alice") != nil }, "bob to see alice")

	require.NoError(t, a.LocalParticipant.SetMetadata("set by alice"))
	require.Equal(t, "set by alice", recv(t, metas, 5*time.Second, "metadata at bob"))
	require.NoError(t, a.LocalParticipant.SetName("Alice A."))
	require.Equal(t, "Alice A.", recv(t, names, 5*time.Second, "name at bob"))
	require.NoError(t, a.LocalParticipant.SetAttributes(map[string]string{"role": "bot"}))
	eventually(t, 5*time.Second, func() bool {
		return b.GetParticipantByIdentity("alice").Attributes()["role"] == "bot"
	}, "attributes at bob")

	// A token without canUpdateOwnMetadata is refused, with the reason.
	at := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("carol").
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room})
	token, err := at.ToJWT()
	require.NoError(t, err)
	c, err := lksdk.ConnectToRoomWithToken(srv.URL, token, nil, loopback(t)...)
	require.NoError(t, err)
	defer c.Disconnect()
	err = c.LocalParticipant.SetMetadata("not allowed")
	require.ErrorContains(t, err, "NOT_ALLOWED")
}

func TestRemovedParticipantIsToldWhy(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	reasons := make(chan lksdk.DisconnectReason, 2)
	disconnected := make(chan struct{}, 2)
	a := join(t, srv, room, "alice", &lksdk.RoomCallback{
		OnDisconnected:           func() { disconnected <- struct{}{} },
		OnDisconnectedWithReason: func(r lksdk.DisconnectReason) { reasons <- r },
	})
	rs := lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	_, err := rs.RemoveParticipant(testContext(t), &livekit.RoomParticipantIdentity{Room: room, Identity: "alice"})
	require.NoError(t, err)
	recv(t, disconnected, 5*time.Second, "OnDisconnected")
	require.Equal(t, livekit.DisconnectReason_PARTICIPANT_REMOVED, recv(t, reasons, 5*time.Second, "the reason"))
	recv(t, a.Done(), 5*time.Second, "the room to close")
	require.Equal(t, livekit.DisconnectReason_PARTICIPANT_REMOVED, a.DisconnectReason())
	select {
	case <-disconnected:
		t.Fatal("OnDisconnected called twice")
	case <-time.After(300 * time.Millisecond):
	}
}

func TestLoudAudioMakesAnActiveSpeaker(t *testing.T) {
	srv := lktest.Start(t)
	room := lktest.RoomName(t)
	speakers := make(chan []lksdk.Participant, 16)
	b := join(t, srv, room, "bob", &lksdk.RoomCallback{
		OnActiveSpeakersChanged: func(ps []lksdk.Participant) { speakers <- ps },
	})
	a := join(t, srv, room, "alice", nil)

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "alice-mic", "alice")
	require.NoError(t, err)
	pub, err := a.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic"})
	require.NoError(t, err)
	stop := sendLoudAudio(t, a, pub, track)
	defer stop()

	deadline := time.After(10 * time.Second)
	for {
		select {
		case ps := <-speakers:
			if len(ps) > 0 && ps[0].Identity() == "alice" {
				require.True(t, ps[0].IsSpeaking())
				require.Greater(t, ps[0].AudioLevel(), float32(0))
				require.Equal(t, "alice", b.ActiveSpeakers()[0].Identity())
				return
			}
		case <-deadline:
			t.Fatal("alice never became the active speaker")
		}
	}
}

// sendLoudAudio writes Opus RTP packets that carry the audio level header
// extension at a loud level, until the returned function is called.
func sendLoudAudio(t *testing.T, r *lksdk.Room, pub *lksdk.LocalTrackPublication, track *webrtc.TrackLocalStaticRTP) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		level, _ := (&rtp.AudioLevelExtension{Level: 3, Voice: true}).Marshal()
		var seq uint16
		var ts uint32
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			seq++
			ts += 960
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: opusFrame}
			if id := audioLevelID(r); id != 0 {
				_ = pkt.Header.SetExtension(uint8(id), level)
			}
			_ = track.WriteRTP(pkt)
		}
	}()
	return func() { close(done); <-finished }
}

// audioLevelID returns the negotiated id of the audio level extension on
// the publisher, or 0 before negotiation.
func audioLevelID(r *lksdk.Room) int {
	pc := r.LocalParticipant.GetPublisherPeerConnection()
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == nil {
			continue
		}
		for _, ext := range tr.Sender().GetParameters().HeaderExtensions {
			if ext.URI == sdp.AudioLevelURI {
				return ext.ID
			}
		}
	}
	return 0
}
