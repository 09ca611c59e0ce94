// Package resample converts 16-bit PCM audio between sample rates, in pure
// Go: for example the 48 kHz of WebRTC's Opus to the 16 kHz mono that
// speech-to-text wants, or a text-to-speech voice at 16, 22.05 or 24 kHz up
// to 48 kHz.
//
// A Resampler takes any input and output rate from MinRate (8 kHz) to
// MaxRate (48 kHz), mono or interleaved stereo, as a stream: each Process
// call appends the output for the samples it is given, holding back only
// what the filter still needs, so a stream fed in pieces of any size gives
// the same samples as one fed at once. Flush emits the rest at the end.
// Equal rates copy the input unchanged.
//
//	r, err := resample.New(48000, 16000, 1)
//	if err != nil {
//		return err
//	}
//	buf := make([]int16, 0, r.OutputLen(960))
//	for frame := range frames { // 20 ms at 48 kHz: 960 samples
//		buf = r.Process(buf[:0], frame) // about 320 samples, no allocation
//		send(buf)
//	}
//	send(r.Flush(buf[:0]))
//
// # Filter
//
// The output is the input convolved with a low-pass filter, a sinc
// windowed by a Kaiser window (β = 6.76, designed for 70 dB), evaluated at
// the output's sampling instants: a polyphase filter. Its cutoff follows
// the lower of the two Nyquist frequencies, fN = min(in, out)/2, which
// removes, when downsampling, what the output rate cannot carry (it would
// alias) and, when upsampling, the images of the input spectrum:
//
//   - passband 0 to 0.8·fN: flat within ±0.003 dB (computed from the
//     coefficients; the tests measure tones within ±0.05 dB);
//   - transition 0.8·fN to 0.875·fN;
//   - stopband from 0.875·fN: attenuated by at least 69.7 dB (computed;
//     the tests require 65 dB for tones from 0.875·fN up and for the
//     images of upsampling).
//
// For 48 kHz to 16 kHz that is flat to 6.4 kHz and 70 dB down from 7 kHz; a
// 10 kHz input tone (which would alias to 6 kHz) does not come out above
// the int16 rounding noise. Each table row is scaled to sum to one, so a
// constant passes exactly. Output is rounded to the nearest integer and
// saturated to the int16 range.
//
// The filter spans 120 samples at the lower rate (rounded up to a multiple
// of 4 taps at the input rate: 120 taps per output sample when upsampling,
// 352 for 48 to 16 kHz, 700 for 48 to 8 kHz). Its delay is half of that,
// 60 samples at the lower rate: Delay reports it in output samples (58 at
// 16 kHz out of 48 kHz, 180 at 48 kHz out of 16 kHz; about 3.7 ms for
// 16 kHz, 7.3 ms for 8 kHz, 1.3 ms between 44.1 and 48 kHz). Output sample
// Delay()+k is aligned with the input at time k/out.
//
// # Coefficients
//
// The ratio out/in, reduced to L/M, has L output phases. When a table of L
// rows of taps coefficients (float32) holds at most 65,536 coefficients it
// is computed once and each output sample is one dot product with its
// row. This covers every pair of the usual rates (8, 11.025, 16, 22.05,
// 24, 32, 44.1, 48 kHz) except 11.025 kHz to or from 16, 32 or 48 kHz and
// 22.05 kHz to or from 32 kHz. The largest such tables are about 200 KB:
// 44.1 to 16 kHz (160/441) takes 202 KB, 22.05 to 48 kHz (320/147)
// 150 KB, 44.1 to 48 kHz 75 KB; integer ratios take 1 or 2 KB. Other
// ratios (11025 to 48000 is 640/147; 47999 to 8000 has 8000 phases) use a
// table of 256 phases per sample period of the lower rate, about 120 KB,
// and interpolate linearly between the two rows around each output's
// phase: the interpolation's error lands as images attenuated by more
// than 100 dB, and each output costs two dot products in one pass.
//
// Tables are read-only and shared by all Resamplers of the same ratio; a
// table is released when the last of them is. A Resampler itself holds
// 4 to 7 KB of history per channel.
//
// # Cost
//
// One multiply-add per tap and channel per output sample, in float32 with
// four partial sums: see BENCHMARKS.md for figures.
package resample
