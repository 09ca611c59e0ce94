package media

// ring is a FIFO of samples with a fixed capacity, allocated once.
type ring struct {
	buf        []int16
	head, size int
}

func newRing(capacity int) ring { return ring{buf: make([]int16, capacity)} }

func (r *ring) free() int { return len(r.buf) - r.size }

// push appends as much of s as fits and returns how much did.
func (r *ring) push(s []int16) int {
	n := min(len(s), r.free())
	tail := (r.head + r.size) % len(r.buf)
	c := copy(r.buf[tail:], s[:n])
	copy(r.buf, s[c:n])
	r.size += n
	return n
}

// pop moves up to len(dst) samples into dst and returns how many.
func (r *ring) pop(dst []int16) int {
	n := min(len(dst), r.size)
	c := copy(dst[:n], r.buf[r.head:])
	copy(dst[c:n], r.buf)
	r.head = (r.head + n) % len(r.buf)
	r.size -= n
	return n
}

// discard drops up to n of the oldest samples and returns how many.
func (r *ring) discard(n int) int {
	n = min(n, r.size)
	r.head = (r.head + n) % len(r.buf)
	r.size -= n
	return n
}

func (r *ring) reset() { r.head, r.size = 0, 0 }
