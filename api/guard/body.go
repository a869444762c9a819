package guard

import "io"

// Reservation ahead of arrival in ReadAll: a body declaring up to
// FirstReserve bytes gets its whole buffer at once; beyond that, buffers
// grow in blocks as large as what has arrived, at most MaxReserve, so no
// more than max(FirstReserve, min(received, MaxReserve)) bytes are ever
// reserved ahead of the bytes received, whatever the client declares.
const (
	FirstReserve = 64 << 10
	MaxReserve   = 1 << 20
)

// ReadAll reads r to its end and returns the bytes in one slice. It reads
// into buf's capacity first (a pooled buffer), then, when more arrives,
// into blocks that grow with what has arrived (see FirstReserve), joined at
// the end. declared is the Content-Length (-1 unknown): it sizes the first
// reservation, never beyond FirstReserve. On an error it returns what it
// read so far and the error.
func ReadAll(r io.Reader, declared int64, buf []byte) ([]byte, error) {
	buf = buf[:0]
	if want := min(declared, FirstReserve); int64(cap(buf)) < want {
		buf = make([]byte, 0, want)
	}
	for len(buf) < cap(buf) {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	// buf is full: expect the end (the declared length arrived), else keep
	// reading into blocks.
	var one [1]byte
	var blocks [][]byte
	total := len(buf)
	for {
		n, err := r.Read(one[:])
		if err == io.EOF && n == 0 {
			return join(buf, blocks, total), nil
		}
		if err != nil && err != io.EOF {
			return join(buf, blocks, total), err
		}
		if n == 0 {
			continue
		}
		blk := make([]byte, 1, min(max(total, FirstReserve), MaxReserve))
		blk[0] = one[0]
		total++
		for len(blk) < cap(blk) && err == nil {
			var m int
			m, err = r.Read(blk[len(blk):cap(blk)])
			blk = blk[:len(blk)+m]
			total += m
		}
		blocks = append(blocks, blk)
		if err == io.EOF {
			return join(buf, blocks, total), nil
		}
		if err != nil {
			return join(buf, blocks, total), err
		}
	}
}

// join returns head followed by blocks, total bytes, in one new slice.
func join(head []byte, blocks [][]byte, total int) []byte {
	if len(blocks) == 0 {
		return head
	}
	out := make([]byte, 0, total)
	out = append(out, head...)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}
