package lksdk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A join response's ping timing is used only when it can work: a timeout
// no longer than the interval, or values of hours, would make a healthy
// connection count as lost, or a dead one go unnoticed.
func TestPingTimingFromTheServerIsBounded(t *testing.T) {
	for _, tc := range []struct {
		interval, timeout int32
		want              [2]time.Duration
	}{
		{5, 15, [2]time.Duration{5 * time.Second, 15 * time.Second}},
		{0, 0, [2]time.Duration{defaultPingInterval, defaultPingTimeout}},
		{-3, -1, [2]time.Duration{defaultPingInterval, defaultPingTimeout}},
		{30, 1, [2]time.Duration{30 * time.Second, 40 * time.Second}},
		{1 << 30, 1 << 30, [2]time.Duration{defaultPingInterval, defaultPingTimeout}},
		{20, 0, [2]time.Duration{20 * time.Second, 30 * time.Second}},
	} {
		c := NewSignalClient()
		c.setPingTiming(tc.interval, tc.timeout)
		require.Equal(t, tc.want, [2]time.Duration{c.pingInterval, c.pingTimeout}, "interval %d, timeout %d", tc.interval, tc.timeout)
	}
}
