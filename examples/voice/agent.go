package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v3"

	lksdk "github.com/livekit/server-sdk-go"
	"github.com/livekit/server-sdk-go/pkg/media"
)

// The rate and channels the bot listens and speaks at.
const (
	sampleRate  = 16000
	frameLength = sampleRate / 50 // 20 ms
)

// Config is how the bot listens and speaks.
type Config struct {
	Greeting        string        // WAV file to greet with; a tone when empty
	ToneHz          float64       // the greeting tone's frequency
	SpeechThreshold float64       // dBFS above which a 20 ms frame is speech
	EndOfTurn       time.Duration // silence after which a participant's turn is over and repeated
	MaxTurn         time.Duration // a longer turn is repeated once it reaches this length
}

// run joins the room, greets, and repeats each participant's turns until
// ctx is done or the room is disconnected. It prints what it does to out.
func run(ctx context.Context, url string, info lksdk.ConnectInfo, cfg Config, out io.Writer, opts ...lksdk.ConnectOption) error {
	voice, err := media.NewPCMLocalTrack(sampleRate, 1, logr.Discard())
	if err != nil {
		return err
	}
	defer voice.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &agent{ctx: ctx, cfg: cfg, voice: voice, out: out, listeners: map[*media.PCMRemoteTrack]struct{}{}}

	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = a.onTrackSubscribed
	room, err := lksdk.ConnectToRoom(url, info, cb, opts...)
	if err != nil {
		return err
	}
	defer func() {
		room.Disconnect()
		a.closeListeners()
	}()
	if _, err := room.LocalParticipant.PublishTrack(voice, &lksdk.TrackPublicationOptions{Name: "voice"}); err != nil {
		return err
	}
	a.printf("joined room %s as %s", room.Name(), info.ParticipantIdentity)
	select {
	case <-ctx.Done():
	case <-room.Done():
	}
	a.stopReply()
	return nil
}

// agent is the bot: one voice, and a listener per subscribed audio track.
type agent struct {
	ctx   context.Context // ends when run returns
	cfg   Config
	voice *media.PCMLocalTrack
	out   io.Writer

	mu        sync.Mutex
	replying  string // whose turn the voice is repeating ("" for none)
	replyLen  time.Duration
	cancel    context.CancelFunc
	replies   int // counts replies, so that a finished one does not end a newer one
	listeners map[*media.PCMRemoteTrack]struct{}
	outMu     sync.Mutex
}

func (a *agent) printf(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(a.out, format+"\n", args...)
}

// greet says hello to a participant who has just been heard for the first
// time: the WAV file, or half a second of tone.
func (a *agent) greet(identity string) {
	var err error
	if a.cfg.Greeting != "" {
		var f *os.File
		if f, err = os.Open(a.cfg.Greeting); err == nil {
			a.printf("greeting %s with %s", identity, a.cfg.Greeting)
			err = a.voice.WriteWAV(a.ctx, f)
			f.Close()
		}
	} else {
		a.printf("greeting %s with a %.0f Hz tone", identity, a.cfg.ToneHz)
		err = a.voice.WriteSampleContext(a.ctx, tone(a.cfg.ToneHz, 500*time.Millisecond))
	}
	if err != nil && a.ctx.Err() == nil {
		a.printf("could not greet %s: %v", identity, err)
	}
}

// tone is a sine at hz, -12 dBFS, faded in and out over 10 ms.
func tone(hz float64, d time.Duration) []int16 {
	n := int(d * sampleRate / time.Second)
	fade := sampleRate / 100
	pcm := make([]int16, n)
	for i := range pcm {
		g := math.Min(1, float64(min(i, n-1-i))/float64(fade))
		pcm[i] = int16(g * 0.25 * 32767 * math.Sin(2*math.Pi*hz*float64(i)/sampleRate))
	}
	return pcm
}

func (a *agent) onTrackSubscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	l := &listener{a: a, identity: rp.Identity()}
	pt, err := media.NewPCMRemoteTrack(track, l, media.WithTargetSampleRate(sampleRate), media.WithTargetChannels(1))
	if err != nil {
		a.printf("cannot listen to %s: %v", rp.Identity(), err)
		return
	}
	a.mu.Lock()
	a.listeners[pt] = struct{}{}
	a.mu.Unlock()
	go func() {
		<-pt.Done()
		a.mu.Lock()
		delete(a.listeners, pt)
		a.mu.Unlock()
	}()
	a.printf("listening to %s", rp.Identity())
	go a.greet(rp.Identity())
}

