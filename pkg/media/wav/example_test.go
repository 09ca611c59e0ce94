package wav_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/livekit/server-sdk-go/pkg/media/wav"
)

func Example() {
	var file bytes.Buffer
	w, _ := wav.NewWriter(&file, 16000, 1) // a bytes.Buffer cannot seek: sizes stay "unknown"
	_ = w.Write([]int16{0, 1000, -1000, 32767})
	_ = w.Close()

	r, err := wav.NewReader(&file)
	if err != nil {
		fmt.Println(err)
		return
	}
	samples := make([]int16, 160) // 10 ms at 16 kHz
	n, _ := r.Read(samples)
	_, err = r.Read(samples)
	fmt.Println(r.SampleRate(), r.Channels(), samples[:n], err == io.EOF)
	// Output: 16000 1 [0 1000 -1000 32767] true
}
