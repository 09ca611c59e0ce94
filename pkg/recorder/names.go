package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Bounds of the parts of a RoomRecorder's file names, in bytes. With the
// separators, a hash suffix on each part and a "-N" counter, a name stays
// far below the 255 bytes file systems allow.
const (
	maxIdentityPart = 48
	maxTrackPart    = 64
	maxSIDPart      = 32
)

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// trackFileBase returns the file name, without extension, of a track's
// recording: "<identity>_<track name>_<track SID>", each part made safe.
func trackFileBase(identity, name, sid string) string {
	return namePart(identity, maxIdentityPart) + "_" + namePart(name, maxTrackPart) + "_" + namePart(sid, maxSIDPart)
}

// namePart makes s safe in a file name and at most n bytes plus a hash
// suffix: runs of characters other than ASCII letters, digits, '.', '_'
// and '-' become '-', leading dots are dropped (no hidden files, no "."
// or ".."), and an empty result becomes "unnamed". When s had to be
// shortened, "~" and 8 hex digits of its SHA-256 are appended, so that
// long names that differ only past the cut stay apart.
func namePart(s string, n int) string {
	out := strings.TrimLeft(unsafeChars.ReplaceAllString(s, "-"), ".")
	if out == "" {
		out = "unnamed"
	}
	if len(out) <= n {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	return out[:n] + "~" + hex.EncodeToString(sum[:4])
}
