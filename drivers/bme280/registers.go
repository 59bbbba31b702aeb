package bme280

import "time"

// The register map, the datasheet's timing and the measuring ranges.

// Registers and values, BME280 section 5.3 (memory map, table 18).
const (
	regCalib1   = 0x88 // 0x88..0xA1: dig_T1..dig_P9, (0xA0 unused), dig_H1; table 16
	lenCalib1   = 26
	regChipID   = 0xD0 // section 5.4.1
	regReset    = 0xE0 // section 5.4.2
	resetValue  = 0xB6 // section 5.4.2: "If the value 0xB6 is written ... the device is reset"
	regCalib2   = 0xE1 // 0xE1..0xE7: dig_H2..dig_H6; table 16
	lenCalib2   = 7
	regCtrlHum  = 0xF2 // section 5.4.3
	regStatus   = 0xF3 // section 5.4.4
	regCtrlMeas = 0xF4 // section 5.4.5
	regConfig   = 0xF5 // section 5.4.6
	regData     = 0xF7 // 0xF7..0xFE: press msb..hum lsb; sections 5.4.7..5.4.9

	statusMeasuring = 1 << 3 // section 5.4.4: set while a conversion is running
	statusImUpdate  = 1 << 0 // section 5.4.4: set while NVM data are copied to image registers
	modeForced      = 0x01   // section 5.4.5, table 25: mode[1:0] 01 and 10 are forced mode

	chipIDBME280 = 0x60 // BME280 section 5.4.1
	chipIDBMP280 = 0x58 // BMP280 section 4.3.1 (mass production)
	// Early BMP280 sample parts answer 0x56 or 0x57 (Bosch's older BMP280 headers, Zephyr's driver).
	chipIDBMP280Sample1 = 0x56
	chipIDBMP280Sample2 = 0x57

	skipped20 = 0x80000 // section 4.2.2: value of a skipped temperature or pressure measurement
	skipped16 = 0x8000  // section 4.2.2: value of a skipped humidity measurement
)

// Timing.
const (
	// startupTime is t_startup, BME280 table 1 (2 ms max), also the time after a soft reset.
	startupTime = 2 * time.Millisecond
	// pollInterval and maxPolls bound the wait for a status bit once the computed time is over.
	pollInterval = time.Millisecond
	maxPolls     = 10
)

// Measuring ranges (BME280 section 1, table 1 "operating range"; BMP280 table 1).
const (
	minCentiCelsius = -4000  // -40 °C
	maxCentiCelsius = 8500   // +85 °C
	minPascal       = 30000  // 300 hPa
	maxPascal       = 110000 // 1100 hPa
)

// maxMeasureTime is t_measure,max of BME280 section 9.1 (appendix B):
// 1.25 + 2.3*T + (2.3*P + 0.575) + (2.3*H + 0.575) ms, a term dropped when its measurement is
// skipped. The same formula reproduces the BMP280's table 13 maxima (6.4 ms at 1x/1x, 43.2 ms at
// 2x/16x).
func maxMeasureTime(t, p, h int) time.Duration {
	us := 1250 + 2300*t
	if p > 0 {
		us += 2300*p + 575
	}
	if h > 0 {
		us += 2300*h + 575
	}
	return time.Duration(us) * time.Microsecond
}
