package lksdk

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"
)

// ConnectionState is where a room's connection stands.
type ConnectionState int32

// The connection states. A room starts connected (Join returns then), and
// goes to resuming or reconnecting when the connection is lost, back to
// connected when it recovers, and to disconnected for good.
const (
	ConnectionStateConnected ConnectionState = iota
	// ConnectionStateResuming: the session is being resumed: the signal
	// connection is dialled again and ICE restarted; media may flow on.
	ConnectionStateResuming
	// ConnectionStateReconnecting: the session is being replaced by a new
	// one: joined again, every local track published again.
	ConnectionStateReconnecting
	ConnectionStateDisconnected
)

func (s ConnectionState) String() string {
	switch s {
	case ConnectionStateConnected:
		return "connected"
	case ConnectionStateResuming:
		return "resuming"
	case ConnectionStateReconnecting:
		return "reconnecting"
	default:
		return "disconnected"
	}
}

const (
	// DefaultReconnectTimeout bounds how long a lost connection is tried
	// again before the room gives up and disconnects.
	DefaultReconnectTimeout = 60 * time.Second
	resumeAttemptTimeout    = 10 * time.Second
	restartAttemptTimeout   = 15 * time.Second
	maxResumeAttempts       = 3
	minBackoff              = 100 * time.Millisecond
	maxBackoff              = 2 * time.Second
)

// recoveryMode says how a lost connection is to be recovered.
type recoveryMode int

const (
	recoverResume recoveryMode = iota
	recoverRestart
)

