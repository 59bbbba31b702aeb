package bme280

import "encoding/binary"

// The compensation maths: the trimming parameters read from the part, and the datasheet's integer
// formulas that turn raw ADC values into temperature, pressure and humidity.

// calibration holds the trimming parameters, BME280 table 16 / BMP280 table 17.
type calibration struct {
	t1                             uint16
	t2, t3                         int16
	p1                             uint16
	p2, p3, p4, p5, p6, p7, p8, p9 int16
	h1                             uint8
	h2                             int16
	h3                             uint8
	h4, h5                         int16
	h6                             int8
}

// parseCalibration decodes BME280 table 16: little-endian words from 0x88, dig_H1 at 0xA1, and the
// humidity block from 0xE1 (c2 may be zero for a BMP280).
func parseCalibration(c1, c2 []byte) calibration {
	le := binary.LittleEndian
	return calibration{
		t1: le.Uint16(c1[0:]),
		t2: int16(le.Uint16(c1[2:])),
		t3: int16(le.Uint16(c1[4:])),
		p1: le.Uint16(c1[6:]),
		p2: int16(le.Uint16(c1[8:])),
		p3: int16(le.Uint16(c1[10:])),
		p4: int16(le.Uint16(c1[12:])),
		p5: int16(le.Uint16(c1[14:])),
		p6: int16(le.Uint16(c1[16:])),
		p7: int16(le.Uint16(c1[18:])),
		p8: int16(le.Uint16(c1[20:])),
		p9: int16(le.Uint16(c1[22:])),
		h1: c1[25], // 0xA1; 0xA0 (c1[24]) is not used
		h2: int16(le.Uint16(c2[0:])),
		h3: c2[2],
		// 0xE4 is bits 11:4 of H4 (signed), 0xE5[3:0] its bits 3:0.
		h4: int16(int8(c2[3]))<<4 | int16(c2[4]&0x0F),
		// 0xE6 is bits 11:4 of H5 (signed), 0xE5[7:4] its bits 3:0.
		h5: int16(int8(c2[5]))<<4 | int16(c2[4]>>4),
		h6: int8(c2[6]),
	}
}

// compensateT is bme280_compensate_T_int32 of BME280 section 4.2.3 (BMP280 section 3.11.3): the
// temperature in 0.01 °C and t_fine, which the other formulas need.
func (c *calibration) compensateT(adcT int32) (t, tFine int32) {
	t1 := int32(c.t1)
	var1 := (((adcT >> 3) - (t1 << 1)) * int32(c.t2)) >> 11
	var2 := (((((adcT >> 4) - t1) * ((adcT >> 4) - t1)) >> 12) * int32(c.t3)) >> 14
	tFine = var1 + var2
	return (tFine*5 + 128) >> 8, tFine
}

// compensateP is BME280_compensate_P_int64 of BME280 section 4.2.3 (BMP280 section 3.11.3): the
// pressure in Pa as Q24.8. It returns 0 when the calibration would divide by zero.
func (c *calibration) compensateP(adcP, tFine int32) uint32 {
	var1 := int64(tFine) - 128000
	var2 := var1 * var1 * int64(c.p6)
	var2 += (var1 * int64(c.p5)) << 17
	var2 += int64(c.p4) << 35
	var1 = ((var1 * var1 * int64(c.p3)) >> 8) + ((var1 * int64(c.p2)) << 12)
	var1 = (((int64(1) << 47) + var1) * int64(c.p1)) >> 33
	if var1 == 0 {
		return 0
	}
	p := int64(1048576 - adcP)
	p = (((p << 31) - var2) * 3125) / var1
	var1 = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
	var2 = (int64(c.p8) * p) >> 19
	p = ((p + var1 + var2) >> 8) + (int64(c.p7) << 4)
	return uint32(p)
}

// compensateH is bme280_compensate_H_int32 of BME280 section 4.2.3: the humidity in %RH as Q22.10,
// clamped by the formula itself to 0..100 %RH.
func (c *calibration) compensateH(adcH, tFine int32) uint32 {
	v := tFine - 76800
	a := ((adcH << 14) - (int32(c.h4) << 20) - (int32(c.h5) * v) + 16384) >> 15
	b := (((((((v*int32(c.h6))>>10)*(((v*int32(c.h3))>>11)+32768))>>10)+2097152)*int32(c.h2) + 8192) >> 14)
	v = a * b
	v -= ((((v >> 15) * (v >> 15)) >> 7) * int32(c.h1)) >> 4
	if v < 0 {
		v = 0
	}
	if v > 419430400 { // 100 %RH in Q22.10, shifted left by 12
		v = 419430400
	}
	return uint32(v >> 12)
}
