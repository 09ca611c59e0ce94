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
