package nmea

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Sentences from public references, checksums as published.
const (
	// http://aprs.gids.nl/nmea/ and gpsd's NMEA Revealed: the classic GGA and RMC.
	classicGGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
	classicRMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
	// u-blox 6 receiver description, NMEA protocol section.
	ubloxGGA = "$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B\r\n"
	ubloxRMC = "$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*57\r\n"
)

// sum closes body (the part between '$' and '*') into a sentence with its checksum, computed
// independently of Checksum.
func sum(body string) string {
	var c byte
	for i := 0; i < len(body); i++ {
		c ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, c)
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestReferenceChecksums(t *testing.T) {
	for _, s := range []string{classicGGA, classicRMC, ubloxGGA, ubloxRMC} {
		body := s[1:strings.IndexByte(s, '*')]
		want := s[strings.IndexByte(s, '*')+1 : strings.IndexByte(s, '*')+3]
		if got := fmt.Sprintf("%02X", Checksum([]byte(body))); got != want {
			t.Errorf("%q: checksum %s, published %s", s, got, want)
		}
		if sum(body) != s {
			t.Errorf("sum(%q) = %q", body, sum(body))
		}
	}
}

func TestParseClassicGGA(t *testing.T) {
	var f Fix
	typ, err := Parse([]byte(classicGGA), &f)
	if err != nil || typ != TypeGGA {
		t.Fatal(typ, err)
	}
	// 4807.038 N = 48 deg + 7.038/60; 01131.000 E = 11 deg + 31/60.
	if !near(f.Lat, 48+7.038/60, 1e-9) || !near(f.Lon, 11+31.0/60, 1e-9) {
		t.Errorf("position %v %v", f.Lat, f.Lon)
	}
	if f.Quality != 1 || f.Satellites != 8 || f.HDOP != 0.9 {
		t.Errorf("quality %d sats %d hdop %v", f.Quality, f.Satellites, f.HDOP)
	}
	if f.Altitude != 545400*physic.MilliMetre || f.GeoidSep != 46900*physic.MilliMetre {
		t.Errorf("altitude %s geoid %s", f.Altitude, f.GeoidSep)
	}
	if f.TimeOfDay != 12*time.Hour+35*time.Minute+19*time.Second {
		t.Errorf("time %s", f.TimeOfDay)
	}
	if f.Talker != [2]byte{'G', 'P'} {
		t.Errorf("talker %q", f.Talker[:])
	}
	if !f.UTC().IsZero() {
		t.Errorf("GGA alone has no date: %s", f.UTC())
	}
}

func TestParseClassicRMC(t *testing.T) {
	var f Fix
	typ, err := Parse([]byte(classicRMC), &f)
	if err != nil || typ != TypeRMC {
		t.Fatal(typ, err)
	}
	if !f.Valid || !near(f.Lat, 48.1173, 1e-9) || !near(f.Lon, 11.516666666, 1e-8) {
		t.Errorf("%+v", f)
	}
	// 22.4 knots = 22.4 * 1852 / 3600 m/s.
	if want := 22.4 * 1852 / 3600; !near(float64(f.Speed)/1e9, want, 1e-9) {
		t.Errorf("speed %s, want %v m/s", f.Speed, want)
	}
	if f.Course != 84.4 {
		t.Errorf("course %v", f.Course)
	}
	if want := time.Date(1994, 3, 23, 12, 35, 19, 0, time.UTC); !f.UTC().Equal(want) {
		t.Errorf("time %s, want %s", f.UTC(), want)
	}
}

func TestParseUblox(t *testing.T) {
	var f Fix
	if _, err := Parse([]byte(ubloxGGA), &f); err != nil {
		t.Fatal(err)
	}
	if !near(f.Lat, 47+17.11399/60, 1e-9) || !near(f.Lon, 8+33.91590/60, 1e-9) || f.HDOP != 1.01 {
		t.Errorf("%+v", f)
	}
	if f.TimeOfDay != 9*time.Hour+27*time.Minute+25*time.Second {
		t.Errorf("time %s", f.TimeOfDay)
	}
	if _, err := Parse([]byte(ubloxRMC), &f); err != nil {
		t.Fatal(err)
	}
	// RMC merged on top of GGA: its time and date, GGA's altitude kept.
	if want := time.Date(2002, 12, 9, 8, 35, 59, 0, time.UTC); !f.UTC().Equal(want) {
		t.Errorf("time %s", f.UTC())
	}
	if f.Altitude != 499600*physic.MilliMetre {
		t.Errorf("altitude %s", f.Altitude)
	}
	// 0.004 knots.
	if f.Speed != physic.Speed(math.Round(0.004*1852/3600*1e9)) {
		t.Errorf("speed %d", f.Speed)
	}
}

func TestParseTalkersAndHemispheres(t *testing.T) {
	for _, tc := range []struct {
		body     string
		talker   string
		lat, lon float64
	}{
		{"GNGGA,001043.00,4404.14036,N,12118.85961,W,1,12,0.98,1113.0,M,-21.3,M,,", "GN", 44 + 4.14036/60, -(121 + 18.85961/60)},
		{"GLGGA,001043.00,3352.1234,S,15112.5000,E,2,05,1.5,20.0,M,,,,", "GL", -(33 + 52.1234/60), 151 + 12.5/60},
		{"GAGGA,001043.00,0000.0000,S,00000.0000,W,1,05,1.5,-10.5,M,,,,", "GA", 0, 0},
		{"BDGGA,001043.00,8959.9999,N,17959.9999,E,1,05,1.5,0.0,M,,,,", "BD", 89 + 59.9999/60, 179 + 59.9999/60},
	} {
		var f Fix
		if _, err := Parse([]byte(sum(tc.body)), &f); err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if string(f.Talker[:]) != tc.talker || !near(f.Lat, tc.lat, 1e-9) || !near(f.Lon, tc.lon, 1e-9) {
			t.Errorf("%s: talker %q lat %v lon %v", tc.body, f.Talker[:], f.Lat, f.Lon)
		}
	}
}

func TestParseNoFix(t *testing.T) {
	// What a receiver sends before its first fix: quality 0, empty position.
	f := Fix{Lat: 1, Lon: 2}
	typ, err := Parse([]byte(sum("GPGGA,235947.000,,,,,0,00,,,M,,M,,")), &f)
	if err != nil || typ != TypeGGA {
		t.Fatal(typ, err)
	}
	if f.Quality != 0 || f.Lat != 0 || f.Lon != 0 || f.Satellites != 0 {
		t.Errorf("%+v", f)
	}
	// Some receivers leave even the quality empty before their first fix: no fix, not an error.
	f = Fix{Quality: 1, Lat: 1}
	if typ, err := Parse([]byte(sum("GPGGA,,,,,,,,,,,,,,")), &f); err != nil || typ != TypeGGA || f.Quality != 0 || f.Lat != 0 {
		t.Errorf("empty GGA: %v %v %+v", typ, err, f)
	}
	// A void RMC keeps the position it had.
	f = Fix{Lat: 1, Lon: 2, Valid: true}
	if _, err := Parse([]byte(sum("GPRMC,235947.000,V,,,,,,,,,,N")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Valid || f.Lat != 1 || f.Lon != 2 {
		t.Errorf("%+v", f)
	}
}

func TestParseOther(t *testing.T) {
	for _, s := range []string{
		sum("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00"),
		sum("GPTXT,01,01,02,u-blox ag - www.u-blox.com"),
		sum("PUBX,00,081350.00,4717.113210,N"),
	} {
		f := Fix{Lat: 7}
		typ, err := Parse([]byte(s), &f)
		if err != nil || typ != TypeOther || f.Lat != 7 {
			t.Errorf("%q: %v %v %+v", s, typ, err, f)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		kind       error
	}{
		{"bad checksum", strings.Replace(classicGGA, "*47", "*48", 1), sensor.ErrCRC},
		{"corrupted byte", strings.Replace(classicGGA, "545.4", "545.5", 1), sensor.ErrCRC},
		{"truncated", classicGGA[:30], sensor.ErrFrame},
		{"truncated checksum", classicGGA[:len(classicGGA)-3], sensor.ErrFrame},
		{"no dollar", classicGGA[1:], sensor.ErrFrame},
		{"empty", "", sensor.ErrFrame},
		{"bad hex", strings.Replace(classicGGA, "*47", "*4G", 1), sensor.ErrFrame},
		{"too long", "$" + strings.Repeat("A", MaxSentence) + "*00", sensor.ErrFrame},
		{"short address", sum("GPG,1"), sensor.ErrFrame},
		{"lower-case address", sum("gpgga,1"), sensor.ErrFrame},
		{"empty address", sum(",1,2"), sensor.ErrFrame},
		{"GGA few fields", sum("GPGGA,123519,4807.038,N,01131.000,E,1,08"), sensor.ErrFrame},
		{"RMC few fields", sum("GPRMC,123519,A,4807.038,N"), sensor.ErrFrame},
		{"GGA bad quality", sum("GPGGA,123519,4807.038,N,01131.000,E,X,08,0.9,545.4,M,46.9,M,,"), sensor.ErrFrame},
		{"GGA quality 9", sum("GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,"), sensor.ErrRange},
		{"minutes 60", sum("GPGGA,123519,4860.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), sensor.ErrRange},
		{"latitude 91", sum("GPGGA,123519,9100.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), sensor.ErrRange},
		{"hemisphere", sum("GPGGA,123519,4807.038,E,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), sensor.ErrFrame},
		{"hour 24", sum("GPGGA,243519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), sensor.ErrRange},
		{"altitude unit", sum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,F,46.9,M,,"), sensor.ErrFrame},
		{"two dots", sum("GPGGA,123519,4807.0.38,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), sensor.ErrFrame},
		{"RMC status", sum("GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), sensor.ErrFrame},
		{"RMC 31 April", sum("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310494,003.1,W"), sensor.ErrRange},
		{"RMC negative speed", sum("GPRMC,123519,A,4807.038,N,01131.000,E,-22.4,084.4,230394,003.1,W"), sensor.ErrRange},
	} {
		f := Fix{Lat: 1, Quality: 3}
		_, err := Parse([]byte(tc.line), &f)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.kind)
			continue
		}
		if !strings.HasPrefix(err.Error(), "nmea: ") {
			t.Errorf("%s: %q lacks the package prefix", tc.name, err)
		}
		if f != (Fix{Lat: 1, Quality: 3}) {
			t.Errorf("%s: f modified on error: %+v", tc.name, f)
		}
	}
}

func TestParseLowerCaseChecksum(t *testing.T) {
	var f Fix
	if _, err := Parse([]byte(strings.Replace(classicRMC, "*6A", "*6a", 1)), &f); err != nil {
		t.Fatal(err)
	}
	// LF alone, no CR.
	if _, err := Parse([]byte(strings.TrimSuffix(classicGGA, "\r\n")+"\n"), &f); err != nil {
		t.Fatal(err)
	}
}

func TestParseAllocs(t *testing.T) {
	lines := [][]byte{[]byte(classicGGA), []byte(classicRMC), []byte(ubloxGGA), []byte(ubloxRMC),
		[]byte(sum("GPGSV,3,1,11,03,03,111,00"))}
	var f Fix
	n := testing.AllocsPerRun(200, func() {
		for _, l := range lines {
			if _, err := Parse(l, &f); err != nil {
				t.Fatal(err)
			}
		}
	})
	if n != 0 {
		t.Errorf("Parse allocates %v times per run", n)
	}
	bad := []byte(strings.Replace(classicGGA, "*47", "*48", 1))
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(bad, &f) }); n != 0 {
		t.Errorf("Parse allocates %v times on a checksum error", n)
	}
}

func TestRoundTrip(t *testing.T) {
	in := Fix{
		Talker:     [2]byte{'G', 'N'},
		Lat:        -(33 + 52.1234/60),
		Lon:        -(70 + 1.5/60),
		Quality:    2,
		Satellites: 11,
		HDOP:       0.8,
		Altitude:   -12300 * physic.MilliMetre,
		GeoidSep:   31200 * physic.MilliMetre,
		TimeOfDay:  23*time.Hour + 59*time.Minute + 58*time.Second + 500*time.Millisecond,
		Date:       time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC),
		Valid:      true,
		Speed:      13 * physic.MetrePerSecond,
		Course:     271.3,
	}
	buf := make([]byte, 0, 2*MaxSentence)
	buf = AppendGGA(buf, &in)
	if len(buf) > 82 {
		t.Errorf("GGA %d bytes > 82: %q", len(buf), buf)
	}
	var out Fix
	if typ, err := Parse(buf, &out); err != nil || typ != TypeGGA {
		t.Fatalf("%q: %v %v", buf, typ, err)
	}
	buf = AppendRMC(buf[:0], &in)
	if len(buf) > 82 {
		t.Errorf("RMC %d bytes > 82: %q", len(buf), buf)
	}
	if typ, err := Parse(buf, &out); err != nil || typ != TypeRMC {
		t.Fatalf("%q: %v %v", buf, typ, err)
	}
	if out.Talker != in.Talker || !near(out.Lat, in.Lat, 2e-6) || !near(out.Lon, in.Lon, 2e-6) ||
		out.Quality != in.Quality || out.Satellites != in.Satellites || out.HDOP != in.HDOP ||
		out.Altitude != in.Altitude || out.GeoidSep != in.GeoidSep || out.TimeOfDay != in.TimeOfDay ||
		!out.Date.Equal(in.Date) || !out.Valid || out.Course != in.Course {
		t.Errorf("\n in %+v\nout %+v", in, out)
	}
	// Speed goes through knots with 1 decimal: within 0.05 kn.
	if d := math.Abs(float64(out.Speed-in.Speed)) / 1e9; d > 0.05*1852/3600 {
		t.Errorf("speed %s -> %s", in.Speed, out.Speed)
	}
	// Rounding up to 60 minutes carries into the degrees.
	in2 := Fix{Lat: 47.99999999, Lon: 8, Quality: 1}
	buf = AppendGGA(buf[:0], &in2)
	if !strings.Contains(string(buf), ",4800.0000,N,00800.0000,E,") {
		t.Errorf("%q", buf)
	}
	// No fix: empty position, and the parser takes it.
	buf = AppendGGA(buf[:0], &Fix{TimeOfDay: time.Hour})
	if _, err := Parse(buf, &out); err != nil || out.Quality != 0 {
		t.Errorf("%q: %v", buf, err)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendRMC(AppendGGA(buf[:0], &in), &in) }); n != 0 {
		t.Errorf("Append allocates %v", n)
	}
}

// FuzzParse checks that Parse never panics, never accepts what it should not and classifies every
// error. `go test` runs only the seed corpus; `go test -fuzz FuzzParse -fuzztime 30s` explores.
func FuzzParse(f *testing.F) {
	for _, s := range []string{classicGGA, classicRMC, ubloxGGA, ubloxRMC,
		sum("GPGGA,235947.000,,,,,0,00,,,M,,M,,"), sum("GPRMC,235947.000,V,,,,,,,,,,N"),
		sum("GNGGA,001043.00,4404.14036,N,12118.85961,W,1,12,0.98,1113.0,M,-21.3,M,,"),
		"$GPGGA*00", "$*", "", "garbage\r\n", "$GPGGA,1,2,3*4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fix Fix
		typ, err := Parse(b, &fix)
		if err != nil {
			if sensor.Kind(err) == nil {
				t.Fatalf("%q: unclassified error %v", b, err)
			}
			if fix != (Fix{}) {
				t.Fatalf("%q: fix modified on error", b)
			}
			return
		}
		if math.Abs(fix.Lat) > 90 || math.Abs(fix.Lon) > 180 || fix.Quality > 8 || fix.Speed < 0 {
			t.Fatalf("%q: accepted %+v", b, fix)
		}
		if typ != TypeOther {
			// What was accepted must have a valid checksum.
			i := strings.LastIndexByte(string(b), '*')
			if i < 1 || fmt.Sprintf("%02X", Checksum(b[1:i])) != strings.ToUpper(string(b[i+1:i+3])) {
				t.Fatalf("%q: accepted with a bad checksum", b)
			}
		}
	})
}

// TestDateAfterMidnight: GGA has only the time of day (gpsd "NMEA Revealed", GGA field 1 hhmmss.ss;
// NMEA 0183 v4.11 GGA), the date comes from RMC (field 9, ddmmyy). A GGA that crosses midnight
// before the next RMC moves the date on: RMC 23:59:59.00 on 31 Dec 2026, then GGA 00:00:01.00 is
// 2027-01-01 00:00:01 UTC, not 2026-12-31.
func TestDateAfterMidnight(t *testing.T) {
	pos := "4807.038,N,01131.000,E"
	for _, c := range []struct {
		name  string
		lines []string
		want  time.Time
	}{
		{"new year", []string{
			sum("GPRMC,235959.00,A," + pos + ",0.0,0.0,311226,,,A"),
			sum("GPGGA,000001.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
		}, time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"then the next RMC", []string{
			sum("GPRMC,235959.00,A," + pos + ",0.0,0.0,311226,,,A"),
			sum("GPGGA,000001.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
			sum("GPGGA,000002.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
			sum("GPRMC,000002.00,A," + pos + ",0.0,0.0,010127,,,A"),
		}, time.Date(2027, 1, 1, 0, 0, 2, 0, time.UTC)},
		{"leap day", []string{
			sum("GPRMC,235959.50,A," + pos + ",0.0,0.0,280228,,,A"),
			sum("GPGGA,000000.50," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
		}, time.Date(2028, 2, 29, 0, 0, 0, 5e8, time.UTC)},
		{"out of order is not a new day", []string{
			sum("GPRMC,120000.00,A," + pos + ",0.0,0.0,311226,,,A"),
			sum("GPGGA,115959.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
		}, time.Date(2026, 12, 31, 11, 59, 59, 0, time.UTC)},
		{"no RMC yet: no date", []string{
			sum("GPGGA,235959.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
			sum("GPGGA,000001.00," + pos + ",1,08,0.9,545.4,M,46.9,M,,"),
		}, time.Time{}},
	} {
		var f Fix
		for _, l := range c.lines {
			if _, err := Parse([]byte(l), &f); err != nil {
				t.Fatalf("%s: %q: %v", c.name, l, err)
			}
		}
		if !f.UTC().Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, f.UTC(), c.want)
		}
	}
}
