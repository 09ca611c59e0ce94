// Package lksdk is the Go SDK for LiveKit, the open-source WebRTC SFU.
//
// A backend service uses it to:
//
//   - create access tokens for clients ([ConnectInfo], [NewJoinToken], and the
//     github.com/livekit/protocol/auth package it builds on);
//   - call LiveKit's server APIs over Twirp ([RoomServiceClient]); every call
//     is signed with a fresh, short-lived token that carries only the grant
//     that call needs;
//   - verify and decode webhook callbacks ([NewWebhookHandler], or protocol's
//     webhook.ReceiveWebhookEvent);
//   - join rooms as a participant ([ConnectToRoom]): publish files and
//     samples ([NewLocalFileTrack], [LocalSampleTrack]), subscribe to other
//     participants' tracks, send and receive data; the recorder package
//     (pkg/recorder) writes subscribed tracks to files.
//
// # How a Room runs
//
// Signal responses and peer connection events are applied to the room's
// state in the order they arrive, on one goroutine of the room's, which
// never waits on the network.
//
// Callbacks ([RoomCallback], [ParticipantCallback]) are called one at a
// time, in the order things happened, from one other goroutine per room, and
// never while the SDK holds a lock. A callback may therefore call back into
// the SDK: publish, subscribe, send data, even [Room.Disconnect] (which then
// returns once the server has been told; the room finishes closing when the
// callback returns). A slow callback delays the callbacks after it, not the
// connection.
//
// What other participants send is bounded on its way to the callbacks
// (see [MaxPendingLossyPackets] and the constants beside it): lossy data
// that finds the callbacks too far behind is dropped and counted; reliable
// data is never dropped, its channel is read no further until the
// callbacks catch up. Other events (participants, tracks) are never
// dropped: the signal connection is read no further while
// [MaxPendingSignalResponses] wait for the room's event loop, and a room
// whose callbacks fall [MaxPendingCallbacks] behind closes with reason
// STATE_MISMATCH rather than lose an event unnoticed. [Room.Stats] returns
// the counters; a log line says when a bound is reached, at most once per
// 10 s.
//
// A room's life is one state machine: new, connecting, connected (and
// reconnecting while a lost connection is recovered), closing, closed. A
// failed or cancelled join ends in closed. [Room.Disconnect] is defined in
// every state and may be called any number of times, from any goroutine:
// before Join it closes the room, during Join it cancels the join. Called
// from anything the SDK calls (callbacks, a provider's OnWriteComplete, an
// RTCP handler, [RemoteTrackPublication.OnRTCP]) it returns once the leave
// is written to the signal connection, and the room finishes closing when
// that function returns. Wherever it is called from, the server has been
// told when Disconnect returns (after the reliable data published before it
// has reached the server, within the bounds [LeaveFlushTimeout] and
// [LeaveFlushLimit] set), so a program may exit right after
// it. [Room.Done], [Room.ConnectionState] and [Room.DisconnectReason]
// always agree.
//
// Every goroutine a room starts ends before Disconnect returns, and a failed
// connect leaves none running. Closing a published track first unblocks its
// sample provider (Close, if it has one, and the cancellation of the
// context of [SampleProviderWithContext]) and then waits for its writer; a
// provider that ignores both is given half a second and then left to return
// by itself. Blocking calls have a variant taking a
// context ([Room.JoinWithContext], [LocalParticipant.PublishTrackWithContext],
// [LocalParticipant.PublishDataPacket]); the v0.10 names use bounded
// timeouts.
//
// RPC method handlers ([Room.RegisterRpcMethod]) and data stream handlers
// ([Room.RegisterTextStreamHandler], [Room.RegisterByteStreamHandler]) are
// not callbacks of that kind: each call or stream runs its handler on a
// goroutine of its own, since handlers wait for the rest of a stream or
// take their time to answer. They are not waited for when the room closes;
// the room's closing ends their streams and cancels their contexts.
//
// A lost connection is recovered by resuming the session or, when the server
// cannot resume it, by joining again and republishing every track; see
// [ConnectionState] and [WithReconnectTimeout].
//
// # URLs
//
// Every constructor accepts the server's address in any of the usual forms:
// "wss://host", "https://host", "ws://host:7880", "http://host:7880/" or a
// bare "host:7880". See [ToHttpURL] and [ToWebsocketURL].
//
// # Errors
//
// Errors returned by the server API clients wrap the server's
// [github.com/twitchtv/twirp.Error]; use errors.As to read its code:
//
//	var terr twirp.Error
//	if errors.As(err, &terr) && terr.Code() == twirp.NotFound { ... }
//
// # Logging
//
// The SDK logs through a [github.com/go-logr/logr.Logger] set with
// [SetLogger]. By default it writes errors and important events to the
// standard library's log package. A room given its own logger with
// [WithLogger] logs every line of its own through it: joining, recovering,
// leaving, its peer connections and its tracks.
package lksdk
