package nmea

import (
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/ascii"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// MaxSentence is the longest sentence Parse and the reader accept, "$" to LF included. NMEA 0183 caps
// sentences at 82 characters (gpsd, "NMEA encoding conventions"); the slack is for proprietary
// sentences some receivers send.
const MaxSentence = 128

// Type is the kind of a decoded sentence.
type Type uint8

// Sentence types Parse knows. Other well-formed sentences (GSA, GSV, VTG, TXT, ...) are TypeOther.
const (
	TypeOther Type = iota
	TypeGGA        // Global positioning system fix data.
	TypeRMC        // Recommended minimum specific GNSS data.
)

func (t Type) String() string {
	switch t {
	case TypeGGA:
		return "GGA"
	case TypeRMC:
		return "RMC"
	default:
		return "other"
	}
}

// Fix is a receiver's position solution, merged from GGA and RMC sentences.
type Fix struct {
	// Talker is the talker id of the last sentence merged: "GP", "GN", "GL", ...
	Talker [2]byte
	// Lat and Lon are in decimal degrees, south and west negative.
	Lat, Lon float64
	// Quality is GGA's fix quality: 0 invalid, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float,
	// 6 estimated (dead reckoning), 7 manual input, 8 simulation.
	Quality uint8
	// Satellites is the number of satellites in use (GGA).
	Satellites uint8
	// HDOP is the horizontal dilution of precision (GGA); 0 when the receiver left it empty.
	HDOP float64
	// Altitude is the antenna height above mean sea level (GGA).
	Altitude physic.Distance
	// GeoidSep is the geoid separation: WGS-84 ellipsoid height minus mean sea level (GGA).
	GeoidSep physic.Distance
	// TimeOfDay is the UTC time of the last sentence merged, since midnight.
	TimeOfDay time.Duration
	// Date is the UTC date at midnight of TimeOfDay: from the last RMC, advanced by a day when a GGA
	// (which has only the time of day) crosses midnight before the next RMC; zero until an RMC was
	// seen.
	Date time.Time
	// Valid is RMC's status: true for "A" (active), false for "V" (void). Dev also sets it from each
	// GGA's quality (non-zero is valid), GGA having no status field.
	Valid bool
	// Speed is RMC's speed over ground.
	Speed physic.Speed
	// Course is RMC's track made good in degrees true; 0 when empty.
	Course float64
}

// UTC returns the fix time, or the zero time when no RMC gave the date yet.
func (f *Fix) UTC() time.Time {
	if f.Date.IsZero() {
		return time.Time{}
	}
	return f.Date.Add(f.TimeOfDay)
}

// Errors Parse returns. They are package variables so the parser never allocates, even on garbage.
var (
	errNoStart    = fmt.Errorf("nmea: sentence does not start with '$': %w", sensor.ErrFrame)
	errNoChecksum = fmt.Errorf("nmea: missing or malformed '*HH' checksum: %w", sensor.ErrFrame)
	errChecksum   = fmt.Errorf("nmea: %w", sensor.ErrCRC)
	errTooLong    = fmt.Errorf("nmea: sentence longer than %d bytes: %w", MaxSentence, sensor.ErrFrame)
	errAddress    = fmt.Errorf("nmea: malformed address field: %w", sensor.ErrFrame)
	errFields     = fmt.Errorf("nmea: too few fields: %w", sensor.ErrFrame)
	errField      = fmt.Errorf("nmea: malformed field: %w", sensor.ErrFrame)
	errRange      = fmt.Errorf("nmea: field out of range: %w", sensor.ErrRange)
)

// Checksum returns the NMEA checksum of body, the bytes between "$" and "*": their XOR.
func Checksum(body []byte) byte {
	var c byte
	for _, b := range body {
		c ^= b
	}
	return c
}

// Parse decodes one sentence, "$" to the checksum with or without the trailing CR LF, and merges
// what it carries into f: GGA sets position, quality, satellites, HDOP and altitude; RMC sets
// position, status, speed, course and date. Other sentences with a valid checksum return TypeOther
// and leave f alone. On error f is not modified. Parse does not allocate.
//
// Errors wrap sensor.ErrFrame (framing, field syntax), sensor.ErrCRC (checksum) or sensor.ErrRange
// (a latitude beyond 90 degrees, minutes beyond 60, ...).
func Parse(line []byte, f *Fix) (Type, error) {
	if len(line) > MaxSentence {
		return TypeOther, errTooLong
	}
	// Strip the line terminator; gpsd notes some receivers send LF alone.
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 || line[0] != '$' {
		return TypeOther, errNoStart
	}
	// "*HH" closes the sentence.
	if len(line) < 4 || line[len(line)-3] != '*' {
		return TypeOther, errNoChecksum
	}
	hi, ok1 := unhex(line[len(line)-2])
	lo, ok2 := unhex(line[len(line)-1])
	if !ok1 || !ok2 {
		return TypeOther, errNoChecksum
	}
	body := line[1 : len(line)-3]
	if Checksum(body) != hi<<4|lo {
		return TypeOther, errChecksum
	}
	fs := fields{rest: body}
	addr := fs.next()
	// Address: 2-letter talker + 3-letter formatter. Proprietary sentences ("$PUBX", "$PGRME")
	// start with 'P' and are not ours.
	if len(addr) > 1 && addr[0] == 'P' {
		return TypeOther, nil
	}
	if len(addr) != 5 {
		return TypeOther, errAddress
	}
	for _, c := range addr {
		if c < 'A' || c > 'Z' {
			return TypeOther, errAddress
		}
	}
	g := *f
	g.Talker = [2]byte{addr[0], addr[1]}
	var err error
	switch string(addr[2:]) { // The compiler does not allocate for a string conversion in a switch.
	case "GGA":
		err = parseGGA(&fs, &g)
		if err != nil {
			return TypeGGA, err
		}
		*f = g
		return TypeGGA, nil
	case "RMC":
		err = parseRMC(&fs, &g)
		if err != nil {
			return TypeRMC, err
		}
		*f = g
		return TypeRMC, nil
	}
	return TypeOther, nil
}

// parseGGA decodes GGA's fields after the address (gpsd "GGA - Global Positioning System Fix Data"):
// 1 time hhmmss.ss, 2-3 latitude ddmm.mm N/S, 4-5 longitude dddmm.mm E/W, 6 quality, 7 satellites,
// 8 HDOP, 9-10 altitude M, 11-12 geoid separation M, 13 DGPS age, 14 DGPS station.
func parseGGA(fs *fields, f *Fix) error {
	var fl [14][]byte
	if fs.fill(fl[:]) < 14 {
		return errFields
	}
	var err error
	old := f.TimeOfDay
	if f.TimeOfDay, err = parseTime(fl[0], f.TimeOfDay); err != nil {
		return err
	}
	// GGA carries the time of day only. A time more than 12 hours before the last one crossed
	// midnight (235959 then 000001): the date moves on by a day until the next RMC brings its own.
	// Smaller steps back are sentences out of order, not a new day.
	if !f.Date.IsZero() && f.TimeOfDay < old-12*time.Hour {
		f.Date = f.Date.AddDate(0, 0, 1)
	}
	if f.Lat, err = parseCoord(fl[1], fl[2], 2, 'N', 'S'); err != nil {
		return err
	}
	if f.Lon, err = parseCoord(fl[3], fl[4], 3, 'E', 'W'); err != nil {
		return err
	}
	// An empty quality is what some receivers print before their first fix: no fix, as gpsd reads it
	// (0).
	if f.Quality, err = parseOptUint8(fl[5], 8); err != nil {
		return err
	}
	if f.Satellites, err = parseOptUint8(fl[6], 255); err != nil {
		return err
	}
	if f.HDOP, err = parseOptFloat(fl[7]); err != nil {
		return err
	}
	if f.Altitude, err = parseMetres(fl[8], fl[9]); err != nil {
		return err
	}
	if f.GeoidSep, err = parseMetres(fl[10], fl[11]); err != nil {
		return err
	}
	return nil
}

// parseRMC decodes RMC's fields after the address (gpsd "RMC - Recommended Minimum Navigation
// Information"): 1 time, 2 status A/V, 3-4 latitude, 5-6 longitude, 7 speed in knots, 8 course in
// degrees true, 9 date ddmmyy, 10-11 magnetic variation; NMEA 2.3 adds 12 mode, 4.1 adds 13 nav status.
func parseRMC(fs *fields, f *Fix) error {
	var fl [11][]byte
	if fs.fill(fl[:]) < 11 {
		return errFields
	}
	var err error
	if f.TimeOfDay, err = parseTime(fl[0], f.TimeOfDay); err != nil {
		return err
	}
	switch {
	case len(fl[1]) == 1 && fl[1][0] == 'A':
		f.Valid = true
	case len(fl[1]) == 1 && fl[1][0] == 'V':
		f.Valid = false
	default:
		return errField
	}
	lat, err := parseCoord(fl[2], fl[3], 2, 'N', 'S')
	if err != nil {
		return err
	}
	lon, err := parseCoord(fl[4], fl[5], 3, 'E', 'W')
	if err != nil {
		return err
	}
	if len(fl[2]) != 0 && len(fl[4]) != 0 {
		// A void RMC usually has no position: keep GGA's.
		f.Lat, f.Lon = lat, lon
	}
	kn, err := parseOptFloat(fl[6])
	if err != nil {
		return err
	}
	if kn < 0 || kn > 1e6 {
		return errRange
	}
	// One knot is one nautical mile (1852 m) per hour.
	f.Speed = physic.Speed(math.Round(kn * 1852 / 3600 * float64(physic.MetrePerSecond)))
	if f.Course, err = parseOptFloat(fl[7]); err != nil {
		return err
	}
	if len(fl[8]) != 0 {
		if f.Date, err = parseDate(fl[8]); err != nil {
			return err
		}
	}
	return nil
}

// fields iterates over comma separated fields without allocating.
type fields struct {
	rest []byte
	done bool
}

// next returns the next field, empty for an empty field; after the last one it returns nil and sets
// done.
func (fs *fields) next() []byte {
	if fs.done {
		return nil
	}
	for i, c := range fs.rest {
		if c == ',' {
			f := fs.rest[:i]
			fs.rest = fs.rest[i+1:]
			return f
		}
	}
	f := fs.rest
	fs.rest = nil
	fs.done = true
	return f
}

// fill stores the next len(dst) fields in dst and returns how many there were.
func (fs *fields) fill(dst [][]byte) int {
	for i := range dst {
		if fs.done {
			return i
		}
		dst[i] = fs.next()
	}
	return len(dst)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		// Lower case is not in the standard but some receivers send it.
		return c - 'a' + 10, true
	}
	return 0, false
}

