package scale

import (
	"fmt"
	"math/bits"
)

// Era is a transaction's validity window (CheckMortality). The zero value is the immortal era.
// A mortal era is valid for Period blocks starting at its birth block, the latest block whose
// number is congruent to Phase modulo Period.
type Era struct {
	Period uint64 // 0 for immortal; otherwise a power of two in 4…65536
	Phase  uint64 // birth block number mod Period
}

// Immortal reports whether e is the immortal era.
func (e Era) Immortal() bool { return e.Period == 0 }

// MortalEra returns the era of the given period starting at block current, as Substrate builds it:
// period is rounded up to a power of two and clamped to 4…65536, and the phase is quantized to
// period/4096 (at least 1).
func MortalEra(current, period uint64) Era {
	p := uint64(4)
	if period > 4 {
		p = 1 << bits.Len64(period-1) // next power of two
	}
	p = min(p, 1<<16)
	phase := current % p
	q := max(p>>12, 1)
	return Era{Period: p, Phase: phase / q * q}
}

// Birth returns the first block of the era's window that contains block current (for an immortal
// era, 0). Its hash is the era's implicit "additional signed" data.
func (e Era) Birth(current uint64) uint64 {
	if e.Immortal() {
		return 0
	}
	return (max(current, e.Phase)-e.Phase)/e.Period*e.Period + e.Phase
}

// AppendEra appends e's encoding: 0x00 for immortal, else two bytes little-endian of
// min(15, max(1, log2(period)−1)) | (phase/quantize)<<4.
func AppendEra(b []byte, e Era) []byte {
	if e.Immortal() {
		return append(b, 0)
	}
	q := max(e.Period>>12, 1)
	tz := uint64(bits.TrailingZeros64(e.Period))
	enc := min(15, max(1, tz-1)) | (e.Phase/q)<<4
	return AppendU16(b, uint16(enc))
}

// Era reads an era.
func (d *Decoder) Era() Era {
	b0 := d.U8()
	if d.err != nil || b0 == 0 {
		return Era{}
	}
	b1 := d.U8()
	if d.err != nil {
		return Era{}
	}
	enc := uint64(b0) | uint64(b1)<<8
	period := uint64(2) << (enc & 15)
	q := max(period>>12, 1)
	phase := (enc >> 4) * q
	if period < 4 || phase >= period {
		d.Fail(fmt.Errorf("%w: era 0x%04x", ErrInvalid, enc))
		return Era{}
	}
	return Era{Period: period, Phase: phase}
}
