package senml

import (
	"math"

	"github.com/wayside-iot/wayside/buffer"
)

// Values on the wire: the shortest exact CBOR form of a value at its channel's resolution, and the
// base value that makes a group smaller.

// wire is a value as the pack carries it: a CBOR integer (neg: the value is -1-u) or a float of the
// width in head.
type wire struct {
	head byte // majUint, majNegInt, or headFloat16/32/64
	u    uint64
	h    uint16 // float16 bits
	f    float64
}

func (w wire) append(b []byte) []byte {
	switch w.head {
	case majUint, majNegInt:
		return appendHead(b, w.head, w.u)
	case headFloat16:
		return appendFloat16(b, w.h)
	case headFloat32:
		return appendFloat32(b, float32(w.f))
	}
	return appendFloat64(b, w.f)
}

// value is what a decoder reads from w.
func (w wire) value() float64 {
	switch w.head {
	case majUint:
		return float64(w.u)
	case majNegInt:
		return -1 - float64(w.u)
	}
	return w.f
}

// twoTo64 is 2^64: integral values below it in magnitude fit a CBOR integer head.
const twoTo64 = 18446744073709551616.0

// wireOf chooses how v travels for ch: rounded to the channel's resolution (Quantize), then an integer
// when integral, else the narrowest float that a decoder rounding to the resolution turns back into
// the same step (float16 often does: 21.4 °C at 0.1 °C travels as 21.40625 in 3 bytes). -0 stays a
// float16 -0; NaN and infinities are refused.
func wireOf(ch *Channel, v float64) (wire, error) { return wireOfInv(ch, invOf(ch.Resolution), v) }

// wireOfInv is wireOf with the channel's invOf precomputed.
func wireOfInv(ch *Channel, inv, v float64) (wire, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return wire{}, ErrNotFinite
	}
	q := quantize(ch, inv, v)
	if q == 0 {
		if math.Signbit(q) {
			return wire{head: headFloat16, h: 0x8000, f: q}, nil
		}
		return wire{head: majUint}, nil
	}
	if q == math.Trunc(q) && math.Abs(q) < twoTo64 {
		if q > 0 {
			return wire{head: majUint, u: uint64(q)}, nil
		}
		return wire{head: majNegInt, u: uint64(-q) - 1}, nil
	}
	holds := func(f float64) bool { return f == q }
	if ch.Resolution > 0 {
		k := stepsInv(ch.Resolution, inv, q)
		holds = func(f float64) bool { return stepsInv(ch.Resolution, inv, f) == k }
	}
	if h, f, ok := toFloat16(q); ok && holds(f) {
		return wire{head: headFloat16, h: h, f: f}, nil
	}
	if f := float64(float32(q)); !math.IsInf(f, 0) && holds(f) {
		return wire{head: headFloat32, f: f}, nil
	}
	return wire{head: headFloat64, f: q}, nil
}

// steps is x in whole steps of res: x * (1/res) when 1/res is an integer (0.01 → 100, exact for
// decimal resolutions), x / res otherwise.
func steps(res, x float64) float64 { return stepsInv(res, invOf(res), x) }

// stepsInv is steps with invOf(res) precomputed.
func stepsInv(res, inv, x float64) float64 {
	if inv > 0 {
		return math.Round(x * inv)
	}
	return math.Round(x / res)
}

// invOf is 1/res when that is an integer (0.01 → 100, 1 → 1), else 0.
func invOf(res float64) float64 {
	if !(res > 0) {
		return 0
	}
	if inv := math.Round(1 / res); inv >= 1 && math.Abs(1/res-inv) <= 1e-9*inv {
		return inv
	}
	return 0
}

// Quantize is v at ch's resolution: the float64 nearest to a whole number of steps (21.374 at 0.01 →
// 21.37). Without a declared resolution it is v at float32 precision, or v itself for a Float64
// channel (or the units "lat" and "lon").
func Quantize(ch *Channel, v float64) float64 { return quantize(ch, invOf(ch.Resolution), v) }

// quantize is Quantize with invOf(ch.Resolution) precomputed.
func quantize(ch *Channel, inv, v float64) float64 {
	switch res := ch.Resolution; {
	case res > 0:
		k := stepsInv(res, inv, v)
		if inv > 0 {
			return k / inv
		}
		return k * res
	case ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon":
		return v
	}
	return float64(float32(v))
}

