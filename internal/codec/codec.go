// Package codec is the SDK's one table of what it knows about each codec
// (media type, kind, RTP clock, IVF FourCC, file extension, the fmtp it
// offers) and the bit-level helpers several codecs' code shares: H.264 NAL
// units, leb128 numbers and the Opus TOC byte. Packetizers, sample
// providers and the recorder all take their codec facts from here.
package codec

import (
	"strings"

	"github.com/pion/webrtc/v3"
)

// Info is what the SDK knows of one codec.
type Info struct {
	// MimeType is the codec's media type as pion spells it ("video/VP8").
	MimeType string
	// Kind is audio or video.
	Kind webrtc.RTPCodecType
	// ClockRate is the RTP clock rate.
	ClockRate uint32
	// Channels is the channel count of an audio codec's RTP format.
	Channels uint16
	// Fmtp is the SDP fmtp line the SDK offers for the codec.
	Fmtp string
	// FourCC names the codec in an IVF header; empty for codecs not stored
	// in IVF.
	FourCC string
	// Ext is the extension of the file the codec is read from and recorded
	// to; empty when the SDK has no file format for it.
	Ext string
	// ExtAliases are further extensions the codec's files are read from.
	ExtAliases []string
}

// Capability returns the codec's pion capability, with its fmtp line.
func (i Info) Capability() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: i.MimeType, ClockRate: i.ClockRate, Channels: i.Channels, SDPFmtpLine: i.Fmtp}
}

// IsVideo reports whether the codec is a video codec.
func (i Info) IsVideo() bool { return i.Kind == webrtc.RTPCodecTypeVideo }

// The codecs the SDK sends, reads from files or records.
var table = []Info{
	{MimeType: webrtc.MimeTypeVP8, Kind: webrtc.RTPCodecTypeVideo, ClockRate: 90000, FourCC: "VP80", Ext: ".ivf"},
	{MimeType: webrtc.MimeTypeVP9, Kind: webrtc.RTPCodecTypeVideo, ClockRate: 90000, FourCC: "VP90", Ext: ".ivf", Fmtp: "profile-id=0"},
	{MimeType: webrtc.MimeTypeAV1, Kind: webrtc.RTPCodecTypeVideo, ClockRate: 90000, FourCC: "AV01", Ext: ".ivf"},
	{MimeType: webrtc.MimeTypeH264, Kind: webrtc.RTPCodecTypeVideo, ClockRate: 90000, Ext: ".h264", ExtAliases: []string{".264"},
		Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
	{MimeType: webrtc.MimeTypeOpus, Kind: webrtc.RTPCodecTypeAudio, ClockRate: OpusClockRate, Channels: 2, Ext: ".ogg", ExtAliases: []string{".opus"},
		Fmtp: "minptime=10;useinbandfec=1"},
	{MimeType: webrtc.MimeTypePCMU, Kind: webrtc.RTPCodecTypeAudio, ClockRate: 8000},
	{MimeType: webrtc.MimeTypePCMA, Kind: webrtc.RTPCodecTypeAudio, ClockRate: 8000},
	{MimeType: webrtc.MimeTypeG722, Kind: webrtc.RTPCodecTypeAudio, ClockRate: 8000},
}

// Lookup returns the codec of media type mime, matched without regard to
// case.
func Lookup(mime string) (Info, bool) {
	for _, i := range table {
		if strings.EqualFold(i.MimeType, mime) {
			return i, true
		}
	}
	return Info{}, false
}

// ByFourCC returns the codec an IVF header's FourCC names.
func ByFourCC(fourcc string) (Info, bool) {
	for _, i := range table {
		if i.FourCC != "" && i.FourCC == fourcc {
			return i, true
		}
	}
	return Info{}, false
}

// ForExtension returns the codecs whose files have extension ext (".ivf"
// holds several, told apart by the FourCC), matched without regard to case.
func ForExtension(ext string) []Info {
	var out []Info
	for _, i := range table {
		match := i.Ext != "" && strings.EqualFold(i.Ext, ext)
		for _, a := range i.ExtAliases {
			match = match || strings.EqualFold(a, ext)
		}
		if match {
			out = append(out, i)
		}
	}
	return out
}

// Extensions lists every file extension the table knows, once each.
func Extensions() []string {
	var out []string
	seen := map[string]bool{}
	for _, i := range table {
		for _, e := range append([]string{i.Ext}, i.ExtAliases...) {
			if e != "" && !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}