// Numeric fields: integers (degrees, time and date parts, counts) have at most 9 digits, decimals
// at most ascii.MaxDigits. Both parse without allocating, strconv taking a string.
func parseUint(b []byte) (uint64, bool)     { return ascii.ParseUint(b, 9) }
func parseDecimal(b []byte) (float64, bool) { return ascii.ParseDecimal(b, ascii.MaxDigits) }

// parseOptUint8 parses an optional integer field of at most max: empty is 0.
func parseOptUint8(b []byte, max uint8) (uint8, error) {
	if len(b) == 0 {
		return 0, nil
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, errField
	}
	if v > uint64(max) {
		return 0, errRange
	}
	return uint8(v), nil
}

// parseOptFloat parses an optional decimal field: empty is 0.
func parseOptFloat(b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	v, ok := parseDecimal(b)
	if !ok {
		return 0, errField
	}
	return v, nil
}

// parseMetres parses an altitude and its unit field, which must be "M" when the value is present.
func parseMetres(v, unit []byte) (physic.Distance, error) {
	if len(v) == 0 {
		return 0, nil
	}
	m, ok := parseDecimal(v)
	if !ok || len(unit) != 1 || unit[0] != 'M' {
		return 0, errField
	}
	// physic.Distance is in nanometres: its range is ±9.2e9 m.
	if math.Abs(m) > 1e7 {
		return 0, errRange
	}
	return physic.Distance(math.Round(m * float64(physic.Metre))), nil
}

