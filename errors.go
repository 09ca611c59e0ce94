package lksdk

import "errors"

// Sentinel errors. Errors returned by the SDK wrap these where they apply, so
// callers match them with errors.Is.
var (
	// ErrConnectionTimeout: the connection to the server was not established
	// in time.
	ErrConnectionTimeout = errors.New("could not connect after timeout")
	// ErrTrackPublishTimeout: the server did not confirm a published track in
	// time.
	ErrTrackPublishTimeout = errors.New("timed out publishing track")
	// ErrCannotDetermineMime: the media type of a file could not be told from
	// its name or content.
	ErrCannotDetermineMime = errors.New("cannot determine mime type from file extension")
	// ErrUnsupportedFileType: a file's media type is not one the SDK can read.
	ErrUnsupportedFileType = errors.New("ReaderSampleProvider does not support this mime type")
	// ErrUnsupportedSimulcastKind: simulcast was asked of a track that is not
	// video.
	ErrUnsupportedSimulcastKind = errors.New("simulcast is only supported for video")
	// ErrInvalidSimulcastTrack: a simulcast layer is missing its layer
	// description or quality.
	ErrInvalidSimulcastTrack = errors.New("simulcast track was not initiated correctly")
	// ErrCannotFindTrack: the track named in a call is not known.
	ErrCannotFindTrack = errors.New("could not find the track")
	// ErrSignalError: the signal connection to the server failed.
	ErrSignalError = errors.New("signal error")

	// ErrInvalidURL: the server URL given to the SDK cannot be used.
	ErrInvalidURL = errors.New("invalid LiveKit server URL")
	// ErrMissingCredentials: an API key or secret is empty.
	ErrMissingCredentials = errors.New("API key and secret are required")
)

// ErrResumeRefused: the server could not resume the session; a full
// reconnect is needed.
var ErrResumeRefused = errors.New("server refused to resume the session")

// The phases of connecting to a room, as named by ConnectError.
const (
	PhaseSignalDial = "signal dial" // opening the signalling WebSocket
	PhaseJoin       = "join"        // waiting for the server's join response
	PhaseICE        = "ice"         // connecting the peer connections (ICE, DTLS)
	PhasePublisher  = "publisher"   // connecting the publishing peer connection
	PhaseCancelled  = "cancelled"   // the caller's context ended
)

// ConnectError is returned when joining a room fails. It names the phase that
// failed and, when the server refused the connection, its status and reason
// ("invalid token: ... token is expired", "requested room does not exist").
// It wraps ErrSignalError or ErrConnectionTimeout where they apply.
type ConnectError struct {
	Phase      string
	StatusCode int    // the HTTP status of a refused WebSocket upgrade
	Reason     string // the server's reason, when it gave one
	Err        error
}

func (e *ConnectError) Error() string {
	msg := "lksdk: connecting (" + e.Phase + ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

var (
	// ErrNotConnected: the room is not connected (not yet, or no longer).
	ErrNotConnected = errors.New("lksdk: not connected to a room")
	// ErrDataTooLarge: a data packet is larger than the server accepts.
	ErrDataTooLarge = errors.New("lksdk: data packet too large")
)
