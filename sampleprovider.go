package lksdk

import (
	"context"
	"time"

	"github.com/pion/webrtc/v3/pkg/media"
)

// SampleProvider gives a LocalSampleTrack the samples to send (see
// LocalSampleTrack.StartWrite). NextSample returns io.EOF when there are no
// more.
type SampleProvider interface {
	NextSample() (media.Sample, error)
	OnBind() error
	OnUnbind() error
}

// AudioSampleProvider is a SampleProvider of audio that knows the level of
// its samples, sent along so that the server can tell who speaks.
type AudioSampleProvider interface {
	SampleProvider
	// CurrentAudioLevel returns the level of the last sample in -dBov, 0
	// (loudest) to 127 (silence).
	CurrentAudioLevel() uint8
}

// SampleProviderWithContext is a SampleProvider whose NextSample may wait
// (for a microphone, a network source, ...); StartWrite uses
// NextSampleWithContext and cancels ctx when writing stops.
type SampleProviderWithContext interface {
	SampleProvider
	NextSampleWithContext(ctx context.Context) (media.Sample, error)
}

// KeyFrameProvider is a SampleProvider that can answer a subscriber's
// keyframe request, for instance by sending its current group of pictures
// again. A LocalSampleTrack calls RequestKeyFrame when a PLI or FIR arrives,
// within the bound KeyFrameRequestBurst describes.
type KeyFrameProvider interface {
	RequestKeyFrame()
}

// KeyFrameReplayer is a SampleProvider that answers keyframe requests by
// sending frames it sent before again, such as its current group of
// pictures from its last keyframe: a pre-encoded source cannot make a new
// keyframe. As soon as RequestKeyFrame has returned (between two samples;
// the writer does not wait for the next one), StartWrite's writer takes
// every frame NextReplay has to give and sends it, with timestamps
// between the last frame's and the next one's, so that the timeline does
// not move; a decoder that asked starts from the replayed keyframe.
// NextReplay returns false when there is nothing (more) to replay; the
// frames given until then are one replay. NextReplay is called from the
// writer only, RequestKeyFrame from the goroutine reading RTCP.
// ReaderSampleProvider implements it together with KeyFrameProvider.
//
// The writer bounds what requests can cost, for any provider: requests are
// passed to RequestKeyFrame within KeyFrameRequestBurst (the rest are
// merged and counted, see LocalSampleTrack.KeyFrameStats), a replay is
// paced at KeyFrameReplayRate, and frames past MaxKeyFrameReplayBytes of
// one replay are dropped.
type KeyFrameReplayer interface {
	NextReplay() (frame []byte, ok bool)
}

// BaseSampleProvider gives a SampleProvider OnBind and OnUnbind methods that
// do nothing, to embed.
type BaseSampleProvider struct{}

// OnBind does nothing.
func (p *BaseSampleProvider) OnBind() error { return nil }

// OnUnbind does nothing.
func (p *BaseSampleProvider) OnUnbind() error { return nil }

// NullSampleProvider sends samples of zeros at a fixed size and rate, for
// load tests.
type NullSampleProvider struct {
	BaseSampleProvider
	BytesPerSample uint32
	SampleDuration time.Duration
	buf            []byte
}

// NewNullSampleProvider returns a provider of 30 samples a second that add up
// to bitrate bits per second.
func NewNullSampleProvider(bitrate uint32) *NullSampleProvider {
	return &NullSampleProvider{
		BytesPerSample: bitrate / 8 / 30,
		SampleDuration: time.Second / 30,
	}
}

// NextSample returns a sample of BytesPerSample zeros.
func (p *NullSampleProvider) NextSample() (media.Sample, error) {
	if uint32(cap(p.buf)) < p.BytesPerSample {
		p.buf = make([]byte, p.BytesPerSample)
	}
	return media.Sample{Data: p.buf[:p.BytesPerSample], Duration: p.SampleDuration}, nil
}
