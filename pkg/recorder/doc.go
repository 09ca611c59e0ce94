// Package recorder records a subscribed WebRTC track to a file, choosing the
// format by codec:
//
//   - VP8, VP9 and AV1 to IVF (timebase 1/90000, each frame's timestamp its
//     RTP timestamp relative to the first written frame's; the header's
//     length field holds the duration in that timebase, see below),
//   - H.264 to an Annex-B byte stream (access units with 00 00 00 01 start
//     codes),
//   - Opus to Ogg Opus (granule positions from RTP timestamps).
//
// Packets go through a bounded jitter buffer that puts them back in order,
// drops duplicates and padding-only packets, and declares a missing packet
// lost once it is overdue by the maximum latency (in RTP clock time) or the
// buffer is full. Frames are written only when complete. A video recording
// starts at a keyframe, and after a loss that later frames may depend on it
// drops frames until the next keyframe, asking the publisher for one (see
// WithKeyFrameRequester). All timing comes from RTP timestamps.
//
// Recording a subscribed track with the SDK:
//
//	room, err := lksdk.ConnectToRoom(url, info, &lksdk.RoomCallback{
//		ParticipantCallback: lksdk.ParticipantCallback{
//			OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
//				ext, err := recorder.ExtensionFor(track.Codec().MimeType)
//				if err != nil {
//					return // a codec the package does not record
//				}
//				rec, err := recorder.NewTrackRecorder(track, track.ID()+ext,
//					recorder.WithKeyFrameRequester(func() { rp.WritePLI(track.SSRC()) }))
//				if err != nil {
//					return
//				}
//				go func() {
//					err := rec.Run(ctx) // until the track ends or ctx is done
//					if cerr := rec.Close(); err == nil {
//						err = cerr
//					}
//					log.Printf("recorded %s: %+v, %v", track.ID(), rec.Stats(), err)
//				}()
//			},
//		},
//	})
//
// # Details worth knowing
//
//   - Only complete frames are written, and the first frame of a video file
//     is always a keyframe, so every file decodes from its start; the cost
//     is that a video recording loses everything from a loss to the next
//     keyframe. VP8 and VP9 frames carrying picture IDs survive the loss of
//     packets between frames (padding, for instance) when the picture IDs
//     show that no picture was lost.
//   - H.264: the last SPS and PPS seen (or those of the SDP's
//     sprop-parameter-sets) are put in front of an IDR access unit that
//     lacks them. Only the non-interleaved packetization modes (single NAL
//     unit, STAP-A, FU-A) are supported, as in WebRTC.
//   - AV1: temporal units are written in the low overhead bitstream format
//     with a temporal delimiter first and size fields on every OBU. A
//     temporal unit counts as a keyframe when it holds a sequence header
//     OBU, which WebRTC encoders send with every keyframe.
//   - VP9: a picture of several spatial layers is written as one superframe.
//   - IVF length: the 32-bit header field at offset 24 holds the duration
//     in timebase units (the span of the frame timestamps plus one average
//     frame interval), written on Close. libvpx puts the frame count there,
//     which equals the duration only with a timebase of one frame; readers
//     such as FFmpeg take the field as the duration, so with the RTP
//     timebase a frame count would make an 8 s file last 0.0027 s. It is 0
//     (unknown) for a file of fewer than two frames or written where the
//     recorder cannot seek back.
//   - Ogg Opus: pre-skip is 0, so that the audio lines up with the RTP
//     timeline. A gap in the timestamps (lost packets, discontinuous
//     transmission, a muted track) of up to WithMaxGapFill (a minute by
//     default) is filled with packets of empty Opus frames, which decoders
//     conceal, so that the packets' durations add up to the granule
//     positions; each filler packet covers up to 120 ms in 2 bytes. A
//     longer gap is a discontinuity: nothing is filled in, the granule
//     positions jump ahead by the gap (Stats.Discontinuities counts them).
//     Pages collect up to a second of audio, so a crash loses at most that
//     much.
//   - The jitter buffer holds the first packets of a recording for up to
//     the maximum latency (in RTP time) before it writes anything, so that
//     a recording whose first packets arrive out of order still starts
//     with the earliest. After that, packets are written as soon as they
//     are in order.
//   - In steady state, with a source that has a Read method (as
//     *webrtc.TrackRemote has), recording a packet does not allocate.
//
// # Bounds
//
// A recorder is fed by another participant, who may send anything. Every
// resource that input can grow is bounded; each bound has a policy and a
// counter:
//
//   - Memory: the jitter buffer holds at most WithMaxPackets packets
//     (default 1024) of at most 16 KiB each; larger packets are dropped
//     (declared lost, Stats.LostPackets). A frame larger than 16 MiB is
//     dropped (Stats.FramesDropped).
//   - Filler: a gap in Opus timestamps is filled for at most
//     WithMaxGapFill; a longer one is recorded as a discontinuity
//     (Stats.Discontinuities), so timestamps that leap ahead cost a few
//     bytes, not megabytes.
//   - File size and duration: WithMaxFileBytes and WithMaxDuration (no
//     limit by default) stop the recording before the frame that would
//     pass them; the file is finished and valid, Run returns an error
//     wrapping ErrLimitReached (Stats.BytesWritten, Stats.Duration). The
//     duration is media time from RTP timestamps, which a sender's leaps
//     reach early. IVF and H.264 files never pass the size; an Ogg file
//     can pass it by its last page header and one gap's filler (under
//     4 KiB with the default gap fill).
//   - Files: a RoomRecorder opens at most WithMaxFiles files (default
//     256); later tracks are refused (RoomStats.Refused) and reported to
//     OnRecordingEnded with ErrLimitReached.
//   - File names: a RoomRecorder's names are "<identity>_<track
//     name>_<track SID>" with characters other than ASCII letters, digits,
//     '.', '_' and '-' replaced by '-', leading dots dropped, and each part
//     cut to 48, 64 and 32 bytes, a cut part getting "~" and 8 hex digits
//     of its SHA-256, so that names stay short, inside the directory and
//     apart. An existing file is never overwritten: a clash (a track
//     subscribed again, a directory reused) adds "-2", "-3" and so on.
//
// Every way a RoomRecorder's track fails to be recorded, or stops early,
// is reported through RecordedFile.Failure and the OnRecordingEnded
// callback, and counted in RoomStats.Failed.
package recorder
