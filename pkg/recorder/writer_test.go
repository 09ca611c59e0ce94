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
	w := newOggOpusWriter(f, 1)
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

// TestOggWriterFillsGaps writes packets with a gap in their timestamps: the
// gap is filled with TOC-only packets so that durations add up.
func TestOggWriterFillsGaps(t *testing.T) {
	f := &memFile{}
	w := newOggOpusWriter(f, 2)
	p := []byte{0xfc, 1, 2, 3} // CELT FB 20 ms, stereo
	for _, pts := range []int64{0, 960, 5 * 960, 6*960 + 100} {
		if err := w.writeFrame(p, pts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	o := readOggOut(t, f.data)
	var fillers, total int
	for _, q := range o.packets {
		if len(q) == 1 {
			fillers++
			if q[0] != 0xfc {
				t.Fatalf("filler TOC %#x", q[0])
			}
		}
		total += opusPacketSamples(q)
	}
	// Three 20 ms frames missing between 2 and 5; the 100-sample jitter
	// after is less than half a frame and not filled.
	if fillers != 3 || len(o.packets) != 7 {
		t.Fatalf("%d packets, %d fillers", len(o.packets), fillers)
	}
	if g := o.granules[len(o.granules)-1]; g != 7*960 {
		t.Fatalf("last granule %d", g)
	}
	if total != 7*960 {
		t.Fatalf("packets add up to %d", total)
	}
}
