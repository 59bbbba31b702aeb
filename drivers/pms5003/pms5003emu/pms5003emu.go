// Package pms5003emu encodes Plantower PMS5003 frames, for the simulated board and for tests: the
// byte stream a part in active mode sends for given concentrations.
package pms5003emu

import (
	"encoding/binary"

	"github.com/wayside-iot/wayside/drivers/pms5003"
)

// Append appends the 32 byte frame for f to dst (datasheet appendix I: start bytes, length 28, 13
// data words with the reserved one 0, and the sum of the preceding bytes).
func Append(dst []byte, f pms5003.Frame) []byte {
	b := binary.BigEndian.AppendUint16(dst, 0x424D)
	b = binary.BigEndian.AppendUint16(b, 28)
	for _, w := range [13]uint16{f.PM1CF1, f.PM25CF1, f.PM10CF1, f.PM1, f.PM25, f.PM10,
		f.Count03, f.Count05, f.Count10, f.Count25, f.Count50, f.Count100, 0} {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	var sum uint16
	for _, v := range b[len(dst):] {
		sum += uint16(v)
	}
	return binary.BigEndian.AppendUint16(b, sum)
}

// Encode returns the frame for f.
func Encode(f pms5003.Frame) [pms5003.FrameLen]byte {
	var out [pms5003.FrameLen]byte
	Append(out[:0], f)
	return out
}

// Atmospheric returns a plausible frame for atmospheric concentrations in µg/m³: CF=1 values
// equal to them (the two agree below about 30 µg/m³) and counts roughly proportional.
func Atmospheric(pm1, pm25, pm10 uint16) pms5003.Frame {
	return pms5003.Frame{
		PM1CF1: pm1, PM25CF1: pm25, PM10CF1: pm10,
		PM1: pm1, PM25: pm25, PM10: pm10,
		Count03: 150 * pm25, Count05: 45 * pm25, Count10: 8 * pm25,
		Count25: pm10 - pm25, Count50: (pm10 - pm25) / 3, Count100: (pm10 - pm25) / 10,
	}
}
