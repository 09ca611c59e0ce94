#!/usr/bin/env bash
# Regenerates the media files in this directory from ffmpeg's synthetic
# lavfi sources. Run from anywhere:
#
#   ./testdata/generate.sh
#
# Needs ffmpeg built with libvpx, libx264 and libopus (the Debian/Ubuntu
# "ffmpeg" package is enough). Single-threaded encoding and bitexact flags keep
# the output reproducible for a given ffmpeg/libvpx/x264/libopus version; other
# versions produce different bytes with the same properties (see README.md).
set -euo pipefail

cd "$(dirname "$0")"

FFMPEG=${FFMPEG:-ffmpeg}
COMMON=(-hide_banner -loglevel error -y)
# Deterministic container output: no metadata, no random Ogg serials,
# no encoder version strings where the muxer honours bitexact.
BITEXACT=(-fflags +bitexact -flags:v +bitexact -map_metadata -1)

# testsrc2 has a moving element and a frame counter, so consecutive frames
# differ.
video() { # size rate duration
	echo "testsrc2=size=$1:rate=$2:duration=$3"
}

# VP8 for WebRTC: no alt-ref/lag so every IVF frame is a shown frame, fixed
# keyframe interval (kf_min_dist = kf_max_dist), single thread.
vp8() { # out size duration gop bitrate
	"$FFMPEG" "${COMMON[@]}" -f lavfi -i "$(video "$2" 30 "$3")" \
		-c:v libvpx -b:v "$5" -minrate "$5" -maxrate "$5" \
		-g "$4" -keyint_min "$4" \
		-auto-alt-ref 0 -lag-in-frames 0 -deadline good -cpu-used 4 \
		-threads 1 -pix_fmt yuv420p \
		"${BITEXACT[@]}" -f ivf "$1"
}

vp8 vp8.ivf 320x240 8 120 150k
# What cmd/loadtest publishes: about a 360p camera's bitrate.
vp8 vp8_640x360.ivf 640x360 8 120 500k

# VP9, 6 s, keyframe every 2 s; no hidden (alt-ref) frames so there are no
# superframes.
"$FFMPEG" "${COMMON[@]}" -f lavfi -i "$(video 320x240 30 6)" \
	-c:v libvpx-vp9 -b:v 120k -g 60 -keyint_min 60 \
	-auto-alt-ref 0 -lag-in-frames 0 -deadline good -cpu-used 4 -row-mt 0 \
	-threads 1 -pix_fmt yuv420p \
	"${BITEXACT[@]}" -f ivf vp9.ivf

# H.264 constrained baseline, Annex-B. x264 puts SPS/PPS before every IDR
# (repeat-headers) and writes VUI timing info (num_units_in_tick=1,
# time_scale=60 for 30 fps). scenecut=0 keeps keyframes exactly every 120
# frames; baseline has no B-frames.
"$FFMPEG" "${COMMON[@]}" -f lavfi -i "$(video 320x240 30 8)" \
	-c:v libx264 -profile:v baseline -preset medium -b:v 120k \
	-x264-params "keyint=120:min-keyint=120:scenecut=0:repeat-headers=1:bframes=0:threads=1:sliced-threads=0" \
	-pix_fmt yuv420p \
	"${BITEXACT[@]}" -f h264 h264.h264

# Opus, 48 kHz stereo (different tone per channel), 20 ms frames, 32 kbps.
# Constrained VBR: with unconstrained VBR libopus spends ~53 kbps on the pure
# tones.
"$FFMPEG" "${COMMON[@]}" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=8" \
	-f lavfi -i "sine=frequency=660:sample_rate=48000:duration=8" \
	-filter_complex "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]" -map "[a]" \
	-c:a libopus -b:a 32k -vbr constrained -frame_duration 20 -application audio \
	-fflags +bitexact -flags:a +bitexact -map_metadata -1 -f ogg opus.ogg

# Simulcast layers: the same testsrc2 content at three sizes, 5 s, keyframe
# every second.
vp8 simulcast_q.ivf 320x180 5 30 80k
vp8 simulcast_h.ivf 640x360 5 30 150k
vp8 simulcast_f.ivf 1280x720 5 30 300k

ls -l vp8.ivf vp8_640x360.ivf vp9.ivf h264.h264 opus.ogg simulcast_q.ivf simulcast_h.ivf simulcast_f.ivf