// baseValue decides whether a channel group's values go relative to a base value (bv, RFC 8428
// section 4.1: a record's value is bv + v): when it makes the group smaller, as for a position whose
// records differ in the last digits, or a pressure near 100000 Pa. bv is the group's first value at
// the channel's resolution; every resolved value must still be the reported one at the resolution
// (else no bv). Only for channels with a declared resolution: an undeclared value's difference is not
// shorter than the value.
// It fills plain and rel, the group's values without and with the base value.
func (e *Encoder) baseValue(ch *Channel, inv float64, rs []buffer.Reading, group []int32, plain, rel []wire) (float64, bool, error) {
	size := 0
	for j, i := range group {
		w, err := wireOfInv(ch, inv, rs[i].Value)
		if err != nil {
			return 0, false, err
		}
		plain[j] = w
		size += w.size()
	}
	if ch.Resolution <= 0 || len(group) < 2 {
		return 0, false, nil
	}
	bv := quantize(ch, inv, rs[group[0]].Value)
	if bv == 0 || math.Signbit(bv) {
		return 0, false, nil
	}
	relSize := 1 + numberOf(bv).size() + 2 // the bv pair, and ending it in the next group
	for j, i := range group {
		if q := quantize(ch, inv, rs[i].Value); q == 0 && math.Signbit(q) {
			return 0, false, nil // -0 cannot be bv + v
		}
		w, ok := wireOfBase(ch, inv, rs[i].Value, bv)
		if !ok {
			return 0, false, nil
		}
		rel[j] = w
		if relSize += w.size(); relSize >= size {
			return 0, false, nil
		}
	}
	return bv, true, nil
}

// wireOfBase is v as the difference from base value bv: an integer or the narrowest float d for
// which bv + d (as every RFC 8428 resolver computes it, in float64) is v at ch's resolution. ok is
// false when no float does.
func wireOfBase(ch *Channel, inv, v, bv float64) (wire, bool) {
	q := quantize(ch, inv, v)
	k := stepsInv(ch.Resolution, inv, q)
	holds := func(f float64) bool { return stepsInv(ch.Resolution, inv, bv+f) == k }
	d := q - bv
	if d == 0 {
		return wire{head: majUint}, holds(0)
	}
	if d == math.Trunc(d) && math.Abs(d) < twoTo64 && holds(d) {
		if d > 0 {
			return wire{head: majUint, u: uint64(d)}, true
		}
		return wire{head: majNegInt, u: uint64(-d) - 1}, true
	}
	if h, f, ok := toFloat16(d); ok && holds(f) {
		return wire{head: headFloat16, h: h, f: f}, true
	}
	if f := float64(float32(d)); !math.IsInf(f, 0) && holds(f) {
		return wire{head: headFloat32, f: f}, true
	}
	return wire{head: headFloat64, f: d}, holds(d)
}

// numberOf is x exactly: an integer when integral, else the narrowest float that holds it.
func numberOf(x float64) wire {
	if x == math.Trunc(x) && math.Abs(x) < twoTo64 && !(x == 0 && math.Signbit(x)) {
		if x >= 0 {
			return wire{head: majUint, u: uint64(x)}
		}
		return wire{head: majNegInt, u: uint64(-x) - 1}
	}
	if h, f, ok := toFloat16(x); ok && f == x && math.Signbit(f) == math.Signbit(x) {
		return wire{head: headFloat16, h: h, f: f}
	}
	if f := float64(float32(x)); f == x {
		return wire{head: headFloat32, f: f}
	}
	return wire{head: headFloat64, f: x}
}

// size is the bytes w takes.
func (w wire) size() int {
	switch w.head {
	case majUint, majNegInt:
		switch {
		case w.u < 24:
			return 1
		case w.u <= math.MaxUint8:
			return 2
		case w.u <= math.MaxUint16:
			return 3
		case w.u <= math.MaxUint32:
			return 5
		}
		return 9
	case headFloat16:
		return 3
	case headFloat32:
		return 5
	}
	return 9
}

// WireValue is v as a decoder reads it from a pack for channel ch: Quantize's value, or the float16
// or float32 that stands for it at the channel's resolution. NaN and infinities are returned as they
// are (Encode refuses them).
func WireValue(ch *Channel, v float64) float64 {
	w, err := wireOf(ch, v)
	if err != nil {
		return v
	}
	return w.value()
}
