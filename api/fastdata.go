package api

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unsafe"

	"github.com/taominer/taominer/models/tensor"
)

// The fast path of "data" arrays.
//
// parseData hands runs of JSON numbers in the "data" of a numeric tensor to
// fastData, whose loop fastRun reads each number eight digits at a time
// through a fixed-size window of the input, converts it inline and stores it
// in place, with no function calls and no bounds checks. fastRun stops,
// without consuming it, at anything it does not handle itself: near the end
// of the input, at a number with many digits, a large exponent or a value
// that needs strconv (fastData then decodes that one number with strconv or
// the general code, slowNumber, and goes on), and at strings such as "NaN",
// malformed numbers, empty arrays or syntax errors, which it leaves to the
// general loop of parseData.
// That loop decodes or reports the token exactly as it would without a fast
// path, and hands the following elements back. Both loops read the same
// parse state (the offset, the nesting depth and what the last token was),
// so they can take turns at any token, and the fast path changes no result
// and no error message.

// Parse states of a "data" array: what the last token was.
const (
	afterOpen  = iota // '['
	afterComma        // ','
	afterValue        // an element, or the ']' of a nested array
)

// fastElem is the Go types of the tensor elements that fastRun decodes.
// fastRun is generic in them so that each gets its own loop, with the
// conversion and the element size fixed at compile time.
type fastElem interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// runFunc is fastRun for one element type.
type runFunc func(b []byte, i int, buf []byte, off, d int) (int, int, int, runStatus)

// fastRunFor returns fastRun for the elements of dt, or nil when dt has no
// fast path (BOOL, BYTES, FP16, BF16).
func fastRunFor(dt tensor.DataType) runFunc {
	switch dt {
	case tensor.FP32:
		return fastRun[float32]
	case tensor.FP64:
		return fastRun[float64]
	case tensor.Int8:
		return fastRun[int8]
	case tensor.Int16:
		return fastRun[int16]
	case tensor.Int32:
		return fastRun[int32]
	case tensor.Int64:
		return fastRun[int64]
	case tensor.Uint8:
		return fastRun[uint8]
	case tensor.Uint16:
		return fastRun[uint16]
	case tensor.Uint32:
		return fastRun[uint32]
	case tensor.Uint64:
		return fastRun[uint64]
	}
	return nil
}

// pow10u holds 10^n for the digit counts n of an 8-byte word, padded so
// that indexing with n&15 needs no bounds check.
var pow10u = [16]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// pow10wide holds the float64 nearest to 10^e for e in [minPow10wide, 63],
// for the float32 conversion of fastRun.
var pow10wide = [128]float64{
	1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56,
	1e-55, 1e-54, 1e-53, 1e-52, 1e-51, 1e-50, 1e-49, 1e-48, 1e-47,
	1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38,
	1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29,
	1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20,
	1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11,
	1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2,
	1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
	1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25,
	1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34,
	1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43,
	1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52,
	1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61,
	1e62, 1e63,
}

const minPow10wide = -64

// digits8 returns the 8 bytes of w (little-endian: the first byte in the
// low bits) minus '0' each, and a mask that is zero when all are ASCII digits
// and otherwise has its lowest set bit at bit 7 of the first that is not.
// (Borrows and carries only move towards later bytes, so the bytes up to the
// first non-digit are classified correctly.)
func digits8(w uint64) (x, nonDigit uint64) {
	x = w - 0x3030303030303030
	return x, (x | (x + 0x7676767676767676)) & 0x8080808080808080
}