// startRecovery begins (or escalates) an episode of recovering the
// connection. It runs on the engine loop and returns at once.
func (e *RTCEngine) startRecovery(mode recoveryMode, reason livekit.ReconnectReason, cause error) {
	e.mu.Lock()
	if e.closed || e.leaving {
		e.mu.Unlock()
		return
	}
	if e.episode != nil {
		if mode == recoverRestart {
			e.episode.escalate.Store(true)
		}
		e.mu.Unlock()
		return
	}
	if e.opts.noReconnect {
		e.mu.Unlock()
		e.logger().Info("connection lost; reconnecting is off", "cause", cause.Error())
		e.state.Store(int32(ConnectionStateDisconnected))
		e.handler.failed(livekit.DisconnectReason_SIGNAL_CLOSE)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ep := &episode{cancel: cancel, done: make(chan struct{}), reason: reason}
	ep.escalate.Store(mode == recoverRestart)
	e.episode = ep
	e.mu.Unlock()

	e.logger().Info("connection lost, recovering", "cause", cause.Error(), "mode", map[recoveryMode]string{recoverResume: "resume", recoverRestart: "reconnect"}[mode])
	go e.recover(ctx, ep)
}

// recover runs one episode: resume attempts, then full reconnects, with a
// bounded backoff, until one works or the reconnect timeout passes.
func (e *RTCEngine) recover(ctx context.Context, ep *episode) {
	defer close(ep.done)
	e.handler.reconnecting()
	budget := e.opts.reconnectTimeout
	if budget <= 0 {
		budget = DefaultReconnectTimeout
	}
	deadline := time.Now().Add(budget)
	backoff := minBackoff
	resumes := 0
	var lastErr error
	for ctx.Err() == nil && time.Now().Before(deadline) {
		var err error
		if !ep.escalate.Load() && resumes < maxResumeAttempts {
			resumes++
			e.state.Store(int32(ConnectionStateResuming))
			err = e.attempt(ctx, deadline, resumeAttemptTimeout, func(ctx context.Context) error { return e.resume(ctx, ep.reason) })
			if err != nil && resumeCannotWork(err) {
				e.logger().Info("the session cannot be resumed; reconnecting", "error", err.Error())
				lastErr = err
				ep.escalate.Store(true)
				continue // straight on to a full reconnect
			}
		} else {
			e.state.Store(int32(ConnectionStateReconnecting))
			err = e.attempt(ctx, deadline, restartAttemptTimeout, e.restart)
		}
		if err == nil {
			e.mu.Lock()
			e.episode = nil
			e.mu.Unlock()
			e.state.Store(int32(ConnectionStateConnected))
			e.logger().Info("connection recovered")
			e.handler.reconnected()
			// A loss reported while this episode ran starts a new one.
			return
		}
		lastErr = err
		e.logger().V(1).Info("recovery attempt failed", "error", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	if ctx.Err() != nil {
		return // Disconnect
	}
	e.logger().Info("could not recover the connection", "error", fmt.Sprint(lastErr))
	e.state.Store(int32(ConnectionStateDisconnected))
	e.handler.failed(livekit.DisconnectReason_SIGNAL_CLOSE)
}

// resumeCannotWork reports whether a failed resume shows that the session
// is gone, so that trying to resume it again is time lost: the server
// refused it (it answered with a leave, or an HTTP error such as a cluster
// node's "could not restart participant" or its failure to reach the node
// that hosted the session), or nothing listens at the server's address any
// more (its node is gone). Anything else (a timeout, a connection that
// broke on the way) may be a passing glitch, and resuming is tried again.
func resumeCannotWork(err error) bool {
	if errors.Is(err, ErrResumeRefused) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var ce *ConnectError
	return errors.As(err, &ce) && ce.StatusCode >= 400
}

// attempt runs one recovery attempt, bounded by per and by the deadline.
func (e *RTCEngine) attempt(ctx context.Context, deadline time.Time, per time.Duration, f func(context.Context) error) error {
	if d := time.Until(deadline); d < per {
		per = d
	}
	actx, cancel := context.WithTimeout(ctx, per)
	defer cancel()
	return f(actx)
}

// resume dials the signal connection again for the same session, restarts
// ICE, tells the server what the client has, and waits for media to flow.
func (e *RTCEngine) resume(ctx context.Context, reason livekit.ReconnectReason) error {
	e.mu.Lock()
	url, token, sid, pubUp := e.url, e.token, e.sid, e.publisherUp
	e.mu.Unlock()
	if e.OnResuming != nil {
		e.OnResuming()
	}
	rr, err := e.client.Reconnect(ctx, url, token, SignalOptions{
		AutoSubscribe: e.opts.autoSubscribe, ParticipantSID: sid, ReconnectReason: reason,
	})
	if err != nil {
		return err
	}
	if servers := FromProtoIceServers(rr.IceServers); len(servers) > 0 && !e.opts.iceServersSet {
		for _, t := range []*PCTransport{e.transport(livekit.SignalTarget_PUBLISHER), e.transport(livekit.SignalTarget_SUBSCRIBER)} {
			cfg := t.pc.GetConfiguration()
			cfg.ICEServers = servers
			_ = t.pc.SetConfiguration(cfg)
		}
	}
	e.client.Start()
	if pubUp {
		e.transport(livekit.SignalTarget_PUBLISHER).RestartICE()
	}
	states := make(chan *livekit.SyncState, 1)
	if !e.post(func() { states <- e.handler.syncState() }) {
		return ErrNotConnected
	}
	select {
	case st := <-states:
		if err := e.client.SendSyncState(st); err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := e.waitTransports(ctx, pubUp); err != nil {
		return err
	}
	if e.OnResumed != nil {
		e.OnResumed()
	}
	return nil
}

// restart replaces the session: new peer connections, a new join, and the
// Room republishes its tracks.
func (e *RTCEngine) restart(ctx context.Context) error {
	if e.OnRestarting != nil {
		e.OnRestarting()
	}
	e.client.Close()
	e.closeTransports()
	e.mu.Lock()
	url, token := e.url, e.token
	e.mu.Unlock()
	fresh, err := e.handler.freshToken()
	if err != nil {
		return err
	}
	if fresh != "" {
		token = fresh
	}
	join, err := e.client.JoinWithContext(ctx, url, token, SignalOptions{AutoSubscribe: e.opts.autoSubscribe})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.join, e.sid, e.publisherUp = join, join.Participant.GetSid(), false
	e.mu.Unlock()
	applied := make(chan struct{})
	if !e.post(func() {
		e.handler.rejoined(join)
		close(applied)
	}) {
		return ErrNotConnected
	}
	select {
	case <-applied:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := e.createTransports(join); err != nil {
		return err
	}
	e.client.Start()
	primary := e.subscriberConnected
	if !join.SubscriberPrimary {
		primary = e.publisherConnected
		e.negotiatePublisher()
	}
	if err := primary.wait(ctx); err != nil {
		return fmt.Errorf("%w: peer connection not connected: %w", ErrConnectionTimeout, err)
	}
	e.waitServerData(ctx)
	if err := e.handler.republish(ctx); err != nil {
		return err
	}
	if err := e.waitTransports(ctx, e.publisherWasUp()); err != nil {
		return err
	}
	if e.OnRestarted != nil {
		e.OnRestarted(join)
	}
	return nil
}

func (e *RTCEngine) publisherWasUp() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.publisherUp
}

// waitTransports waits for the primary connection, and the publisher when
// it is in use.
func (e *RTCEngine) waitTransports(ctx context.Context, publisher bool) error {
	e.mu.Lock()
	subPrimary := e.join == nil || e.join.SubscriberPrimary
	e.mu.Unlock()
	if subPrimary {
		if err := e.subscriberConnected.wait(ctx); err != nil {
			return fmt.Errorf("%w: subscriber not connected: %w", ErrConnectionTimeout, err)
		}
	}
	if publisher || !subPrimary {
		if err := e.publisherConnected.wait(ctx); err != nil {
			return fmt.Errorf("%w: publisher not connected: %w", ErrConnectionTimeout, err)
		}
	}
	return nil
}

// closeTransports closes the peer connections of the current session.
func (e *RTCEngine) closeTransports() {
	e.handler.beforeCloseTransports()
	e.mu.Lock()
	pub, sub := e.publisher, e.subscriber
	e.publisher, e.subscriber = nil, nil
	e.mu.Unlock()
	for _, t := range []*PCTransport{pub, sub} {
		if t != nil {
			_ = t.Close()
		}
	}
	for _, f := range []*stateFlag{e.publisherConnected, e.subscriberConnected, e.reliableOpen, e.lossyOpen, e.serverDataOpen} {
		f.reset()
	}
}

// stopRecovering makes losses reported from now on be ignored: the room is
// closing.
func (e *RTCEngine) stopRecovering() {
	e.mu.Lock()
	e.leaving = true
	e.mu.Unlock()
}

// ConnectionState returns where the connection stands.
func (e *RTCEngine) ConnectionState() ConnectionState {
	return ConnectionState(e.state.Load())
}

// stopRecovery cancels an episode under way and waits for it to end.
func (e *RTCEngine) stopRecovery() {
	e.mu.Lock()
	ep := e.episode
	e.mu.Unlock()
	if ep == nil {
		return
	}
	ep.cancel()
	<-ep.done
}

// reconnectReasonFor names why a transport is being recovered.
func reconnectReasonFor(target livekit.SignalTarget) livekit.ReconnectReason {
	if target == livekit.SignalTarget_PUBLISHER {
		return livekit.ReconnectReason_RR_PUBLISHER_FAILED
	}
	return livekit.ReconnectReason_RR_SUBSCRIBER_FAILED
}
