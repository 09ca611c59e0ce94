package lksdk

import (
	"log"
	"sync/atomic"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

var pkgLogger atomic.Pointer[logr.Logger]

func init() {
	l := funcr.New(func(prefix, args string) {
		if prefix != "" {
			log.Printf("livekit: %s: %s", prefix, args)
			return
		}
		log.Printf("livekit: %s", args)
	}, funcr.Options{Verbosity: 0})
	pkgLogger.Store(&l)
}

// SetLogger sets the logger the SDK writes to. It may be called at any time,
// from any goroutine; to silence the SDK, pass logr.Discard().
func SetLogger(l logr.Logger) {
	pkgLogger.Store(&l)
}

// getLogger returns the logger set by SetLogger.
func getLogger() logr.Logger {
	return *pkgLogger.Load()
}
