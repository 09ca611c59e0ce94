package lksdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
)

// addTransceiver adds track to the publisher connection, sending only,
// with more simulcast layers if given, and negotiates.
func (e *RTCEngine) addTransceiver(track webrtc.TrackLocal, layers []*LocalSampleTrack) (*webrtc.RTPTransceiver, error) {
	publisher := e.transport(livekit.SignalTarget_PUBLISHER)
	if publisher == nil {
		return nil, ErrNotConnected
	}
	transceiver, err := publisher.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("lksdk: adding track to the publisher: %w", err)
	}
	for _, t := range layers {
		if err := transceiver.Sender().AddEncoding(t); err != nil {
			return nil, fmt.Errorf("lksdk: adding simulcast layer %s: %w", t.rid, err)
		}
	}
	e.negotiatePublisher()
	publisher.Negotiate()
	return transceiver, nil
}

// writeSubscriberRTCP sends RTCP about received tracks (a keyframe request,
// say) on the subscriber connection.
func (e *RTCEngine) writeSubscriberRTCP(pkts []rtcp.Packet) error {
	sub := e.transport(livekit.SignalTarget_SUBSCRIBER)
	if sub == nil {
		return ErrNotConnected
	}
	return sub.pc.WriteRTCP(pkts)
}

// removeTrack stops sending what sender sends and negotiates. A sender of
// a session that was replaced is gone with its connection already.
func (e *RTCEngine) removeTrack(sender *webrtc.RTPSender) error {
	publisher := e.transport(livekit.SignalTarget_PUBLISHER)
	if publisher == nil {
		return nil
	}
	if err := publisher.pc.RemoveTrack(sender); err != nil {
		if errors.Is(err, webrtc.ErrSenderNotCreatedByConnection) {
			return nil
		}
		return fmt.Errorf("lksdk: removing track: %w", err)
	}
	publisher.Negotiate()
	return nil
}

// addTrack asks the server to accept a track and waits for its answer.
func (e *RTCEngine) addTrack(ctx context.Context, req *livekit.AddTrackRequest) (*livekit.TrackInfo, error) {
	ch := make(chan *livekit.TrackInfo, 1)
	e.pendingMu.Lock()
	if _, dup := e.pendingTracks[req.Cid]; dup {
		e.pendingMu.Unlock()
		return nil, fmt.Errorf("lksdk: track %q is already being published", req.Cid)
	}
	e.pendingTracks[req.Cid] = ch
	e.pendingMu.Unlock()
	defer func() {
		e.pendingMu.Lock()
		delete(e.pendingTracks, req.Cid)
		e.pendingMu.Unlock()
	}()
	if err := e.client.SendRequest(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: req}}); err != nil {
		return nil, err
	}
	select {
	case info := <-ch:
		if info == nil {
			return nil, fmt.Errorf("lksdk: the server refused track %q", req.Cid)
		}
		return info, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTrackPublishTimeout, ctx.Err())
	}
}

func (e *RTCEngine) resolveTrack(cid string, info *livekit.TrackInfo) {
	e.pendingMu.Lock()
	ch := e.pendingTracks[cid]
	e.pendingMu.Unlock()
	if ch != nil {
		select {
		case ch <- info:
		default:
		}
	}
}

// sendRequestAndWait sends a request that the server answers with a
// RequestResponse carrying its id, and waits for that answer.
func (e *RTCEngine) sendRequestAndWait(ctx context.Context, build func(id uint32) *livekit.SignalRequest) (*livekit.RequestResponse, error) {
	id := e.requestID.Add(1)
	ch := make(chan *livekit.RequestResponse, 1)
	e.pendingMu.Lock()
	e.pendingRequests[id] = ch
	e.pendingMu.Unlock()
	defer func() {
		e.pendingMu.Lock()
		delete(e.pendingRequests, id)
		e.pendingMu.Unlock()
	}()
	if err := e.client.SendRequest(build(id)); err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *RTCEngine) resolveRequest(res *livekit.RequestResponse) {
	e.pendingMu.Lock()
	ch := e.pendingRequests[res.RequestId]
	e.pendingMu.Unlock()
	if ch != nil {
		select {
		case ch <- res:
		default:
		}
		return
	}
	if add := res.GetAddTrack(); add != nil && res.Reason != livekit.RequestResponse_OK {
		// A refused AddTrackRequest has no request id: match it by cid.
		e.logger().Info("server refused track", "cid", add.Cid, "reason", res.Reason, "message", res.Message)
		e.resolveTrack(add.Cid, nil)
	}
}