// parseCoord parses ddmm.mmmm (degDigits 2) or dddmm.mmmm (degDigits 3) with its hemisphere field
// into signed decimal degrees. Both fields empty is 0 (no fix).
func parseCoord(v, hemi []byte, degDigits int, pos, neg byte) (float64, error) {
	if len(v) == 0 && len(hemi) == 0 {
		return 0, nil
	}
	if len(v) < degDigits+2 || len(hemi) != 1 || (hemi[0] != pos && hemi[0] != neg) {
		return 0, errField
	}
	deg, ok := parseUint(v[:degDigits])
	if !ok {
		return 0, errField
	}
	min, ok := parseDecimal(v[degDigits:])
	if !ok || v[degDigits] < '0' || v[degDigits] > '9' {
		return 0, errField
	}
	if min >= 60 {
		return 0, errRange
	}
	d := float64(deg) + min/60
	if (degDigits == 2 && d > 90) || d > 180 {
		return 0, errRange
	}
	if hemi[0] == neg {
		d = -d
	}
	return d, nil
}

// parseTime parses hhmmss[.s...]; empty keeps old.
func parseTime(b []byte, old time.Duration) (time.Duration, error) {
	if len(b) == 0 {
		return old, nil
	}
	if len(b) < 6 {
		return 0, errField
	}
	h, ok1 := parseUint(b[0:2])
	m, ok2 := parseUint(b[2:4])
	s, ok3 := parseUint(b[4:6])
	if !ok1 || !ok2 || !ok3 {
		return 0, errField
	}
	// Second 60 is a leap second.
	if h > 23 || m > 59 || s > 60 {
		return 0, errRange
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	if len(b) > 6 {
		if b[6] != '.' || len(b) == 7 || len(b) > 16 {
			return 0, errField
		}
		fr, ok := parseUint(b[7:])
		if !ok {
			return 0, errField
		}
		d += time.Duration(float64(fr) / ascii.Pow10(len(b)-7) * float64(time.Second))
	}
	return d, nil
}

// parseDate parses ddmmyy into midnight UTC.
func parseDate(b []byte) (time.Time, error) {
	if len(b) != 6 {
		return time.Time{}, errField
	}
	d, ok1 := parseUint(b[0:2])
	m, ok2 := parseUint(b[2:4])
	y, ok3 := parseUint(b[4:6])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, errField
	}
	if d < 1 || d > 31 || m < 1 || m > 12 {
		return time.Time{}, errRange
	}
	year := int(y) + 2000
	if y >= 80 {
		year = int(y) + 1900
	}
	t := time.Date(year, time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	if t.Day() != int(d) {
		return time.Time{}, errRange // 31 April and the like.
	}
	return t, nil
}