func (a *agent) closeListeners() {
	a.mu.Lock()
	tracks := make([]*media.PCMRemoteTrack, 0, len(a.listeners))
	for pt := range a.listeners {
		tracks = append(tracks, pt)
	}
	a.mu.Unlock()
	for _, pt := range tracks {
		pt.Close()
	}
}

// reply repeats a turn of identity's, in place of anything being said.
func (a *agent) reply(identity string, turn []int16) {
	ctx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.stopReplyLocked()
	a.replies++
	n := a.replies
	a.replying, a.replyLen, a.cancel = identity, duration(len(turn)), cancel
	a.mu.Unlock()
	a.printf("repeating %s's %v turn", identity, duration(len(turn)).Round(10*time.Millisecond))
	go func() {
		defer cancel()
		// Waits while the queue is full; ends early when cleared.
		if err := a.voice.WriteSampleContext(ctx, turn); err == nil {
			_ = a.voice.WaitForPlayout(ctx)
		}
		a.mu.Lock()
		if a.replies == n {
			a.replying, a.cancel = "", nil
		}
		a.mu.Unlock()
	}()
}

// interrupt stops the voice if it is repeating identity.
func (a *agent) interrupt(identity string) {
	a.mu.Lock()
	if a.replying != identity {
		a.mu.Unlock()
		return
	}
	total := a.replyLen
	played := a.stopReplyLocked()
	a.mu.Unlock()
	a.printf("%s interrupted: stopped after %v of %v", identity, played.Round(10*time.Millisecond), total.Round(10*time.Millisecond))
}

func (a *agent) stopReply() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopReplyLocked()
}

// stopReplyLocked ends the reply being played, returning how much of it
// was sent.
func (a *agent) stopReplyLocked() time.Duration {
	if a.cancel == nil {
		return 0
	}
	a.cancel()
	a.replying, a.cancel = "", nil
	return a.voice.ClearQueue()
}

func duration(samples int) time.Duration {
	return time.Duration(samples) * time.Second / sampleRate
}

// listener hears one participant's track at 16 kHz mono. It is the
// PCMRemoteTrack's writer, called from the track's goroutine only.
type listener struct {
	a        *agent
	identity string

	frame    []int16 // the 20 ms frame being filled
	sumSq    float64 // this second's energy
	counted  int     // samples in this second
	speaking bool
	turn     []int16 // the turn so far, trailing silence included
	silent   int     // samples of silence since the last speech
}

// WriteSample takes decoded PCM in pieces of any length.
func (l *listener) WriteSample(pcm []int16) error {
	for len(pcm) > 0 {
		n := min(len(pcm), frameLength-len(l.frame))
		l.frame = append(l.frame, pcm[:n]...)
		pcm = pcm[n:]
		if len(l.frame) == frameLength {
			l.onFrame(l.frame)
			l.frame = l.frame[:0]
		}
	}
	return nil
}

func (l *listener) onFrame(frame []int16) {
	var sq float64
	for _, s := range frame {
		sq += float64(s) * float64(s)
	}
	l.sumSq += sq
	l.counted += len(frame)
	if l.counted >= sampleRate {
		if db := dBFS(l.sumSq, l.counted); db < -80 {
			l.a.printf("%s: silent", l.identity)
		} else {
			l.a.printf("%s: %.1f dBFS", l.identity, db)
		}
		l.sumSq, l.counted = 0, 0
	}

	if dBFS(sq, len(frame)) > l.a.cfg.SpeechThreshold {
		if !l.speaking {
			l.speaking = true
			l.a.interrupt(l.identity)
		}
		l.silent = 0
	} else if l.speaking {
		l.silent += len(frame)
	}
	if !l.speaking {
		return
	}
	l.turn = append(l.turn, frame...)
	if duration(l.silent) >= l.a.cfg.EndOfTurn || duration(len(l.turn)) >= l.a.cfg.MaxTurn {
		turn := l.turn[:len(l.turn)-l.silent]
		l.turn, l.speaking, l.silent = nil, false, 0
		l.a.reply(l.identity, turn)
	}
}

// Close is called when the track ends.
func (l *listener) Close() error {
	l.a.printf("%s's track ended", l.identity)
	return nil
}

// dBFS is the level of n samples whose squares sum to sumSq, relative to
// a full-scale square wave.
func dBFS(sumSq float64, n int) float64 {
	if n == 0 || sumSq == 0 {
		return math.Inf(-1)
	}
	return 10 * math.Log10(sumSq/float64(n)/(32767*32767))
}
