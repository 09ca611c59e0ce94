// Package mediaparse reads the media containers the SDK publishes from files:
// IVF (VP8, VP9, AV1), H.264 Annex-B byte streams and Ogg Opus. It also
// recognises keyframes and reads picture sizes from VP8, VP9, AV1 and H.264
// data.
//
// The parsers use only the standard library and are written for untrusted
// input:
//
//   - they never panic, whatever the input;
//   - memory is bounded: a frame, NAL unit, access unit or packet larger than
//     16 MiB is rejected with an error wrapping [ErrCorrupt], and buffers grow
//     only as data actually arrives, so a forged size in a short file does not
//     allocate the size it claims;
//   - input that ends in the middle of a header, frame, page or packet yields
//     an error wrapping [io.ErrUnexpectedEOF]; malformed input yields an error
//     wrapping [ErrCorrupt]; plain [io.EOF] is returned only at a clean end;
//   - errors from the underlying reader are returned wrapped, and every error
//     is sticky: later calls return it again.
//
// Readers reuse their internal buffers, so steady-state reading does not
// allocate per frame. The slices a reader's Next method returns are therefore
// valid only until the next call to Next on that reader; copy them to keep
// them longer.
package mediaparse

import (
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt is wrapped by the errors returned for malformed input: a bad
// signature or header, an impossible size, a broken bit stream.
var ErrCorrupt = errors.New("mediaparse: corrupt media")

// maxUnitSize bounds every frame, NAL unit, access unit, page and packet.
const maxUnitSize = 16 << 20

// minGrow is the smallest buffer allocated when a buffer has to grow.
const minGrow = 4 << 10

// corruptf returns an error wrapping ErrCorrupt with a formatted description.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// truncated returns an error wrapping io.ErrUnexpectedEOF that names what was
// being read.
func truncated(what string) error {
	return fmt.Errorf("mediaparse: %s: %w", what, io.ErrUnexpectedEOF)
}

// readErr converts the error of a read of what into the package's
// conventions: io.EOF and io.ErrUnexpectedEOF become a truncation error
// (callers that accept a clean end check for io.EOF themselves), other errors
// are wrapped with context.
func readErr(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return truncated(what)
	}
	return fmt.Errorf("mediaparse: %s: %w", what, err)
}

// readInto reads exactly n bytes (0 <= n <= maxUnitSize) from r into buf,
// reusing its capacity, and returns buf[:n]. When buf is too small it grows
// geometrically as data arrives rather than allocating n bytes up front, so a
// huge length claimed by a truncated stream costs no more memory than the
// data actually present. The error is io.EOF when nothing was read and
// io.ErrUnexpectedEOF when some but not all bytes were read, as with
// io.ReadFull.
func readInto(r io.Reader, buf []byte, n int) ([]byte, error) {
	if n <= cap(buf) {
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	got := 0
	buf = buf[:cap(buf)]
	for got < n {
		if got == len(buf) {
			c := 2 * len(buf)
			if c < minGrow {
				c = minGrow
			}
			if c > n {
				c = n
			}
			nb := make([]byte, c)
			copy(nb, buf[:got])
			buf = nb
		}
		m, err := io.ReadFull(r, buf[got:])
		got += m
		if err != nil {
			if err == io.EOF && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf[:got], err
		}
	}
	return buf[:n], nil
}
