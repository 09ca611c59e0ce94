package lksdk

import (
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them. Idle
// keep-alive connections of the shared HTTP transport are closed first: they
// belong to the process, not to a test.
func TestMain(m *testing.M) {
	if child := os.Getenv(testChildEnv); child != "" {
		runTestChild(child) // the test binary started as another process by a test
	}
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
