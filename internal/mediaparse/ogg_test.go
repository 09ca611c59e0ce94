package mediaparse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// readOpus reads a whole Ogg Opus stream, copying the packets.
func readOpus(r io.Reader, verifyCRC bool) (*OpusHead, [][]byte, *OggOpusReader, error) {
	or, head, err := newOggOpusReader(r, verifyCRC)
	if err != nil {
		return nil, nil, nil, err
	}
	var pkts [][]byte
	for {
		p, err := or.Next()
		if err != nil {
			return head, pkts, or, err
		}
		pkts = append(pkts, bytes.Clone(p))
	}
}

func TestOggOpusFile(t *testing.T) {
	data := testdata(t, "opus.ogg")
	head, pkts, r, err := readOpus(bytes.NewReader(data), true)
	if err != io.EOF {
		t.Fatalf("read ended with %v", err)
	}
	if *head != (OpusHead{Channels: 2, PreSkip: 312, SampleRate: 48000}) {
		t.Fatalf("head %+v", *head)
	}
	// 8 s plus the encoder's 312 samples of pre-skip, in 20 ms packets.
	if len(pkts) != 401 {
		t.Fatalf("%d packets, want 401", len(pkts))
	}
	var total time.Duration
	for i, p := range pkts {
		d, err := OpusPacketDuration(p)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if d != 20*time.Millisecond {
			t.Errorf("packet %d lasts %v", i, d)
		}
		total += d
	}
	// The stream's duration is the last granule position less the pre-skip.
	if r.granule != 8*48000+312 {
		t.Errorf("last granule position %d", r.granule)
	}
	fileDur := time.Duration(r.granule-int64(head.PreSkip)) * time.Second / 48000
	if fileDur != 8*time.Second {
		t.Errorf("file lasts %v", fileDur)
	}
	// The packets cover the pre-skip and the file, and the end trimming is
	// less than one packet.
	preSkip := time.Duration(head.PreSkip) * time.Second / 48000
	if trim := total - preSkip - fileDur; trim < 0 || trim >= 20*time.Millisecond {
		t.Errorf("packets last %v for a %v file with %v pre-skip", total, fileDur, preSkip)
	}

	_, slow, _, err := readOpus(iotest.OneByteReader(bytes.NewReader(data)), true)
	if err != io.EOF || len(slow) != len(pkts) {
		t.Fatalf("one-byte reads: %d packets, %v", len(slow), err)
	}
	for i := range slow {
		if !bytes.Equal(slow[i], pkts[i]) {
			t.Fatalf("one-byte reads: packet %d differs", i)
		}
	}
}

// oggPageEnds returns the offsets at which the pages of an Ogg stream end and
// the number of whole packets that end in each page.
func oggPageEnds(t *testing.T, data []byte) (ends []int, packets []int) {
	off := 0
	for off < len(data) {
		n := int(data[off+26])
		size := 27 + n
		count := 0
		for _, l := range data[off+27 : off+27+n] {
			size += int(l)
			if l < 255 {
				count++
			}
		}
		off += size
		ends = append(ends, off)
		packets = append(packets, count)
	}
	if off != len(data) {
		t.Fatal("bad page structure")
	}
	return ends, packets
}

