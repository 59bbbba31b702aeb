package nmea

import (
	"math"
	"strconv"
	"time"

	"periph.io/x/conn/v3/physic"
)

// AppendGGA appends a GGA sentence for f, "$" to CR LF with its checksum, to dst and returns the
// extended slice. The talker is f.Talker, "GP" when unset. Position is written with 4 decimals of
// minutes (about 0.2 m), HDOP, altitude and geoid separation with 1 decimal. It does not allocate
// when dst has room for 82 bytes.
func AppendGGA(dst []byte, f *Fix) []byte {
	start := len(dst)
	dst = appendAddr(dst, f.Talker, "GGA")
	dst = appendTime(dst, f.TimeOfDay)
	if f.Quality == 0 && f.Lat == 0 && f.Lon == 0 {
		// No fix: receivers leave position and altitude empty.
		dst = append(dst, ",,,,"...)
	} else {
		dst = appendCoord(dst, f.Lat, 2, 'N', 'S')
		dst = appendCoord(dst, f.Lon, 3, 'E', 'W')
	}
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(f.Quality), 10)
	dst = append(dst, ',')
	if f.Satellites < 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendUint(dst, uint64(f.Satellites), 10)
	dst = append(dst, ',')
	if f.HDOP != 0 {
		dst = strconv.AppendFloat(dst, f.HDOP, 'f', 1, 64)
	}
	dst = appendMetres(dst, f.Altitude)
	dst = appendMetres(dst, f.GeoidSep)
	// DGPS age and station id: empty.
	dst = append(dst, ",,"...)
	return appendChecksum(dst, start)
}

// AppendRMC appends an RMC sentence for f (NMEA 2.3 layout with the mode field) to dst and returns
// the extended slice. Status is "A" when f.Valid; speed is written in knots and course in degrees
// with 1 decimal; the date is f.Date, or empty when zero.
func AppendRMC(dst []byte, f *Fix) []byte {
	start := len(dst)
	dst = appendAddr(dst, f.Talker, "RMC")
	dst = appendTime(dst, f.TimeOfDay)
	mode := byte('N')
	if f.Valid {
		dst = append(dst, ",A"...)
		mode = 'A'
	} else {
		dst = append(dst, ",V"...)
	}
	dst = appendCoord(dst, f.Lat, 2, 'N', 'S')
	dst = appendCoord(dst, f.Lon, 3, 'E', 'W')
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, float64(f.Speed)/float64(physic.MetrePerSecond)*3600/1852, 'f', 1, 64)
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, f.Course, 'f', 1, 64)
	dst = append(dst, ',')
	if !f.Date.IsZero() {
		d := f.Date.UTC()
		dst = append2(dst, d.Day())
		dst = append2(dst, int(d.Month()))
		dst = append2(dst, d.Year()%100)
	}
	// Magnetic variation and its direction: empty. Mode: A autonomous, N not valid.
	dst = append(dst, ',', ',', ',', mode)
	return appendChecksum(dst, start)
}

func appendAddr(dst []byte, talker [2]byte, typ string) []byte {
	if talker == [2]byte{} {
		talker = [2]byte{'G', 'P'}
	}
	dst = append(dst, '$', talker[0], talker[1])
	return append(dst, typ...)
}

// appendTime appends ",hhmmss.ss".
func appendTime(dst []byte, tod time.Duration) []byte {
	cs := (tod + 5*time.Millisecond) / (10 * time.Millisecond) % (24 * 3600 * 100) // Centiseconds.
	dst = append(dst, ',')
	dst = append2(dst, int(cs/360000))
	dst = append2(dst, int(cs/6000%60))
	dst = append2(dst, int(cs/100%60))
	dst = append(dst, '.')
	return append2(dst, int(cs%100))
}

// appendCoord appends ",ddmm.mmmm,H" (degDigits 2) or ",dddmm.mmmm,H" (degDigits 3).
func appendCoord(dst []byte, v float64, degDigits int, pos, neg byte) []byte {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	// Work in 1e-4 minutes so rounding carries into minutes and degrees.
	t := int64(math.Round(v * 60 * 1e4))
	deg, rem := t/600000, t%600000
	dst = append(dst, ',')
	if degDigits == 3 && deg < 100 {
		dst = append(dst, '0')
	}
	dst = append2(dst, int(deg))
	dst = append2(dst, int(rem/10000))
	dst = append(dst, '.')
	frac := rem % 10000
	for div := int64(1000); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return append(dst, ',', h)
}

// appendMetres appends ",v.v,M", or ",," for zero.
func appendMetres(dst []byte, d physic.Distance) []byte {
	if d == 0 {
		return append(dst, ",,"...)
	}
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, float64(d)/float64(physic.Metre), 'f', 1, 64)
	return append(dst, ",M"...)
}

// append2 appends v as at least two digits.
func append2(dst []byte, v int) []byte {
	if v < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(v), 10)
}

// appendChecksum closes the sentence that starts at dst[start] with "*HH\r\n".
func appendChecksum(dst []byte, start int) []byte {
	const hex = "0123456789ABCDEF"
	c := Checksum(dst[start+1:])
	return append(dst, '*', hex[c>>4], hex[c&15], '\r', '\n')
}
