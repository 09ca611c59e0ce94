package media

import "math"

// audioLevel is the level of interleaved pcm in -dBov as the audio level
// header extension carries it: 0 (full scale) to 127 (silence).
func audioLevel(pcm []int16) uint8 {
	if len(pcm) == 0 {
		return 127
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v) / math.MaxInt16
		sum += f * f
	}
	rms := math.Sqrt(sum / float64(len(pcm)))
	if rms <= 0 {
		return 127
	}
	db := -20 * math.Log10(rms)
	return uint8(max(0, min(127, math.Round(db))))
}
