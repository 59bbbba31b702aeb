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

// Form is the output form a speed report came in.
type Form uint8

const (
	// FormPlain: comma-separated numbers (Oj, the factory setting), optionally with the unit first.
	FormPlain Form = iota
	// FormJSON: a JSON object (OJ).
	FormJSON
)

// Report is one speed report as the radar printed it.
type Report struct {
	// Speed is signed: positive inbound (approaching), negative outbound, as the radar prints it
	// with both directions reported (R|, UM-003-A "Reported Speed/Range/Direction Filter"); a JSON
	// "direction" member overrides the sign.
	Speed physic.Speed
	Form  Form
	// Unit is the unit the line was read in: the line's own ("mps",12.4 or "unit":"mph") when
	// HasUnit, else the one passed to ParseLine.
	Unit    Unit
	HasUnit bool
	// Time is the radar's clock in seconds since power on (OT, "137.429, 3.6"), when HasTime.
	Time    float64
	HasTime bool
	// Magnitude is the signal magnitude (OM), when HasMagnitude.
	Magnitude    float64
	HasMagnitude bool
}

// ParseLine decodes one output line (without its CR LF), in every form the OPS243 prints speeds
// (UM-003-A "Data Output", AN-010 "Data Output"), and does not allocate:
//
//   - plain, the factory setting: "12.4", "-3.7" in unit u;
//   - with the time report on (OT): "137.429, 3.6" (seconds.milliseconds since power on, speed);
//   - with the magnitude report on (OM): "120, 3.6"; with both, "137.429, 120, 3.6" (the manual:
//     "the data is provided as time, magnitude, speed"). With a single leading field the driver
//     cannot tell OT from OM: a field of the clock's form, digits "." three digits, is taken as
//     the time, anything else as the magnitude. The speed is always the last field;
//   - with the unit in the output: "mps",12.4 (the quoted unit overrides u), optionally followed
//     by the time and magnitude fields;
//   - JSON (OJ): a flat object with a "speed" member (a string, a number, or an array whose first
//     element is the strongest report) and optionally "unit" (overrides u), "direction"
//     ("inbound" or "outbound", sets the sign), "time" and "magnitude"; other members ("tick",
//     "distance") are skipped. A JSON object without "speed" (a command answer) is
//     ResultIgnored.
func ParseLine(b []byte, u Unit) (Report, Result) {
	b = trim(b)
	if len(b) == 0 {
		return Report{}, ResultGarbage
	}
	if b[0] == '{' {
		return parseJSON(b, u)
	}
	r := Report{Unit: u}
	if b[0] == '"' {
		name, rest, ok := jsonString(b)
		if !ok {
			return Report{}, ResultGarbage
		}
		if r.Unit, ok = unitByName(name); !ok {
			return Report{}, ResultGarbage
		}
		r.HasUnit = true
		if rest = trim(rest); len(rest) == 0 || rest[0] != ',' {
			return Report{}, ResultGarbage
		}
		b = rest[1:]
	}
	// Up to three numeric fields: [time,] [magnitude,] speed.
	var f [3][]byte
	n := 0
	for {
		i := 0
		for i < len(b) && b[i] != ',' {
			i++
		}
		if n == len(f) {
			return Report{}, ResultGarbage
		}
		f[n] = trim(b[:i])
		n++
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	v, ok := ascii.ParseDecimal(f[n-1], maxDigits)
	if !ok {
		return Report{}, ResultGarbage
	}
	var lead [2]float64
	for i := 0; i < n-1; i++ {
		if lead[i], ok = ascii.ParseDecimal(f[i], maxDigits); !ok {
			return Report{}, ResultGarbage
		}
	}
	switch n {
	case 3:
		r.Time, r.HasTime = lead[0], true
		r.Magnitude, r.HasMagnitude = lead[1], true
	case 2:
		if clockForm(f[0]) {
			r.Time, r.HasTime = lead[0], true
		} else {
			r.Magnitude, r.HasMagnitude = lead[0], true
		}
	}
	r.Speed = r.Unit.speed(v)
	return r, ResultSpeed
}

// clockForm reports whether b looks like the OT clock, seconds "." milliseconds: "137.429".
func clockForm(b []byte) bool {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || len(b)-i != 4 || b[i] != '.' {
		return false
	}
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseJSON(b []byte, u Unit) (Report, Result) {
	r := Report{Unit: u, Form: FormJSON}
	var speed []byte
	sign := 0 // from "direction": +1 inbound, -1 outbound, 0 absent
	s := objScanner{b: b}
	for {
		key, val, ok := s.next()
		if !ok {
			break
		}
		switch string(key) {
		case "speed":
			speed = val
		case "unit":
			if r.Unit, ok = unitByName(val); !ok {
				return Report{}, ResultGarbage
			}
			r.HasUnit = true
		case "direction":
			switch string(val) {
			case "inbound":
				sign = 1
			case "outbound":
				sign = -1
			default:
				return Report{}, ResultGarbage
			}
		case "time":
			if r.Time, ok = ascii.ParseDecimal(val, maxDigits); !ok {
				return Report{}, ResultGarbage
			}
			r.HasTime = true
		case "magnitude":
			if r.Magnitude, ok = ascii.ParseDecimal(val, maxDigits); !ok {
				return Report{}, ResultGarbage
			}
			r.HasMagnitude = true
		}
	}
	if s.bad {
		return Report{}, ResultGarbage
	}
	if speed == nil {
		return Report{}, ResultIgnored
	}
	v, ok := ascii.ParseDecimal(speed, maxDigits)
	if !ok {
		return Report{}, ResultGarbage
	}
	if sign != 0 && (v < 0) != (sign < 0) {
		v = -v
	}
	r.Speed = r.Unit.speed(v)
	return r, ResultSpeed
}

// objScanner walks a flat JSON object, the only shape the sensor prints: member values are
// strings without escapes, bare tokens (numbers, true, false), or arrays of those, of which only
// the first element is kept (O2..O9 print the strongest report first). Nesting and escapes are
// refused. After next returns false, bad tells an error from the end of the object.
type objScanner struct {
	b       []byte
	started bool
	bad     bool
}

func (s *objScanner) fail() ([]byte, []byte, bool) {
	s.bad = true
	return nil, nil, false
}

// next returns the next member; the value of a string is without its quotes.
func (s *objScanner) next() (key, val []byte, ok bool) {
	if s.bad {
		return nil, nil, false
	}
	b := trim(s.b)
	if !s.started {
		s.started = true
		if len(b) == 0 || b[0] != '{' {
			return s.fail()
		}
		b = trim(b[1:])
		if len(b) > 0 && b[0] == '}' {
			s.b = b
			if len(trim(b[1:])) != 0 {
				return s.fail()
			}
			return nil, nil, false
		}
	} else {
		if len(b) == 0 {
			return s.fail()
		}
		switch b[0] {
		case '}':
			if len(trim(b[1:])) != 0 {
				return s.fail()
			}
			return nil, nil, false
		case ',':
			b = trim(b[1:])
		default:
			return s.fail()
		}
	}
	if key, b, ok = jsonString(b); !ok {
		return s.fail()
	}
	if b = trim(b); len(b) == 0 || b[0] != ':' {
		return s.fail()
	}
	b = trim(b[1:])
	if len(b) > 0 && b[0] == '[' {
		// Keep the first element, skip the others.
		b = trim(b[1:])
		if val, b, ok = jsonValue(b); !ok {
			return s.fail()
		}
		for {
			b = trim(b)
			if len(b) == 0 {
				return s.fail()
			}
			if b[0] == ']' {
				b = b[1:]
				break
			}
			if b[0] != ',' {
				return s.fail()
			}
			if _, b, ok = jsonValue(trim(b[1:])); !ok {
				return s.fail()
			}
		}
	} else if val, b, ok = jsonValue(b); !ok {
		return s.fail()
	}
	s.b = b
	return key, val, true
}

// jsonValue reads a string or a bare token at the start of b.
func jsonValue(b []byte) (val, rest []byte, ok bool) {
	if len(b) > 0 && b[0] == '"' {
		return jsonString(b)
	}
	i := 0
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' {
		i++
	}
	if i == 0 || b[0] == '{' || b[0] == '[' || b[0] == '"' {
		return nil, nil, false
	}
	return b[:i], b[i:], true
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

// unitByName maps the unit names the sensor prints: in speed reports ("mps", "kmph", ...) and in
// the answers to U commands ("m-per-sec", "km-per-hr", "mph", "ft-per-sec", "cm-per-sec",
// UM-003-A "Speed Output Units"), and our own option names.
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

// maxDigits bounds the digits of a number, integer and fraction together; longer numbers are
// garbage.
const maxDigits = 15

// AppendSpeed appends v as the sensor prints it in plain output in unit u with the given decimals
// (the Fn command), "12.4\r\n", and returns the extended slice. For emulators and tests.
func AppendSpeed(dst []byte, v physic.Speed, u Unit, decimals int) []byte {
	dst = strconv.AppendFloat(dst, InUnit(v, u), 'f', decimals, 64)
	return append(dst, '\r', '\n')
}

// AppendJSON appends v in JSON output mode with its unit, {"unit":"mps","speed":"12.4"}.
func AppendJSON(dst []byte, v physic.Speed, u Unit, decimals int) []byte {
	dst = append(dst, `{"unit":"`...)
	dst = append(dst, u.ReportName()...)
	dst = append(dst, `","speed":"`...)
	dst = strconv.AppendFloat(dst, InUnit(v, u), 'f', decimals, 64)
	return append(dst, "\"}\r\n"...)
}

// InUnit returns v as a number in unit u.
func InUnit(v physic.Speed, u Unit) float64 {
	one := u.speed(1)
	return math.Round(float64(v)/float64(one)*1e6) / 1e6
}
