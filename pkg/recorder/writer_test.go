package recorder

import (
	"bytes"
	"testing"

	"github.com/livekit/server-sdk-go/internal/mediaparse"
)

// TestOggCRC checks the CRC against a known value: the CRC-32 with
// polynomial 0x04c11db7, no reflection, initial 0 and no final inversion
// ("CRC-32/MPEG-2" without its inversions) of "123456789" is 0x89a1897f.
func TestOggCRC(t *testing.T) {
	if got := mediaparse.OggCRC(0, []byte("123456789")); got != 0x89a1897f {
		t.Fatalf("crc %#08x", got)
	}
}

// TestOggWriterPages writes packets of awkward sizes (multiples of 255
// need a terminating 0 lacing value) and many small ones, and reads them
// back.
func TestOggWriterPages(t *testing.T) {
	f := &memFile{}
	w := newOggOpusWriter(f, 1, 48000)
	if err := w.begin(0, 0); err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	pts := int64(0)
	for i := 0; i < 600; i++ {
		size := 1 + i%40
		switch i {
		case 10:
			size = 255
		case 11:
			size = 510
		case 12:
			size = 1000
		}
		p := bytes.Repeat([]byte{byte(i)}, size)
		p[0] = 0xf8 // CELT FB 20 ms, code 0
		want = append(want, p)
		if err := w.writeFrame(p, pts); err != nil {
			t.Fatal(err)
		}
		pts += 960
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	o := readOggOut(t, f.data)
	if o.head.Channels != 1 {
		t.Fatalf("channels %d", o.head.Channels)
	}
	if len(o.packets) != len(want) {
		t.Fatalf("%d packets, want %d", len(o.packets), len(want))
	}
	for i := range want {
		if !bytes.Equal(o.packets[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	if !o.eos || o.granules[len(o.granules)-1] != 600*960 {
		t.Fatalf("eos %v, granules %v", o.eos, o.granules)
	}
	// 600 packets of 20 ms: pages of a second (50 packets) each.
	if len(o.granules) != 12 {
		t.Fatalf("%d audio pages: %v", len(o.granules), o.granules)
	}
}

// TestOggWriterFillsGaps writes packets with gaps in their timestamps: the
// gaps are filled with packets of empty frames so that durations add up.
func TestOggWriterFillsGaps(t *testing.T) {
	f := &memFile{}
	w := newOggOpusWriter(f, 2, 48000)
	if err := w.begin(0, 0); err != nil {
		t.Fatal(err)
	}
	p := []byte{0xfc, 1, 2, 3} // CELT FB 20 ms, stereo
	for _, pts := range []int64{0, 960, 5 * 960, 6*960 + 100, 17 * 960} {
		if err := w.writeFrame(p, pts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	o := readOggOut(t, f.data)
	var fillers [][]byte
	var total int
	for _, q := range o.packets {
		if len(q) == 2 {
			fillers = append(fillers, q)
			// Code 3, the last packet's configuration, a frame count
			// and no frame data: decoded as lost frames.
			if q[0] != 0xff {
				t.Fatalf("filler TOC %#x", q[0])
			}
			if d, err := mediaparse.OpusPacketDuration(q); err != nil || d <= 0 {
				t.Fatalf("filler % x does not parse: %v %v", q, d, err)
			}
		}
		total += opusPacketSamples(q)
	}
	// Three 20 ms frames missing between 2 and 5 (one filler); the
	// 100-sample jitter after is less than half a frame and not filled;
	// ten frames (200 ms) before the last: a filler of six (the 120 ms a
	// packet holds at most) and one of four.
	if len(fillers) != 3 || len(o.packets) != 8 || fillers[0][1] != 3 || fillers[1][1] != 6 || fillers[2][1] != 4 {
		t.Fatalf("%d packets, fillers % x", len(o.packets), fillers)
	}
	if g := o.granules[len(o.granules)-1]; g != 18*960 {
		t.Fatalf("last granule %d", g)
	}
	if total != 18*960 {
		t.Fatalf("packets add up to %d", total)
	}
}

// TestOggWriterLongGapIsADiscontinuity writes packets an hour apart: no
// filler is written; the page before each gap ends where the audio
// stopped and the granule positions jump by the gap.
func TestOggWriterLongGapIsADiscontinuity(t *testing.T) {
	f := &memFile{}
	const maxFill = 60 * 48000
	w := newOggOpusWriter(f, 2, maxFill)
	if err := w.begin(0, 0); err != nil {
		t.Fatal(err)
	}
	p := []byte{0x0c, 1} // SILK NB 20 ms stereo, one frame: 2 bytes
	const hour = 3600 * 48000
	var pts int64
	for i := 0; i < 20; i++ {
		if err := w.writeFrame(p, pts); err != nil {
			t.Fatal(err)
		}
		if err := w.writeFrame(p, pts+960); err != nil {
			t.Fatal(err)
		}
		pts += hour
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	if len(f.data) > 4096 {
		t.Fatalf("40 packets of 2 bytes an hour apart took %d bytes", len(f.data))
	}
	o := readOggOut(t, f.data)
	if len(o.packets) != 40 {
		t.Fatalf("%d packets: fillers were written", len(o.packets))
	}
	if w.discontinuities != 19 {
		t.Fatalf("%d discontinuities, want 19", w.discontinuities)
	}
	// One page per pair of packets: each ends 40 ms after its hour.
	if len(o.granules) != 20 {
		t.Fatalf("%d audio pages, want 20: %v", len(o.granules), o.granules)
	}
	for i, g := range o.granules {
		if want := uint64(i*hour + 2*960); g != want {
			t.Fatalf("page %d granule %d, want %d", i, g, want)
		}
	}
}
