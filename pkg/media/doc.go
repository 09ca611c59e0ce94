// Package media is PCM audio for LiveKit rooms: what voice agents need to
// speak and to listen.
//
//   - PCMLocalTrack takes interleaved signed 16-bit PCM at any rate from 8
//     to 48 kHz, mono or stereo, resamples it to 48 kHz, encodes it with
//     libopus and sends it paced by the SDK, silence when nothing is queued.
//     Its queue is bounded: a write waits while it is full. ClearQueue stops
//     the speech within one frame (an interruption), WaitForPlayout waits
//     for the last sample to be sent.
//   - PCMRemoteTrack decodes a subscribed Opus track to PCM at 8, 16, 24 or
//     48 kHz, mono or stereo, through a jitter buffer, concealing lost
//     packets.
//   - Mixer sums several PCM streams into one.
//   - WAV in and out: PCMLocalTrack.WriteWAV queues a WAV file of any rate
//     and channels; a WAVWriter (NewWAVWriter, CreateWAVFile) is a
//     PCMRemoteTrackWriter that writes a remote track to a WAV file.
//
// examples/voice in the SDK's repository is a voice agent's skeleton built
// on these: greeting, listening at 16 kHz, repeating, and interruption.
//
// The package uses cgo: it needs libopus (1.3 or later) and its headers
// (Debian and Ubuntu: `apt-get install libopus-dev`; macOS: `brew install
// opus`); the SDK's `make deps` installs Debian's package. The root package
// lksdk stays pure Go. WAV files are read and written by the pure-Go
// subpackage pkg/media/wav, and pkg/media/resample is the resampler.
//
// Samples are interleaved: for stereo, left then right, frame by frame.
package media
