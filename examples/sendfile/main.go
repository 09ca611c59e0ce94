// Command sendfile sends files to the participants of a LiveKit room as
// byte streams, or receives them into a directory.
//
// Send (to everyone, or -to one participant):
//
//	go run ./examples/sendfile -room myroom -identity sender report.pdf photo.jpg
//
// Receive until interrupted, writing each incoming file into ./inbox:
//
//	go run ./examples/sendfile -room myroom -identity receiver -receive ./inbox
//
// Files are read from disk and written to disk one chunk at a time, so
// their size does not matter to memory. The topic is "files" unless -topic
// says otherwise; the browser SDK's sendFile and ByteStream handlers of
// that topic interoperate. The server and credentials come from -url,
// -api-key and -api-secret, or LIVEKIT_URL, LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	lksdk "github.com/livekit/server-sdk-go"
)

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to join")
	identity := flag.String("identity", "sendfile", "participant identity")
	topic := flag.String("topic", "files", "stream topic")
	to := flag.String("to", "", "identity of the only recipient (empty: everyone)")
	receive := flag.String("receive", "", "directory to receive files into, instead of sending")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" || (*receive == "") == (flag.NArg() == 0) {
		fmt.Fprintln(os.Stderr, "usage: sendfile -url URL -api-key KEY -api-secret SECRET -room ROOM [-topic T] [-to ID] FILE... | -receive DIR")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	info := lksdk.ConnectInfo{APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity}
	var err error
	if *receive != "" {
		err = receiveFiles(ctx, *url, info, *topic, *receive)
	} else {
		err = sendFiles(ctx, *url, info, *topic, *to, flag.Args())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendfile:", err)
		os.Exit(1)
	}
}

func sendFiles(ctx context.Context, url string, info lksdk.ConnectInfo, topic, to string, files []string) error {
	room, err := lksdk.ConnectToRoom(url, info, nil)
	if err != nil {
		return err
	}
	defer room.Disconnect()
	for _, path := range files {
		last := -1
		progress := func(p float64) {
			if pct := int(p * 100); pct/10 != last/10 {
				last = pct
				fmt.Printf("\r%s: %3d%%", filepath.Base(path), pct)
			}
		}
		opts := lksdk.StreamBytesOptions{Topic: topic, OnProgress: &progress}
		if to != "" {
			opts.DestinationIdentities = []string{to}
		}
		sent, err := room.LocalParticipant.SendFileWithContext(ctx, path, opts)
		fmt.Println()
		if err != nil {
			return err
		}
		fmt.Printf("sent %s (%d bytes, %s) as stream %s\n", *sent.Name, *sent.Size, sent.MimeType, sent.Id)
	}
	return nil
}

func receiveFiles(ctx context.Context, url string, info lksdk.ConnectInfo, topic, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	room, err := lksdk.ConnectToRoom(url, info, nil)
	if err != nil {
		return err
	}
	defer room.Disconnect()
	err = room.RegisterByteStreamHandler(topic, func(r *lksdk.ByteStreamReader, from string) {
		name := r.Info.Id
		if r.Info.Name != nil {
			// Never a path the sender chose.
			if base := filepath.Base(*r.Info.Name); base != "." && base != ".." && base != string(filepath.Separator) {
				name = base
			}
		}
		path := filepath.Join(dir, name)
		if err := save(path, r); err != nil {
			fmt.Printf("receiving %s from %s: %v\n", name, from, err)
			return
		}
		fmt.Printf("received %s from %s into %s\n", name, from, path)
	})
	if err != nil {
		return err
	}
	fmt.Printf("joined room %s as %s, receiving files of topic %q into %s\n", room.Name(), info.ParticipantIdentity, topic, dir)
	<-ctx.Done()
	return nil
}

// save writes the stream to path as it arrives; an incomplete file is
// removed.
func save(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}
