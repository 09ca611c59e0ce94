package lksdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// cancellableDialer returns a copy of d (websocket.DefaultDialer when nil)
// whose connection is interrupted when ctx is cancelled: the WebSocket
// library honours only a context's deadline during the handshake. stop ends
// the watch once the dial has returned.
func cancellableDialer(ctx context.Context, d *websocket.Dialer) (dialer *websocket.Dialer, stop func()) {
	if d == nil {
		d = websocket.DefaultDialer
	}
	cp := *d
	var mu sync.Mutex
	var stops []func() bool
	netDial, plainDial := d.NetDialContext, d.NetDial
	cp.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		switch {
		case netDial != nil:
			conn, err = netDial(dctx, network, addr)
		case plainDial != nil:
			conn, err = plainDial(network, addr)
		default:
			var nd net.Dialer
			conn, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) }))
		mu.Unlock()
		return conn, nil
	}
	return &cp, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range stops {
			s()
		}
	}
}

func signalQuery(token string, opts SignalOptions) string {
	q := url.Values{}
	q.Set("access_token", token)
	q.Set("protocol", fmt.Sprint(PROTOCOL))
	q.Set("sdk", "go")
	q.Set("version", Version)
	if opts.AutoSubscribe {
		q.Set("auto_subscribe", "1")
	} else {
		q.Set("auto_subscribe", "0")
	}
	if opts.Reconnect {
		q.Set("reconnect", "1")
		q.Set("sid", opts.ParticipantSID)
		q.Set("reconnect_reason", fmt.Sprint(int32(opts.ReconnectReason)))
	}
	return q.Encode()
}

// dialError turns a failed WebSocket dial into a ConnectError that carries
// the server's reason, asked of /rtc/validate through the same dialer.
func dialError(ctx context.Context, d *websocket.Dialer, base, query string, resp *http.Response, err error) error {
	ce := &ConnectError{Phase: PhaseSignalDial}
	if resp == nil {
		if ctx.Err() != nil || isTimeout(err) {
			ce.Err = fmt.Errorf("%w: %w: %w", ErrSignalError, ErrConnectionTimeout, err)
		} else {
			ce.Err = fmt.Errorf("%w: %w", ErrSignalError, err)
		}
		return ce
	}
	ce.StatusCode = resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	ce.Reason = strings.TrimSpace(string(body))
	if reason := validateReason(ctx, d, base, query); reason != "" {
		ce.Reason = reason
	}
	// The server quotes the token it refused; keep credentials out of logs.
	ce.Reason = jwtPattern.ReplaceAllString(ce.Reason, "<token>")
	ce.Err = fmt.Errorf("%w: server refused the connection (%d)", ErrSignalError, resp.StatusCode)
	return ce
}

// isTimeout reports whether err is a network timeout (a deadline taken from
// the caller's context can fire before the context itself reports it).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// validateReason asks /rtc/validate why a connection would be refused. It
// goes the way the WebSocket went (d's proxy, TLS settings and dial
// functions) and follows no redirect: the URL carries the token.
func validateReason(ctx context.Context, d *websocket.Dialer, base, query string) string {
	u := ToHttpURL(base) + "/rtc/validate?" + query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ""
	}
	client := validateClient(d)
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
		return ""
	}
	return strings.TrimSpace(string(body))
}

// validateClient is an HTTP client that connects as d does, keeps no
// connection and does not follow redirects.
func validateClient(d *websocket.Dialer) *http.Client {
	if d == nil {
		d = websocket.DefaultDialer
	}
	tr := &http.Transport{
		Proxy:             d.Proxy,
		TLSClientConfig:   d.TLSClientConfig,
		DialContext:       d.NetDialContext,
		DialTLSContext:    d.NetDialTLSContext,
		DisableKeepAlives: true,
	}
	if tr.DialContext == nil && d.NetDial != nil {
		dial := d.NetDial
		tr.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
