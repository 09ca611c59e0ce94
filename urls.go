package lksdk

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ToHttpURL turns a LiveKit server address into the HTTP(S) base URL of its
// server APIs: "wss://h" and "https://h" give "https://h", "ws://h" and
// "http://h" give "http://h". An address with no scheme gets "http://" when
// its host is a loopback address or "localhost", and "https://" otherwise.
// Trailing slashes are removed, so the result can be joined with a path.
func ToHttpURL(url string) string {
	secure, rest := splitServerURL(url)
	if secure {
		return "https://" + rest
	}
	return "http://" + rest
}

// ToWebsocketURL turns a LiveKit server address into the WebSocket base URL
// of its signalling endpoint, with the same rules as [ToHttpURL]: secure
// schemes give "wss://", plain ones "ws://".
func ToWebsocketURL(url string) string {
	secure, rest := splitServerURL(url)
	if secure {
		return "wss://" + rest
	}
	return "ws://" + rest
}

// splitServerURL returns whether the address asks for a secure transport and
// the address without its scheme and trailing slashes.
func splitServerURL(u string) (secure bool, rest string) {
	u = strings.TrimSpace(u)
	scheme, rest, found := strings.Cut(u, "://")
	if !found {
		rest = u
		return !isLocalHost(hostOf(rest)), strings.TrimRight(rest, "/")
	}
	rest = strings.TrimRight(rest, "/")
	switch strings.ToLower(scheme) {
	case "https", "wss":
		return true, rest
	case "http", "ws":
		return false, rest
	default:
		// Unknown scheme: keep it visible in the result so that the request
		// fails with a clear error instead of going somewhere unexpected.
		return false, u
	}
}

// hostOf returns the host part of "host[:port][/path]".
func hostOf(hostPort string) string {
	hostPort, _, _ = strings.Cut(hostPort, "/")
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		return h
	}
	return strings.Trim(hostPort, "[]")
}

func isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateServerURL checks that an address can be used to reach a server.
func validateServerURL(raw string) error {
	if scheme, _, found := strings.Cut(strings.TrimSpace(raw), "://"); found {
		switch strings.ToLower(scheme) {
		case "http", "https", "ws", "wss":
		default:
			return fmt.Errorf("%w %q: scheme must be ws, wss, http or https", ErrInvalidURL, raw)
		}
	}
	u, err := url.Parse(ToHttpURL(raw))
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidURL, raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%w %q: no host", ErrInvalidURL, raw)
	}
	return nil
}
