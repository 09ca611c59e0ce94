// Command rpc joins a LiveKit room as a participant that answers RPC calls
// and, if asked, makes one.
//
// Serve methods until interrupted:
//
//	go run ./examples/rpc -room myroom -identity calculator
//
// Call a method of another participant (a browser, an agent, or another
// run of this program) and print its answer:
//
//	go run ./examples/rpc -room myroom -identity caller -call calculator -method divide -payload '{"a":1,"b":4}'
//
// The methods served are "echo" (the payload back), "time" (the server's
// clock) and "divide" ({"a":x,"b":y} gives x/y, or an application error
// for a division by zero). The server and credentials come from -url,
// -api-key and -api-secret, or LIVEKIT_URL, LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go"
)

// errDivideByZero is the application's own RPC error code.
const errDivideByZero lksdk.RpcErrorCode = 2000

func main() {
	url := flag.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL")
	key := flag.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key")
	secret := flag.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret")
	room := flag.String("room", "", "room to join")
	identity := flag.String("identity", "rpc-bot", "participant identity")
	call := flag.String("call", "", "identity of a participant to call (empty: only serve)")
	method := flag.String("method", "echo", "method to call")
	payload := flag.String("payload", "", "payload of the call")
	timeout := flag.Duration("timeout", 10*time.Second, "response timeout of the call")
	flag.Parse()
	if *url == "" || *key == "" || *secret == "" || *room == "" {
		fmt.Fprintln(os.Stderr, "usage: rpc -url URL -api-key KEY -api-secret SECRET -room ROOM [-identity ID] [-call ID -method M -payload P]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, lksdk.ConnectInfo{
		APIKey: *key, APISecret: *secret, RoomName: *room, ParticipantIdentity: *identity,
	}, *call, *method, *payload, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "rpc:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, info lksdk.ConnectInfo, callee, method, payload string, timeout time.Duration) error {
	room, err := lksdk.ConnectToRoom(url, info, nil)
	if err != nil {
		return err
	}
	defer room.Disconnect()
	if err := serve(room); err != nil {
		return err
	}
	fmt.Printf("joined room %s as %s, serving echo, time and divide\n", room.Name(), info.ParticipantIdentity)

	if callee != "" {
		res, err := room.LocalParticipant.PerformRpcWithContext(ctx, lksdk.PerformRpcParams{
			DestinationIdentity: callee, Method: method, Payload: payload, ResponseTimeout: &timeout,
		})
		var rpcErr *lksdk.RpcError
		switch {
		case errors.As(err, &rpcErr):
			return fmt.Errorf("%s.%s failed with code %d: %s", callee, method, rpcErr.Code, rpcErr.Message)
		case err != nil:
			return err
		}
		fmt.Printf("%s.%s answered: %s\n", callee, method, *res)
		return nil
	}
	<-ctx.Done()
	return nil
}

// serve registers the methods this participant answers.
func serve(room *lksdk.Room) error {
	echo := func(d lksdk.RpcInvocationData) (string, error) {
		fmt.Printf("echo from %s: %q\n", d.CallerIdentity, d.Payload)
		return d.Payload, nil
	}
	now := func(lksdk.RpcInvocationData) (string, error) {
		return time.Now().UTC().Format(time.RFC3339Nano), nil
	}
	divide := func(ctx context.Context, d lksdk.RpcInvocationData) (string, error) {
		var in struct{ A, B float64 }
		if err := json.Unmarshal([]byte(d.Payload), &in); err != nil {
			return "", lksdk.NewRpcError(lksdk.RpcApplicationError, "payload must be {\"a\":x,\"b\":y}", nil)
		}
		if in.B == 0 {
			return "", lksdk.NewRpcError(errDivideByZero, "division by zero", nil)
		}
		out, err := json.Marshal(in.A / in.B)
		return string(out), err
	}
	for name, h := range map[string]lksdk.RpcHandlerFunc{"echo": echo, "time": now} {
		if err := room.RegisterRpcMethod(name, h); err != nil {
			return err
		}
	}
	return room.RegisterRpcMethodWithContext("divide", divide)
}
