package lksdk

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerURLForms(t *testing.T) {
	cases := []struct{ in, http, ws string }{
		{"wss://example.livekit.cloud", "https://example.livekit.cloud", "wss://example.livekit.cloud"},
		{"https://example.livekit.cloud/", "https://example.livekit.cloud", "wss://example.livekit.cloud"},
		{"ws://localhost:7880", "http://localhost:7880", "ws://localhost:7880"},
		{"http://127.0.0.1:7880//", "http://127.0.0.1:7880", "ws://127.0.0.1:7880"},
		{"WSS://Host.Example", "https://Host.Example", "wss://Host.Example"},
		{"localhost:7880", "http://localhost:7880", "ws://localhost:7880"},
		{"127.0.0.1:7880/", "http://127.0.0.1:7880", "ws://127.0.0.1:7880"},
		{"[::1]:7880", "http://[::1]:7880", "ws://[::1]:7880"},
		{"example.livekit.cloud", "https://example.livekit.cloud", "wss://example.livekit.cloud"},
		{"  https://h.example/base/ ", "https://h.example/base", "wss://h.example/base"},
	}
	for _, c := range cases {
		require.Equal(t, c.http, ToHttpURL(c.in), "ToHttpURL(%q)", c.in)
		require.Equal(t, c.ws, ToWebsocketURL(c.in), "ToWebsocketURL(%q)", c.in)
		require.NoError(t, validateServerURL(c.in), c.in)
	}
}

func TestBadServerURLs(t *testing.T) {
	for _, in := range []string{"", "ftp://host", "https://", "http://[::1"} {
		err := validateServerURL(in)
		require.Error(t, err, in)
		require.True(t, errors.Is(err, ErrInvalidURL), in)
	}
}
