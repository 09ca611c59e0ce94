package e2ee_test

import (
	"fmt"
	"log"

	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

// Frames encrypted with a room's passphrase, as livekit-client's external
// key provider with the same passphrase encrypts and decrypts them.
func Example() {
	keys, err := e2ee.NewExternalKeyProvider()
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.SetKeyFromPassphrase("the room's passphrase", 0); err != nil {
		log.Fatal(err)
	}
	enc, _ := e2ee.NewFrameEncryptor(keys, "bot", e2ee.CodecOpus)
	dec, _ := e2ee.NewFrameDecryptor(keys, "bot", e2ee.CodecOpus, nil)

	opus := []byte{0xfc, 0xff, 0xfe, 0x01, 0x02} // an Opus packet: its TOC byte stays in clear
	sealed, err := enc.EncryptFrame(opus)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := dec.DecryptFrame(sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes sealed into %d (TOC %#x in clear), opened to %x\n", len(opus), len(sealed), sealed[0], plain)
	// Output: 5 bytes sealed into 35 (TOC 0xfc in clear), opened to fcfffe0102
}