func TestOggOpusTruncated(t *testing.T) {
	data := testdata(t, "opus.ogg")
	ends, counts := oggPageEnds(t, data)
	clean := map[int]int{} // offset -> audio packets before it
	audio := -2            // the first two packets are headers
	for i, e := range ends {
		audio += counts[i]
		if i >= 1 {
			clean[e] = audio
		}
	}
	var offsets []int
	for i := 0; i < 300; i++ {
		offsets = append(offsets, i)
	}
	for i := 300; i < len(data); i += 37 {
		offsets = append(offsets, i)
	}
	for _, e := range ends {
		offsets = append(offsets, e-1, e, e+1, e+27, e+28)
	}
	for _, n := range offsets {
		if n > len(data) {
			continue
		}
		_, pkts, _, err := readOpus(bytes.NewReader(data[:n]), true)
		want, ok := clean[n]
		if ok {
			if err != io.EOF || len(pkts) != want {
				t.Fatalf("cut at %d: %d packets, %v; want %d, io.EOF", n, len(pkts), err, want)
			}
		} else if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestOggOpusPackets(t *testing.T) {
	const serial = 0x1234
	big := bytes.Repeat([]byte{0xfc, 0x01, 0x02}, 200)[:600] // 600 bytes
	b255 := bytes.Repeat([]byte{0xf8}, 255)
	b510 := bytes.Repeat([]byte{0xf0}, 510)
	small := []byte{0xfc, 0xaa}

	// Page 2 holds small and ends inside big (lacing 255, 255); page 3
	// continues it.
	var in []byte
	in = append(in, oggHeaders(serial, 2)...)
	in = append(in, oggPage(0, 960, serial, 2, []byte{2, 255, 255}, append(append([]byte{}, small...), big[:510]...))...)
	// Page 3: rest of big (90 bytes), a 255-byte packet (255, 0), a
	// zero-length packet, and the first 255 bytes of a 510-byte packet.
	l3 := []byte{90, 255, 0, 0, 255}
	body3 := append(append(append([]byte{}, big[510:]...), b255...), b510[:255]...)
	in = append(in, oggPage(oggFlagContinue, 2880, serial, 3, l3, body3)...)
	// Page 4: the rest of the 510-byte packet ends exactly at 255 bytes, so a
	// 0 lacing value closes it; then small, on the end-of-stream page.
	l4 := []byte{255, 0, 2}
	body4 := append(append([]byte{}, b510[255:]...), small...)
	in = append(in, oggPage(oggFlagContinue|oggFlagEOS, 4800, serial, 4, l4, body4)...)
	// Anything after the end of the stream is not read.
	in = append(in, "garbage"...)

	want := [][]byte{small, big, b255, b510, small}
	for _, split := range []string{"whole", "one byte"} {
		var rd io.Reader = bytes.NewReader(in)
		if split == "one byte" {
			rd = iotest.OneByteReader(rd)
		}
		head, pkts, r, err := readOpus(rd, true)
		if err != io.EOF {
			t.Fatalf("%s: read ended with %v", split, err)
		}
		if *head != (OpusHead{Channels: 2, PreSkip: 312, SampleRate: 48000}) {
			t.Fatalf("%s: head %+v", split, *head)
		}
		if len(pkts) != len(want) {
			t.Fatalf("%s: %d packets, want %d", split, len(pkts), len(want))
		}
		for i := range want {
			if !bytes.Equal(pkts[i], want[i]) {
				t.Fatalf("%s: packet %d: %d bytes, want %d", split, i, len(pkts[i]), len(want[i]))
			}
		}
		if r.granule != 4800 {
			t.Fatalf("%s: granule %d", split, r.granule)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("%s: after the end: %v", split, err)
		}
	}
}

func TestOggOpusMultiplexed(t *testing.T) {
	const opus, other = 7, 9
	vorbis := []byte("\x01vorbis\x00\x00\x00\x00\x02\x44\xac\x00\x00")
	pkt := []byte{0xfc, 1, 2, 3}
	var in []byte
	in = append(in, oggPage(oggFlagBOS, 0, other, 0, lace(len(vorbis)), vorbis)...)
	head := opusHeadPacket(1, 0, 16000)
	tags := opusTagsPacket()
	in = append(in, oggPage(oggFlagBOS, 0, opus, 0, lace(len(head)), head)...)
	in = append(in, oggPage(0, 0, other, 1, []byte{3}, []byte{1, 2, 3})...)
	in = append(in, oggPage(0, 0, opus, 1, lace(len(tags)), tags)...)
	// A page of the other stream sits between two pages of a spanning packet.
	long := bytes.Repeat([]byte{0xfc}, 300)
	in = append(in, oggPage(0, 0, opus, 2, []byte{4, 255}, append(append([]byte{}, pkt...), long[:255]...))...)
	in = append(in, oggPage(oggFlagContinue, 0, other, 2, []byte{255}, bytes.Repeat([]byte{1}, 255))...)
	in = append(in, oggPage(oggFlagContinue|oggFlagEOS, 1920, opus, 3, []byte{45}, long[255:])...)

	h, pkts, _, err := readOpus(bytes.NewReader(in), true)
	if err != io.EOF {
		t.Fatalf("read ended with %v", err)
	}
	if *h != (OpusHead{Channels: 1, PreSkip: 0, SampleRate: 16000}) {
		t.Fatalf("head %+v", *h)
	}
	if len(pkts) != 2 || !bytes.Equal(pkts[0], pkt) || !bytes.Equal(pkts[1], long) {
		t.Fatalf("packets %x", pkts)
	}
}

func TestOggOpusErrors(t *testing.T) {
	const s = 1
	audio := func(flags byte, lacing []byte, body []byte) []byte {
		return append(oggHeaders(s, 2), oggPage(flags, 960, s, 2, lacing, body)...)
	}
	withHead := func(head []byte) []byte {
		tags := opusTagsPacket()
		b := oggPage(oggFlagBOS, 0, s, 0, lace(len(head)), head)
		return append(b, oggPage(0, 0, s, 1, lace(len(tags)), tags)...)
	}
	badCRC := audio(0, []byte{2}, []byte{0xfc, 0})
	badCRC[len(badCRC)-1] ^= 0xff
	vorbis := []byte("\x01vorbis\x00\x00\x00\x00\x02\x44\xac\x00\x00")
	badVersion := opusHeadPacket(2, 0, 48000)
	badVersion[8] = 0x10
	noChannels := opusHeadPacket(0, 0, 48000)
	threeChannels := opusHeadPacket(3, 0, 48000)
	family1 := opusHeadPacket(3, 0, 48000)
	family1[18] = 1
	badSignature := oggHeaders(s, 2)
	badSignature[0] = 'X'
	badPageVersion := oggHeaders(s, 2)
	badPageVersion[4] = 1

	tests := []struct {
		name    string
		in      []byte
		header  bool // the constructor fails
		packets int
		want    error
	}{
		{"empty", nil, true, 0, io.ErrUnexpectedEOF},
		{"not ogg", []byte("RIFF\x00\x00\x00\x00WAVEfmt ......................."), true, 0, ErrCorrupt},
		{"bad page signature", badSignature, true, 0, ErrCorrupt},
		{"bad page version", badPageVersion, true, 0, ErrCorrupt},
		{"vorbis", oggPage(oggFlagBOS, 0, s, 0, lace(len(vorbis)), vorbis), true, 0, ErrCorrupt},
		{"vorbis then data", append(oggPage(oggFlagBOS, 0, s, 0, lace(len(vorbis)), vorbis), oggPage(0, 0, s, 1, []byte{1}, []byte{1})...), true, 0, ErrCorrupt},
		{"OpusHead version 16", withHead(badVersion), true, 0, ErrCorrupt},
		{"OpusHead without channels", withHead(noChannels), true, 0, ErrCorrupt},
		{"three channels in family 0", withHead(threeChannels), true, 0, ErrCorrupt},
		{"family 1 without mapping table", withHead(family1), true, 0, ErrCorrupt},
		{"short OpusHead", withHead([]byte("OpusHead\x01\x02")), true, 0, ErrCorrupt},
		{"no OpusTags", append(oggPage(oggFlagBOS, 0, s, 0, []byte{19}, opusHeadPacket(2, 0, 0)), oggPage(0, 0, s, 1, []byte{2}, []byte{0xfc, 0})...), true, 0, ErrCorrupt},
		{"only OpusHead", oggPage(oggFlagBOS, 0, s, 0, []byte{19}, opusHeadPacket(2, 0, 0)), true, 0, io.ErrUnexpectedEOF},
		{"CRC mismatch", badCRC, false, 0, ErrCorrupt},
		{"reserved page flag", audio(0x08, []byte{2}, []byte{0xfc, 0}), false, 0, ErrCorrupt},
		{"second BOS page", audio(oggFlagBOS, []byte{2}, []byte{0xfc, 0}), false, 0, ErrCorrupt},
		{"unexpected continuation", audio(oggFlagContinue, []byte{2}, []byte{0xfc, 0}), false, 0, ErrCorrupt},
		{"missing continuation", append(audio(0, []byte{1, 255}, make([]byte, 256)), oggPage(0, 1920, s, 3, []byte{1}, []byte{1})...), false, 1, ErrCorrupt},
		{"packet continues past EOS", audio(oggFlagEOS, []byte{1, 255}, make([]byte, 256)), false, 1, ErrCorrupt},
		{"packet cut by the end of input", audio(0, []byte{1, 255}, make([]byte, 256)), false, 1, io.ErrUnexpectedEOF},
		{"page body cut", audio(0, []byte{20}, make([]byte, 20))[:len(oggHeaders(s, 2))+27+1+10], false, 0, io.ErrUnexpectedEOF},
		{"segment table cut", audio(0, []byte{20, 20}, make([]byte, 40))[:len(oggHeaders(s, 2))+28], false, 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, err := NewOggOpusReader(bytes.NewReader(tt.in))
			if tt.header {
				if r != nil || !errors.Is(err, tt.want) {
					t.Fatalf("NewOggOpusReader: %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewOggOpusReader: %v", err)
			}
			n := 0
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
				n++
			}
			if n != tt.packets || !errors.Is(err, tt.want) {
				t.Fatalf("%d packets, %v; want %d, %v", n, err, tt.packets, tt.want)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
		})
	}

	t.Run("CRC not verified", func(t *testing.T) {
		_, pkts, _, err := readOpus(bytes.NewReader(badCRC), false)
		if err != io.EOF || len(pkts) != 1 {
			t.Fatalf("%d packets, %v", len(pkts), err)
		}
	})
	t.Run("reader error", func(t *testing.T) {
		boom := errors.New("boom")
		in := audio(0, []byte{2}, []byte{0xfc, 0})
		r, _, err := NewOggOpusReader(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)))
		if err != nil {
			t.Fatal(err)
		}
		r.Next()
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestOggOpusOversizedPacket(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 16 MiB")
	}
	const s = 3
	in := oggHeaders(s, 2)
	lacing := bytes.Repeat([]byte{255}, 255)
	body := make([]byte, 255*255)
	for i := 0; i*len(body) <= maxUnitSize; i++ {
		flags := byte(oggFlagContinue)
		if i == 0 {
			flags = 0
		}
		in = append(in, oggPage(flags, -1, s, uint32(2+i), lacing, body)...)
	}
	r, _, err := NewOggOpusReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
}

func TestOggCRC(t *testing.T) {
	// The CRC of the first page of the test file, as written by libogg's
	// rules, checks.
	data := testdata(t, "opus.ogg")
	n := 27 + int(data[26]) + int(data[27])
	page := bytes.Clone(data[:n])
	want := binary.LittleEndian.Uint32(page[22:])
	copy(page[22:26], []byte{0, 0, 0, 0})
	if got := OggCRC(0, page); got != want {
		t.Fatalf("CRC %08x, want %08x", got, want)
	}
}

func TestOggOpusNoAllocsPerPacket(t *testing.T) {
	data := testdata(t, "opus.ogg")
	br := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(5, func() {
		br.Reset(data)
		r, _, err := NewOggOpusReader(br)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	})
	// The reader, its head and a few buffer growths, not one per packet.
	if allocs > 20 {
		t.Fatalf("%v allocations to read 401 packets", allocs)
	}
}

func TestOpusPacketDuration(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		pkt  []byte
		want time.Duration
	}{
		{[]byte{0 << 3}, 10 * ms},                  // SILK NB 10 ms
		{[]byte{1 << 3}, 20 * ms},                  // SILK NB 20 ms
		{[]byte{2 << 3}, 40 * ms},                  // SILK NB 40 ms
		{[]byte{3 << 3}, 60 * ms},                  // SILK NB 60 ms
		{[]byte{11 << 3}, 60 * ms},                 // SILK WB 60 ms
		{[]byte{12 << 3}, 10 * ms},                 // Hybrid SWB 10 ms
		{[]byte{15 << 3}, 20 * ms},                 // Hybrid FB 20 ms
		{[]byte{16 << 3}, 2500 * time.Microsecond}, // CELT NB 2.5 ms
		{[]byte{17 << 3}, 5 * ms},                  // CELT NB 5 ms
		{[]byte{30 << 3}, 10 * ms},                 // CELT FB 10 ms
		{[]byte{31 << 3}, 20 * ms},                 // CELT FB 20 ms
		{[]byte{31<<3 | 1, 0}, 40 * ms},            // code 1: two equal frames
		{[]byte{3<<3 | 2, 0}, 120 * ms},            // code 2: two 60 ms frames
		{[]byte{31<<3 | 3, 0x03}, 60 * ms},         // code 3: three frames
		{[]byte{31<<3 | 3, 0xc6}, 120 * ms},        // code 3: VBR and padding bits ignored
		{[]byte{16<<3 | 3, 48}, 120 * ms},          // code 3: 48 frames of 2.5 ms
		{[]byte{0x9c, 0x11}, 20 * ms},              // CELT NB 20 ms stereo, as in opus.ogg
		{[]byte{0xfc, 0xff, 0xfe}, 20 * ms},        // CELT FB 20 ms stereo
	}
	for _, tt := range tests {
		got, err := OpusPacketDuration(tt.pkt)
		if err != nil || got != tt.want {
			t.Errorf("OpusPacketDuration(% x) = %v, %v; want %v", tt.pkt, got, err, tt.want)
		}
	}
	bad := [][]byte{
		nil,
		{},
		{31<<3 | 3},       // code 3 without frame count
		{31<<3 | 3, 0x00}, // zero frames
		{31<<3 | 3, 7},    // 140 ms
		{16<<3 | 3, 49},   // 122.5 ms
		{3<<3 | 3, 3},     // 180 ms
	}
	for _, p := range bad {
		if d, err := OpusPacketDuration(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("OpusPacketDuration(% x) = %v, %v; want ErrCorrupt", p, d, err)
		}
	}
}
