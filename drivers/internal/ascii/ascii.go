// Package ascii owns the allocation-free number parsing the text protocol drivers share (nmea,
// ops243): unsigned integers and plain decimals read straight from the bytes a UART delivered,
// where strconv would need a string. Each driver keeps its own field rules (widths, units, signs)
// and decides how many digits it accepts.
package ascii

// MaxDigits is the most digits ParseDecimal accepts: 10^18 still fits a uint64 mantissa.
const MaxDigits = 18

var pow10 = [MaxDigits + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// Pow10 returns 10^n for n in 0..MaxDigits, from a table.
func Pow10(n int) float64 { return pow10[n] }

// ParseUint parses 1 to maxDigits decimal digits, nothing else. maxDigits must be at most 19 for
// the result to fit a uint64.
func ParseUint(b []byte, maxDigits int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// ParseDecimal parses [-+]digits[.digits] with at least one and at most maxDigits digits in all
// (maxDigits at most MaxDigits). Leading zeros count as digits. There is no exponent form, no
// spaces, and "5." and ".5" are accepted.
func ParseDecimal(b []byte, maxDigits int) (float64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var mant uint64
	digits, frac := 0, -1
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits == maxDigits {
				return 0, false
			}
			mant = mant*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}
