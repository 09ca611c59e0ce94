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
//     webhook.ReceiveWebhookEvent).
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
// standard library's log package.
package lksdk
