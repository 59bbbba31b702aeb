package senml

import "math"

// The encoder writes CBOR by hand (RFC 8949): the pack's shape is fixed, and choosing per value
// between an integer and a float16, float32 or float64 head is what makes it small. Every function
// here appends to a caller's slice and allocates nothing once the slice has grown to the pack's size.

// CBOR major types (RFC 8949 section 3.1), shifted into the initial byte's high 3 bits.
const (
	majUint   = 0 << 5
	majNegInt = 1 << 5
	majText   = 3 << 5
	majArray  = 4 << 5
	majMap    = 5 << 5
)

// Float heads (RFC 8949 section 3.3: major type 7, additional information 25, 26, 27).
const (
	headFloat16 = 0xf9
	headFloat32 = 0xfa
	headFloat64 = 0xfb
)

// appendHead appends a major type's head with argument n in the shortest form RFC 8949 section 3
// allows (the "preferred serialization" of section 4.1): n < 24 in the initial byte, then 1, 2, 4
// or 8 following bytes.
func appendHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= math.MaxUint8:
		return append(b, major|24, byte(n))
	case n <= math.MaxUint16:
		return append(b, major|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendInt appends a CBOR integer: major type 0 for n >= 0, major type 1 (-1-n) below.
func appendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendHead(b, majUint, uint64(n))
	}
	return appendHead(b, majNegInt, uint64(-1-n))
}

func appendText(b []byte, s string) []byte {
	b = appendHead(b, majText, uint64(len(s)))
	return append(b, s...)
}

func appendFloat16(b []byte, bits uint16) []byte {
	return append(b, headFloat16, byte(bits>>8), byte(bits))
}

func appendFloat32(b []byte, f float32) []byte {
	u := math.Float32bits(f)
	return append(b, headFloat32, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

func appendFloat64(b []byte, f float64) []byte {
	u := math.Float64bits(f)
	return append(b, headFloat64, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// appendShortestFloat appends f in the narrowest float head that holds it exactly (RFC 8949 section
// 4.2.2's rule for floats): float16, else float32, else float64.
func appendShortestFloat(b []byte, f float64) []byte {
	if h, v, ok := toFloat16(f); ok && v == f && math.Signbit(v) == math.Signbit(f) {
		return appendFloat16(b, h)
	}
	if f32 := float32(f); float64(f32) == f {
		return appendFloat32(b, f32)
	}
	return appendFloat64(b, f)
}

// toFloat16 rounds f to the nearest IEEE 754 binary16 (ties to even) and returns its bits and the
// value they stand for; ok is false when f is NaN or infinite, or rounds beyond the largest finite
// binary16 (65504). Subnormals (below 2^-14, in steps of 2^-24) are handled: the result is exact
// whenever f is a binary16 value.
func toFloat16(f float64) (bits uint16, v float64, ok bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, false
	}
	var sign uint16
	a := f
	if math.Signbit(f) {
		sign, a = 0x8000, -f
	}
	if a == 0 {
		return sign, f, true
	}
	const minNormal = 1.0 / (1 << 14) // 2^-14
	var m float64                     // significand, counted in the quantum of a's binade
	var e int                         // unbiased exponent; -15 marks the subnormal range
	if a < minNormal {
		m = math.RoundToEven(math.Ldexp(a, 24)) // quantum 2^-24; m in [0, 1024]
		e = -15
		if m == 1024 {
			m, e = 1024, -14 // rounded up to the smallest normal
		}
	} else {
		_, exp := math.Frexp(a) // a = fr * 2^exp, fr in [0.5, 1)
		e = exp - 1
		m = math.RoundToEven(math.Ldexp(a, 10-e)) // quantum 2^(e-10); m in [1024, 2048]
		if m == 2048 {
			m, e = 1024, e+1
		}
	}
	if e > 15 {
		return 0, 0, false
	}
	var biased uint16
	if e == -15 {
		biased = 0
		v = math.Ldexp(m, -24)
		bits = uint16(m)
	} else {
		biased = uint16(e + 15)
		v = math.Ldexp(m, e-10)
		bits = biased<<10 | uint16(m-1024)
	}
	if sign != 0 {
		v = -v
	}
	return sign | bits, v, true
}
