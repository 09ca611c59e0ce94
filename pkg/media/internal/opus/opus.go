// Package opus is a small binding to libopus (the C library, 1.3 or later):
// an encoder and a decoder of interleaved 16-bit PCM, with the decoder's
// loss concealment and in-band FEC. It is the only cgo of the module; on
// Debian the library comes with the libopus-dev package, which `make deps`
// installs.
package opus

/*
#cgo LDFLAGS: -lopus
#include <opus/opus.h>

// opus_encoder_ctl and opus_decoder_ctl are variadic, which cgo cannot call.
static int enc_set(OpusEncoder *e, int request, opus_int32 v) { return opus_encoder_ctl(e, request, v); }
static int enc_reset(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_RESET_STATE); }
static int dec_last_duration(OpusDecoder *d, opus_int32 *v) { return opus_decoder_ctl(d, OPUS_GET_LAST_PACKET_DURATION(v)); }
static int dec_reset(OpusDecoder *d) { return opus_decoder_ctl(d, OPUS_RESET_STATE); }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// SampleRate is the rate the SDK runs Opus at, as WebRTC does.
const SampleRate = 48000

// MaxPacketSize bounds an encoded packet (a 120 ms frame at the highest
// bitrate fits).
const MaxPacketSize = 4000

// MaxFrameSamples is the most samples per channel a packet decodes to
// (120 ms at 48 kHz).
const MaxFrameSamples = SampleRate * 120 / 1000

// Error is an error code of libopus.
type Error int

func (e Error) Error() string {
	return "opus: " + C.GoString(C.opus_strerror(C.int(e)))
}

// ErrClosed is returned by an encoder or decoder used after Close.
var ErrClosed = errors.New("opus: closed")

// Version is the version string of the libopus in use.
func Version() string { return C.GoString(C.opus_get_version_string()) }

// EncoderOptions configures an Encoder.
type EncoderOptions struct {
	// Bitrate in bits per second (0: the library chooses from the rate
	// and channels).
	Bitrate int
	// FEC turns on in-band forward error correction, sized for
	// PacketLossPercent.
	FEC               bool
	PacketLossPercent int
	// Music chooses the audio application over voice.
	Music bool
	// Complexity is the encoder's computational complexity, 1 to 10
	// (0: the library's default, 10). Lower costs less CPU for a little
	// quality.
	Complexity int
}

// Encoder encodes 48 kHz PCM into Opus packets. It is not safe for
// concurrent use.
type Encoder struct {
	e        *C.OpusEncoder
	channels int
}

// NewEncoder returns an encoder of channels (1 or 2) at 48 kHz, without
// DTX: silence is encoded too, so RTP timestamps stay continuous.
func NewEncoder(channels int, o EncoderOptions) (*Encoder, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("opus: %d channels: 1 or 2 are encoded", channels)
	}
	app := C.OPUS_APPLICATION_VOIP
	if o.Music {
		app = C.OPUS_APPLICATION_AUDIO
	}
	var code C.int
	e := C.opus_encoder_create(SampleRate, C.int(channels), C.int(app), &code)
	if code != C.OPUS_OK {
		return nil, Error(code)
	}
	enc := &Encoder{e: e, channels: channels}
	set := func(req C.int, v int) error {
		if r := C.enc_set(e, req, C.opus_int32(v)); r != C.OPUS_OK {
			return Error(r)
		}
		return nil
	}
	fec := 0
	if o.FEC {
		fec = 1
	}
	bitrate := o.Bitrate
	if bitrate == 0 {
		bitrate = C.OPUS_AUTO
	}
	for _, s := range []struct {
		req C.int
		v   int
	}{
		{C.OPUS_SET_BITRATE_REQUEST, bitrate},
		{C.OPUS_SET_INBAND_FEC_REQUEST, fec},
		{C.OPUS_SET_PACKET_LOSS_PERC_REQUEST, o.PacketLossPercent},
		{C.OPUS_SET_DTX_REQUEST, 0},
	} {
		if err := set(s.req, s.v); err != nil {
			enc.Close()
			return nil, fmt.Errorf("opus: setting the encoder (request %d to %d): %w", s.req, s.v, err)
		}
	}
	if o.Complexity != 0 {
		if err := set(C.OPUS_SET_COMPLEXITY_REQUEST, o.Complexity); err != nil {
			enc.Close()
			return nil, fmt.Errorf("opus: complexity %d: %w", o.Complexity, err)
		}
	}
	return enc, nil
}

// Encode encodes one frame of interleaved pcm (2.5, 5, 10, 20, 40 or 60 ms
// of every channel) into out and returns the packet's length.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if e.e == nil {
		return 0, ErrClosed
	}
	frame := len(pcm) / e.channels
	if frame == 0 || len(pcm)%e.channels != 0 || len(out) == 0 {
		return 0, fmt.Errorf("opus: %d samples of %d channels into %d bytes", len(pcm), e.channels, len(out))
	}
	n := C.opus_encode(e.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(frame),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(len(out)))
	if n < 0 {
		return 0, Error(n)
	}
	return int(n), nil
}

// Reset forgets what was encoded before, as after a pause.
func (e *Encoder) Reset() {
	if e.e != nil {
		C.enc_reset(e.e)
	}
}

// Close frees the encoder; it may be called more than once.
func (e *Encoder) Close() {
	if e.e != nil {
		C.opus_encoder_destroy(e.e)
		e.e = nil
	}
}

// Decoder decodes Opus packets into PCM at a rate of its own. It is not
// safe for concurrent use.
type Decoder struct {
	d        *C.OpusDecoder
	rate     int
	channels int
}

// NewDecoder returns a decoder to rate (8, 12, 16, 24 or 48 kHz) and
// channels (1 or 2), whatever the packets were encoded with.
func NewDecoder(rate, channels int) (*Decoder, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("opus: %d channels: 1 or 2 are decoded", channels)
	}
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return nil, fmt.Errorf("opus: decoding to %d Hz: 8, 12, 16, 24 or 48 kHz", rate)
	}
	var code C.int
	d := C.opus_decoder_create(C.opus_int32(rate), C.int(channels), &code)
	if code != C.OPUS_OK {
		return nil, Error(code)
	}
	return &Decoder{d: d, rate: rate, channels: channels}, nil
}

// Decode decodes packet into pcm (interleaved; room for the packet's
// duration) and returns the samples per channel it wrote.
func (d *Decoder) Decode(packet []byte, pcm []int16) (int, error) {
	if len(packet) == 0 {
		return 0, errors.New("opus: an empty packet (use Conceal for a lost one)")
	}
	return d.decode(packet, pcm, len(pcm)/d.channels, false)
}

// DecodeFEC recovers the frame lost before packet from the forward error
// correction packet carries: frame samples per channel (the lost frame's
// duration). Without FEC data in packet it conceals the frame instead.
func (d *Decoder) DecodeFEC(packet []byte, pcm []int16, frame int) (int, error) {
	if len(packet) == 0 {
		return d.Conceal(pcm, frame)
	}
	return d.decode(packet, pcm, frame, true)
}

// Conceal fills frame samples per channel of pcm with the decoder's
// concealment of a lost packet: a continuation of what came before that
// fades out, never a click.
func (d *Decoder) Conceal(pcm []int16, frame int) (int, error) {
	return d.decode(nil, pcm, frame, false)
}

func (d *Decoder) decode(packet []byte, pcm []int16, frame int, fec bool) (int, error) {
	if d.d == nil {
		return 0, ErrClosed
	}
	if frame <= 0 || frame*d.channels > len(pcm) {
		return 0, fmt.Errorf("opus: %d samples per channel into %d samples of %d channels", frame, len(pcm), d.channels)
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	f := 0
	if fec {
		f = 1
	}
	n := C.opus_decode(d.d, data, C.opus_int32(len(packet)), (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(frame), C.int(f))
	if n < 0 {
		return 0, Error(n)
	}
	return int(n), nil
}

// LastPacketDuration is the samples per channel of the last packet decoded
// (or concealed).
func (d *Decoder) LastPacketDuration() int {
	if d.d == nil {
		return 0
	}
	var v C.opus_int32
	C.dec_last_duration(d.d, &v)
	return int(v)
}

// Reset forgets the stream decoded so far.
func (d *Decoder) Reset() {
	if d.d != nil {
		C.dec_reset(d.d)
	}
}

// Close frees the decoder; it may be called more than once.
func (d *Decoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}

// PacketSamples is the samples per channel a packet decodes to at rate,
// read from its table of contents, or an error for a malformed packet.
func PacketSamples(packet []byte, rate int) (int, error) {
	if len(packet) == 0 {
		return 0, errors.New("opus: an empty packet")
	}
	n := C.opus_packet_get_nb_samples((*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)), C.opus_int32(rate))
	if n < 0 {
		return 0, Error(n)
	}
	return int(n), nil
}
