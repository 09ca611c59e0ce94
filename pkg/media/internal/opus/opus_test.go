package opus

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// tone is frames of a sine of freq Hz at rate, at amplitude amp of full
// scale, on every one of channels.
func tone(rate, channels, frames int, freq, amp float64) []int16 {
	out := make([]int16, frames*channels)
	for i := range frames {
		v := int16(math.Round(amp * math.MaxInt16 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
		for c := range channels {
			out[i*channels+c] = v
		}
	}
	return out
}

// power is a Goertzel measure of freq in channel c of pcm, relative to a
// full-scale sine (0 dB).
func power(pcm []int16, channels, c, rate int, freq float64) float64 {
	n := len(pcm) / channels
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for i := range n {
		s := float64(pcm[i*channels+c])/math.MaxInt16 + coeff*s1 - s2
		s2, s1 = s1, s
	}
	mag := math.Sqrt(s1*s1+s2*s2-coeff*s1*s2) * 2 / float64(n)
	return 20 * math.Log10(mag+1e-12)
}

// dominant is the strongest frequency of channel c, in 5 Hz steps.
func dominant(pcm []int16, channels, c, rate int) float64 {
	best, bestP := 0.0, math.Inf(-1)
	for f := 50.0; f < float64(rate)/2; f += 5 {
		if p := power(pcm, channels, c, rate, f); p > bestP {
			best, bestP = f, p
		}
	}
	return best
}

func TestEncodeDecodeAtEveryRate(t *testing.T) {
	require.NotEmpty(t, Version())
	for _, channels := range []int{1, 2} {
		enc, err := NewEncoder(channels, EncoderOptions{Bitrate: 48000})
		require.NoError(t, err)
		defer enc.Close()
		src := tone(SampleRate, channels, SampleRate, 1000, 0.5) // 1 s
		var packets [][]byte
		for off := 0; off < len(src); off += 960 * channels {
			out := make([]byte, MaxPacketSize)
			n, err := enc.Encode(src[off:off+960*channels], out)
			require.NoError(t, err)
			packets = append(packets, out[:n])
		}
		require.Len(t, packets, 50)
		for _, rate := range []int{8000, 16000, 24000, 48000} {
			dec, err := NewDecoder(rate, channels)
			require.NoError(t, err)
			var pcm []int16
			buf := make([]int16, MaxFrameSamples*channels)
			for _, p := range packets {
				samples, err := PacketSamples(p, rate)
				require.NoError(t, err)
				require.Equal(t, rate/50, samples)
				n, err := dec.Decode(p, buf)
				require.NoError(t, err)
				require.Equal(t, rate/50, n)
				pcm = append(pcm, buf[:n*channels]...)
			}
			dec.Close()
			settled := pcm[len(pcm)/5:] // past the codec's start
			for c := range channels {
				require.InDelta(t, 1000, dominant(settled, channels, c, rate), 5, "%d channels at %d Hz", channels, rate)
				require.InDelta(t, 20*math.Log10(0.5), power(settled, channels, c, rate, 1000), 1, "level")
			}
		}
	}
}

// Lost packets, concealed or recovered from the next packet's FEC, keep
// the stream's length and its tone.
func TestLossIsConcealed(t *testing.T) {
	for _, loss := range []float64{0.1, 0.3} {
		enc, err := NewEncoder(1, EncoderOptions{Bitrate: 32000, FEC: true, PacketLossPercent: int(loss * 100)})
		require.NoError(t, err)
		src := tone(SampleRate, 1, 2*SampleRate, 440, 0.5)
		var packets [][]byte
		for off := 0; off < len(src); off += 960 {
			out := make([]byte, MaxPacketSize)
			n, err := enc.Encode(src[off:off+960], out)
			require.NoError(t, err)
			packets = append(packets, out[:n])
		}
		enc.Close()
		rng := rand.New(rand.NewPCG(1, uint64(loss*100)))
		lost := make([]bool, len(packets))
		dropped := 0
		for i := 5; i < len(packets)-1; i++ {
			if rng.Float64() < loss {
				lost[i] = true
				dropped++
			}
		}
		dec, err := NewDecoder(16000, 1)
		require.NoError(t, err)
		buf := make([]int16, MaxFrameSamples)
		var pcm []int16
		for i, p := range packets {
			var n int
			switch {
			case !lost[i]:
				n, err = dec.Decode(p, buf)
			case !lost[i+1]:
				n, err = dec.DecodeFEC(packets[i+1], buf, 320)
			default:
				n, err = dec.Conceal(buf, 320)
			}
			require.NoError(t, err)
			require.Equal(t, 320, n, "packet %d", i)
			pcm = append(pcm, buf[:n]...)
		}
		dec.Close()
		require.Len(t, pcm, 2*16000, "%d%% loss (%d packets) keeps the length", int(loss*100), dropped)
		require.InDelta(t, 440, dominant(pcm[1600:], 1, 0, 16000), 5, "the tone")
	}
}

func TestBadArguments(t *testing.T) {
	_, err := NewEncoder(3, EncoderOptions{})
	require.Error(t, err)
	_, err = NewDecoder(44100, 1)
	require.Error(t, err)
	enc, err := NewEncoder(1, EncoderOptions{})
	require.NoError(t, err)
	_, err = enc.Encode(make([]int16, 961), make([]byte, 100))
	require.Error(t, err, "not an Opus frame size")
	enc.Close()
	enc.Close()
	_, err = enc.Encode(make([]int16, 960), make([]byte, 100))
	require.ErrorIs(t, err, ErrClosed)
	dec, err := NewDecoder(48000, 1)
	require.NoError(t, err)
	_, err = dec.Decode(nil, make([]int16, 960))
	require.Error(t, err)
	_, err = dec.Decode([]byte{0xff, 0xff, 0xff}, make([]int16, 960))
	require.Error(t, err, "a malformed packet")
	dec.Close()
	_, err = PacketSamples(nil, 48000)
	require.Error(t, err)
}