// value8 returns the decimal value of 8 digits as digits8 returns them, the
// first the most significant.
func value8(x uint64) uint64 {
	x = x*10 + x>>8 // pairs of digits
	return ((x&0x000000ff000000ff)*(100+1000000<<32) + (x>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
}

// numStart reports which bytes start a JSON number: '-' and the digits.
var numStart = [256]bool{'-': true, '0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// runStatus tells fastData why fastRun stopped.
type runStatus uint8

const (
	runStop runStatus = iota // at a token for parseData's general loop
	runDone                  // after the array's final ']'
	runSlow                  // at a number for slowNumber (or near the end)
	runFull                  // the data buffer is full
	// runParsed+k: at a float of k bytes, well-formed, that fastRun
	// cannot convert exactly itself: one for strconv.
	runParsed
)

// runWindow is how many bytes fastRun needs from the start of a number to
// read it without bounds checks; see the offsets noted in fastRun.
const runWindow = 64

// load returns the 8 bytes at win[k:] (k < 32) as a little-endian word.
func load(win *[runWindow]byte, k int) uint64 {
	return binary.LittleEndian.Uint64(win[k&31:])
}

// fastRun is the loop of fastData. It decodes the elements of a "data" array
// at b[i:], which holds a number, storing them at buf[off:], for as long as
// they are plain numbers with at most 18 significant digits (and at most 10
// before a fraction) and the window of runWindow bytes from the start of
// each is in b. d is the nesting depth. It returns the new i, off and d and
// why it stopped.
//
// fastRun calls nothing, so that the compiler can keep its state in
// registers. It reads a number through a window of runWindow bytes, which it
// checks to be in b, with offsets masked to the window (a no-op: the
// comments note the largest offset k reaches or a read touches), so that
// every read stays in the window whatever the input; it stores to buf only
// after checking that the element fits.
func fastRun[T fastElem](b []byte, i int, buf []byte, off, d int) (int, int, int, runStatus) {
	// The properties of T, constants once compiled for T.
	var one, minus T = 1, 0
	one /= 2
	minus--
	isFloat, signed := one != 0, minus < 0
	size := int(unsafe.Sizeof(minus))
	posMax := ^uint64(0) >> (64 - 8*size) // of the integer types
	if signed {
		posMax >>= 1
	}
	negMax := posMax + 1 // of the signed integer types
	limit, offLimit := len(b)-runWindow, len(buf)-size
	bp, bufp := unsafe.Pointer(unsafe.SliceData(b)), unsafe.Pointer(unsafe.SliceData(buf))
	for {
		if i > limit {
			return i, off, d, runSlow
		}
		if off > offLimit {
			return i, off, d, runFull
		}
		win := (*[runWindow]byte)(unsafe.Add(bp, i)) // i <= limit
		c := win[0]
		if !numStart[c] { // one branch, as signs may vary at random
			switch {
			case c == '[' && d < maxDepth:
				d++
			case !isSpace(c):
				return i, off, d, runStop // for parseData
			}
			i++
			continue
		}

		// A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, read
		// as mant × 10^exp10 with mant < 10^18, eight digits at a time and
		// then one at a time.
		neg := int(^c >> 4 & 1) // 1 for '-' (bit 4 clear), 0 for digits
		k := neg
		var mant uint64
		x, nonDigit := digits8(load(win, k)) // up to 8
		if byte(x) == 0 {                    // "0"
			k++
		} else {
			n := bits.TrailingZeros64(nonDigit) >> 3
			if n == 0 {
				return i, off, d, runStop // not a number
			}
			if n == 8 {
				mant = value8(x)
				k += 8
				x, nonDigit = digits8(load(win, k)) // up to 16
				if n = bits.TrailingZeros64(nonDigit) >> 3; n == 8 || n > 2 && isFloat {
					return i, off, d, runSlow // mant must stay below 10^10 for a fraction
				}
			}
			sh := (32 - 4*uint(n)) & 63 // keep the n digits: shift by 64-8n
			mant = mant*pow10u[n&15] + value8(x<<sh<<sh)
			k += n // up to 16
		}
		exp10 := 0
		if c = win[k&63]; c == '.' {
			if !isFloat { // here mant < 10^10
				return i, off, d, runSlow // slowNumber decides
			}
			k++ // up to 17
			frac := k
			x, nonDigit = digits8(load(win, k)) // up to 24
			if nonDigit != 0 {
				n := bits.TrailingZeros64(nonDigit) >> 3
				if n == 0 {
					return i, off, d, runStop // no digit after '.'
				}
				sh := (32 - 4*uint(n)) & 63
				mant = mant*pow10u[n&15] + value8(x<<sh<<sh)
				k += n
				c = win[k&63]
			} else {
				mant = mant*1e8 + value8(x)
				// The rest one at a time.
				for k += 8; ; k++ { // up to 35
					if c = win[k&63]; c-'0' > 9 {
						break
					}
					if mant >= 1e17 || k >= 35 {
						return i, off, d, runSlow
					}
					mant = mant*10 + uint64(c-'0')
				}
			}
			exp10 = frac - k // -33 or more
		}
		if c|0x20 == 'e' {
			if !isFloat {
				return i, off, d, runSlow
			}
			k++ // up to 36
			c = win[k&63]
			eneg := c == '-'
			if c == '+' || c == '-' {
				k++ // up to 37
			}
			e, e0 := 0, k
			for ; ; k++ { // up to 40
				if c = win[k&63]; c-'0' > 9 {
					break
				}
				if k-e0 == 3 {
					return i, off, d, runSlow
				}
				e = e*10 + int(c-'0')
			}
			if k == e0 {
				return i, off, d, runStop // no digit in the exponent
			}
			if eneg {
				e = -e
			}
			// Keep mant × 10^exp10 (mant < 10^18) in float32's normal range.
			if exp10 += e; exp10 < -37 || exp10 > 20 {
				return i, off, d, runParsed + runStatus(k)
			}
		}

		// Convert and store.
		var u uint64
		switch {
		case isFloat && size == 4:
			// f = fl(fl(mant) × fl(10^exp10)) is 0 or in float32's normal
			// range (see the bounds of mant and exp10 above), and within
			// three roundings, so within 3 ulps, of the decimal's value v.
			// Rounding to float32 depends only on which side of a float32
			// midpoint (a float64 whose low 29 mantissa bits are 1<<28)
			// the value lies, and midpoints are 2^27 ulps or more from a
			// binade boundary. So unless the low bits of f lie within 8
			// of 1<<28, no midpoint lies between f and v, and float32(f)
			// is the float32 nearest to v. In the rare other case,
			// slowNumber decides (with strconv).
			f := float64(int64(mant)) * pow10wide[(exp10-minPow10wide)&127]
			if (math.Float64bits(f)-(1<<28-8))&(1<<29-1) < 16 {
				return i, off, d, runParsed + runStatus(k)
			}
			u = uint64(math.Float32bits(float32(f))) | uint64(neg)<<31
		case isFloat:
			if mant > 1<<53 || exp10 < -22 || exp10 > 22 {
				return i, off, d, runParsed + runStatus(k)
			}
			// Clinger's fast path: one correctly rounded operation.
			f := float64(int64(mant))
			if exp10 < 0 {
				f /= pow10[-exp10]
			} else {
				f *= pow10[exp10]
			}
			u = math.Float64bits(f) | uint64(neg)<<63
		case neg != 0: // integers, in integer notation
			if !signed && mant != 0 || mant > negMax {
				return i, off, d, runSlow
			}
			u = -mant
		default:
			if mant > posMax {
				return i, off, d, runSlow
			}
			u = mant
		}
		switch dst := unsafe.Add(bufp, off); size { // off <= offLimit
		case 1:
			*(*byte)(dst) = byte(u)
		case 2:
			binary.LittleEndian.PutUint16((*[2]byte)(dst)[:], uint16(u))
		case 4:
			binary.LittleEndian.PutUint32((*[4]byte)(dst)[:], uint32(u))
		default:
			binary.LittleEndian.PutUint64((*[8]byte)(dst)[:], u)
		}
		off += size

		// Up to the next value: ',' or ']', with optional whitespace.
		if c = win[k&63]; c == ',' { // the common case, with one optional space
			if i += k + 1; win[(k+1)&63] == ' ' { // up to 41
				i++
			}
			continue
		}
		for i += k; ; c = b[i] {
			switch c {
			case ',':
				i++
			case ']':
				if d--; d == 0 {
					return i + 1, off, d, runDone
				}
				fallthrough
			case ' ', '\n', '\r', '\t':
				if i++; i < len(b) {
					continue
				}
				fallthrough
			default:
				return i, off, d, runStop
			}
			break
		}
	}
}

// at returns b[i], or 0 beyond the end.
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// stateBefore returns the parse state at b[i] of a "data" array: what the
// last token before it was.
func stateBefore(b []byte, i int) int {
	for i--; i > 0 && isSpace(b[i]); i-- {
	}
	switch b[max(i, 0)] {
	case '[':
		return afterOpen
	case ',':
		return afterComma
	}
	return afterValue
}

// fastData decodes the elements of t's "data" from s.pos, which holds the
// start of a number, with fastRun, and with strconv or slowNumber the numbers
// that fastRun leaves to it. *depth is parseData's nesting depth. It returns the
// parse state, and whether it consumed the array's final ']'.
func (s *scanner) fastData(t *tensorState, run runFunc, depth *int) (state int, done bool) {
	b, size := s.buf, t.dt.Size()
	buf := t.data[:cap(t.data)] // written up to off
	off0 := len(t.data)
	i, off, d := s.pos, off0, *depth
	var st runStatus
	for {
		if i, off, d, st = run(b, i, buf, off, d); st == runFull {
			buf = slices.Grow(buf[:off], size)
			buf = buf[:cap(buf)]
			continue
		}
		// One number the slow way; then go on if a comma follows.
		var u uint64
		ok := false
		switch {
		case st >= runParsed:
			end := i + int(st-runParsed)
			f, err := strconv.ParseFloat(unsafeString(b[i:end]), 8*size)
			if ok = err == nil; ok { // else out of range: parseData reports it
				if u = math.Float64bits(f); size == 4 {
					u = uint64(math.Float32bits(float32(f)))
				}
				s.pos = end
			}
		case st == runSlow && numStart[at(b, i)]:
			s.pos = i
			u, ok = s.slowNumber(t.dt)
		}
		if !ok {
			break // parseData decodes or reports what is at i
		}
		if len(buf)-off < size {
			buf = slices.Grow(buf[:off], size)
			buf = buf[:cap(buf)]
		}
		for k := range size {
			buf[off+k] = byte(u >> (8 * k))
		}
		off += size
		if i = skipSpace(b, s.pos); at(b, i) != ',' {
			break
		}
		i = skipSpace(b, i+1)
	}
	s.pos = i
	t.data = buf[:off]
	t.count += int64((off - off0) / size)
	*depth = d
	return stateBefore(b, i), st == runDone
}

// skipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// slowNumber decodes the number at s.pos for fastData with the general code,
// for the numbers that fastRun does not convert itself: many digits, large
// exponents, values that need strconv. It returns the element's bits, or
// false, consuming nothing, when the number is malformed or out of range for
// the type; parseData then reports the error.
func (s *scanner) slowNumber(dt tensor.DataType) (u uint64, ok bool) {
	at := s.pos
	n, err := s.scanNumber()
	if err == nil {
		switch dt {
		case tensor.FP32:
			if f, ok := n.float(dt); ok {
				return uint64(math.Float32bits(float32(f))), true
			}
		case tensor.FP64:
			if f, ok := n.float(dt); ok {
				return math.Float64bits(f), true
			}
		case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64:
			if v, err := n.signed(dt); err == nil {
				return uint64(v), true
			}
		default:
			if v, err := n.unsigned(dt); err == nil {
				return v, true
			}
		}
	}
	s.pos = at
	return 0, false
}
