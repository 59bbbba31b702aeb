// Package nmea reads position fixes from a GPS/GNSS receiver speaking NMEA-0183 over a UART.
//
// The driver takes an io.Reader (the board opens the serial port, usually 9600 8N1), runs one reader
// goroutine that frames sentences, validates their checksum and keeps the latest fix, and reports it
// through Sample as lat, lon, altitude, fix quality and satellite count. It decodes GGA and RMC from
// any talker (GP GPS, GL GLONASS, GA Galileo, GB/BD BeiDou, GN multi-constellation, ...); other
// sentences are counted and skipped.
//
// Parse is the sentence decoder on its own: it works on the byte slice in place and does not
// allocate, so a gateway can run it on every sentence of a 10 Hz receiver. AppendGGA and AppendRMC
// encode a Fix back into sentences with their checksum, for simulated boards and tests.
//
// # Datasheets
//
// NMEA 0183 is a paid standard; the public references below describe the same sentences:
//
// https://gpsd.gitlab.io/gpsd/NMEA.html (gpsd's "NMEA Revealed": framing, checksum, GGA, RMC, talkers)
//
// http://aprs.gids.nl/nmea/ (field by field tables for GGA and RMC, the classic 4807.038,N example)
//
// u-blox 6 Receiver Description including Protocol Specification, document GPS.G6-SW-10018, section
// "NMEA Protocol" (https://www.u-blox.com): the GGA/RMC examples used in the tests.
//
// # Quirks
//
// Framing (gpsd, "NMEA encoding conventions"): a sentence is "$", comma separated fields, "*", two
// upper-case hex digits and CR LF, at most 82 characters including "$" and CR LF. The checksum is the
// XOR of every byte between "$" and "*", exclusive. This driver requires the checksum on every
// sentence; a sentence without one is a malformed frame (sensor.ErrFrame), a wrong one is
// sensor.ErrCRC. Lines longer than 82 bytes are accepted up to 128 bytes because some receivers
// emit long proprietary sentences.
//
// Positions are ddmm.mmmm (latitude) and dddmm.mmmm (longitude) with a separate N/S or E/W field, not
// decimal degrees. GGA fix quality 0 means "invalid": the receiver then usually sends empty position
// fields, and the driver reports sensor.ErrNoData. RMC status "V" (void) also invalidates the fix.
//
// GGA carries only the time of day; the date comes from RMC (ddmmyy, two-digit year: 80..99 is read
// as 1980..1999, 00..79 as 2000..2079). A GGA whose time of day is more than 12 hours before the
// last sentence's crossed midnight: the date advances by one day until the next RMC brings its own
// (RMC 235959.00 on 311226, then GGA 000001.00, is 2027-01-01 00:00:01 UTC). Receivers with the GPS
// week rollover bug (1024 weeks) send dates 19.7 years in the past; the driver does not correct them.
//
// Sentence layouts (NMEA 0183 v4.11, as gpsd's "NMEA Revealed" documents them):
//
//	GGA: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, geoid sep., M, DGPS age, station
//	RMC: time, status A/V, lat, N/S, lon, E/W, speed kn, course, date ddmmyy, mag. var., E/W[, mode[, nav status]]
//
// # Options
//
// sensors[].options, defaults in DefaultOptions:
//
//	sentences: gga   # gga | rmc | both: which sentences make a fix
//	max_age: 5s      # older sentences are a stale fix (sensor.ErrNoData)
//
// Channels per sentences:
//
//   - gga: lat, lon (lat/lon, degrees), altitude (m above mean sea level), fix_quality (/, GGA 0..8),
//     satellites (count). The fix is the last GGA within max_age with quality above 0, unless a newer
//     RMC says V (void).
//   - rmc (receivers that send RMC only): lat, lon. The fix is the last RMC within max_age with
//     status A. RMC has no altitude, quality or satellite count, so those channels do not exist.
//   - both: the gga channels; a GGA and an RMC must each be within max_age and valid.
//
// Each Sample reports the latest fix (a position, not an interval aggregate).
//
// Many receivers start with a burst of text (boot banners, u-blox $GPTXT) and may emit binary
// protocol frames (UBX) on the same port: bytes outside "$...\n" are counted as garbage and skipped.
package nmea
