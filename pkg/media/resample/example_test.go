package resample_test

import (
	"fmt"
	"math"

	"github.com/livekit/server-sdk-go/pkg/media/resample"
)

// Converting WebRTC audio (48 kHz) to 16 kHz for speech-to-text, 20 ms at
// a time.
func Example() {
	r, err := resample.New(48000, 16000, 1)
	if err != nil {
		panic(err)
	}
	frame := make([]int16, 960) // 20 ms at 48 kHz, from the decoder
	out := make([]int16, 0, r.OutputLen(len(frame)))
	total := 0
	for range 50 { // one second
		out = r.Process(out[:0], frame)
		total += len(out) // hand out to the recogniser here
	}
	fmt.Println("per 20 ms:", len(out), "samples; in one second:", total)
	total += len(r.Flush(out[:0]))
	fmt.Println("with the tail:", total, "= delay", r.Delay(), "+ 16000")
	// Output:
	// per 20 ms: 320 samples; in one second: 16000
	// with the tail: 16058 = delay 58 + 16000
}

// Delay tells how many output samples to drop so that the output lines up
// with the input in time.
func ExampleResampler_Delay() {
	r, err := resample.New(24000, 48000, 1) // text-to-speech to WebRTC
	if err != nil {
		panic(err)
	}
	in := make([]int16, 2400) // 100 ms of a 500 Hz tone
	for i := range in {
		in[i] = int16(math.Round(10000 * math.Sin(2*math.Pi*500*float64(i)/24000)))
	}
	out := r.Flush(r.Process(nil, in))
	aligned := out[r.Delay():]
	fmt.Println(len(aligned), "samples")
	// At 48 kHz, input sample i is at output sample 2i.
	fmt.Println(in[300], in[301], "→", aligned[600], aligned[601], aligned[602])
	// Output:
	// 4800 samples
	// 10000 9914 → 10000 9979 9914
}
