package ops243

import (
	"math"
	"strconv"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/ascii"
)

// Result classifies a line.
type Result uint8

const (
	// ResultSpeed: the line is a speed report.
	ResultSpeed Result = iota
	// ResultIgnored: a well-formed JSON object without a speed, e.g. a command answer.
	ResultIgnored
	// ResultGarbage: anything else.
	ResultGarbage
)

// ParseLine decodes one output line (without its CR LF): a plain number in unit u; the same with units
// output on, "mps",12.4 (the quoted unit overrides u); or a JSON object with a "speed" member and
// optionally a "unit" member that overrides u and a "direction" member, "inbound" or "outbound",
// that sets the sign (inbound positive, as R| prints it). It does not allocate.
func ParseLine(b []byte, u Unit) (physic.Speed, Result) {
	b = trim(b)
	if len(b) == 0 {
		return 0, ResultGarbage
	}
	switch b[0] {
	case '{':
		return parseJSON(b, u)
	case '"':
		name, rest, ok := jsonString(b)
		if !ok {
			return 0, ResultGarbage
		}
		if u, ok = unitByName(name); !ok {
			return 0, ResultGarbage
		}
		if rest = trim(rest); len(rest) == 0 || rest[0] != ',' {
			return 0, ResultGarbage
		}
		b = trim(rest[1:])
	}
	v, ok := ascii.ParseDecimal(b, maxDigits)
	if !ok {
		return 0, ResultGarbage
	}
	return u.speed(v), ResultSpeed
}

// parseJSON decodes a flat JSON object whose values are strings or bare numbers, the only shapes the
// sensor emits. Escapes and nesting are refused.
func parseJSON(b []byte, u Unit) (physic.Speed, Result) {
	var speed []byte
	sign := 0 // from "direction": +1 inbound, -1 outbound, 0 absent
	b = trim(b[1:])
	if len(b) > 0 && b[0] == '}' {
		b = b[1:]
	} else {
		for {
			var key, val []byte
			var ok bool
			if key, b, ok = jsonString(b); !ok {
				return 0, ResultGarbage
			}
			b = trim(b)
			if len(b) == 0 || b[0] != ':' {
				return 0, ResultGarbage
			}
			b = trim(b[1:])
			if len(b) > 0 && b[0] == '"' {
				if val, b, ok = jsonString(b); !ok {
					return 0, ResultGarbage
				}
			} else {
				i := 0
				for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' {
					i++
				}
				val, b = b[:i], b[i:]
				if len(val) == 0 || val[0] == '{' || val[0] == '[' {
					return 0, ResultGarbage
				}
			}
			switch string(key) {
			case "speed":
				speed = val
			case "unit":
				if u, ok = unitByName(val); !ok {
					return 0, ResultGarbage
				}
			case "direction":
				switch string(val) {
				case "inbound":
					sign = 1
				case "outbound":
					sign = -1
				default:
					return 0, ResultGarbage
				}
			}
			b = trim(b)
			if len(b) == 0 {
				return 0, ResultGarbage
			}
			if b[0] == '}' {
				b = b[1:]
				break
			}
			if b[0] != ',' {
				return 0, ResultGarbage
			}
			b = trim(b[1:])
		}
	}
	if len(trim(b)) != 0 {
		return 0, ResultGarbage
	}
	if speed == nil {
		return 0, ResultIgnored
	}
	v, ok := ascii.ParseDecimal(trim(speed), maxDigits)
	if !ok {
		return 0, ResultGarbage
	}
	if sign != 0 && (v < 0) != (sign < 0) {
		v = -v
	}
	return u.speed(v), ResultSpeed
}

// jsonString reads a "..." string without escapes at the start of b.
func jsonString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return b[1:i], b[i+1:], true
		case '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func unitByName(b []byte) (Unit, bool) {
	switch string(b) {
	case "mps", "m-per-sec", "m/s":
		return MetrePerSecond, true
	case "kmph", "kph", "km-per-hr", "km/h":
		return KilometrePerHour, true
	case "mph":
		return MilePerHour, true
	case "fps", "ft-per-sec", "ft/s":
		return FootPerSecond, true
	case "cmps", "cm-per-sec", "cm/s":
		return CentimetrePerSecond, true
	}
	return 0, false
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// maxDigits bounds the digits of a speed, integer and fraction together; longer numbers are
// garbage.
const maxDigits = 15

// AppendSpeed appends v as the sensor prints it in unit u with the given decimals (the Fn command),
// "12.4\r\n", and returns the extended slice. For emulators and tests.
func AppendSpeed(dst []byte, v physic.Speed, u Unit, decimals int) []byte {
	dst = strconv.AppendFloat(dst, inUnit(v, u), 'f', decimals, 64)
	return append(dst, '\r', '\n')
}

// AppendJSON appends v in JSON output mode with units in output, {"unit":"mps","speed":"12.4"}.
func AppendJSON(dst []byte, v physic.Speed, u Unit, decimals int) []byte {
	dst = append(dst, `{"unit":"`...)
	dst = append(dst, [...]string{"mps", "kmph", "mph", "fps", "cmps"}[u]...)
	dst = append(dst, `","speed":"`...)
	dst = strconv.AppendFloat(dst, inUnit(v, u), 'f', decimals, 64)
	return append(dst, "\"}\r\n"...)
}

func inUnit(v physic.Speed, u Unit) float64 {
	one := u.speed(1)
	return math.Round(float64(v)/float64(one)*1e6) / 1e6
}
