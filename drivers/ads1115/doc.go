// Package ads1115 drives the Texas Instruments ADS1115 16 bit delta-sigma ADC over I²C as one of
// two kinds of sensor, chosen by the options (NewWithOptions):
//
//   - kind analog (Dev): a generic analog input. Every Sample starts one single-shot conversion on
//     the configured input, waits the conversion time, polls the OS bit until the conversion is
//     done, reads the conversion register and reports volts·scale + offset on one channel named
//     and united as configured. Between samples the part powers down on its own.
//   - kind noise (NoiseMeter): an analog sound level meter's DC output. The driver's goroutine
//     takes a fast sample every `fast` (125 ms, the time constant of IEC 61672-1's Fast time
//     weighting), converts it to dB with the meter's calibration plus calibration_db, and adds it
//     to the interval's aggregate (Levels); Sample reports the aggregate and starts the next
//     interval.
//
// # Options
//
// Keys of a sensor's `options:` mapping; DefaultOptions holds the defaults.
//
//	kind          noise      noise | analog. Noise is the default so that configurations that
//	                         name the driver without options keep reading their SEN0232; kind
//	                         analog's keys are refused while kind is noise, so an analog sensor
//	                         cannot silently read as dB.
//	channel       ain0       ain0..ain3 against GND, or ain0-ain1, ain0-ain3, ain1-ain3,
//	                         ain2-ain3 (differential, MUX field of table 8).
//	gain          4.096      full-scale range in V: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256
//	                         (PGA field, table 1). A single-ended input must also stay within
//	                         GND - 0.3 V .. VDD + 0.3 V whatever the range (section 9.3.3).
//	rate          128        samples per second: 8, 16, 32, 64, 128, 250, 475, 860 (DR field).
//	stuck_after   0          ErrStuck after this many identical codes in a row (Samples for
//	                         analog, fast samples for noise); 0 is off.
//
// Kind analog:
//
//	name          voltage    the channel's SenML name: a-z A-Z 0-9 - : . / _ (RFC 8428 4.5.1).
//	unit          V          a SenML unit: RFC 8428 section 12.1 or RFC 8798 (e.g. V, mA, m, Pa,
//	                         hPa, Cel, %RH, /, /100, ppm, m3/s, lx).
//	scale, offset 1, 0       value = volts·scale + offset.
//	in_low, in_high,         the two-point form instead: in_low volts read as out_low, in_high
//	out_low, out_high        volts as out_high (scale = (out_high-out_low)/(in_high-in_low),
//	                         offset = out_low - in_low·scale). Used when any is non-zero; both
//	                         in_ values must lie within the gain's range.
//	min, max      0, 0       a value outside min..max is ErrRange (e.g. a 4-20 mA loop under
//	                         3.6 mA is a broken wire, NAMUR NE 43); both 0 is no check.
//
// For a 4-20 mA transmitter across a 250 Ω shunt (1..5 V) for 0..10 m:
// {kind: analog, gain: 6.144, name: level, unit: m, in_low: 1, in_high: 5, out_low: 0,
// out_high: 10, min: -0.25, max: 10.25}; 3.0 V (12 mA) reads 5.0 m. For a 0-10 V sensor, divide
// it to 0..5 V (two equal resistors) and give in_high: 5.
//
// Kind noise:
//
//	fast            125ms    the fast sample period, 10ms..1s, and at least one conversion
//	                         (1.1/rate: 137.5 ms at 8 SPS).
//	calibration_db  0        added to every level, ±20 dB: the correction a field calibrator
//	                         gives.
//	meter.low_volts 0.6      the meter's linear output: low_volts at low_db, high_volts at
//	meter.low_db    30       high_db. The defaults are DFRobot's Gravity SEN0232 (0.6..2.6 V for
//	meter.high_volts 2.6     30..130 dBA, 50 dB per volt, as DFRobot states for SKU SEN0232;
//	meter.high_db   130      a public integration converts with V·50 dB).
//	meter.margin_db 3        a level further outside low_db..high_db is ErrRange (an unplugged
//	                         meter reads about 0 V).
//
// # Channels of kind noise, per interval (between two Samples)
//
//	laeq     dB     10·log10(mean of 10^(L/10)) over the fast samples: the equivalent continuous
//	                level of IEC 61672-1 / ISO 1996-1. Never the arithmetic mean of dB (half the
//	                time at 60 and half at 70 dB is 67.4 dB, not 65).
//	lamax    dB     the highest fast sample; lamin the lowest.
//	l10, l90 dB     levels exceeded 10 % and 90 % of the time (ISO 1996-1): the (100-N)th
//	                percentile by nearest rank, ascending rank ceil((100-N)·n/100), from a
//	                histogram of 0.1 dB bins (levels rounded to the nearest 0.1 dB).
//	samples  count  the fast samples aggregated.
//
// The "A" in the names holds for an A-weighted meter such as the SEN0232. Fast samples that fail
// (bus error, out of range, stuck) are left out of the aggregate; an interval where all failed
// returns the last failure's error, so the gateway's health sees a failing part. An interval with
// no fast sample at all (shorter than fast, or right after opening) is sensor.ErrNoData: the
// levels are undefined then and 0 dB would read as a real, very quiet level.
//
// # Concurrency
//
// The noise goroutine owns its device's bus transactions from open to Halt. Other drivers may use
// the same bus at the same time: each of this driver's transactions is one Tx that sets the
// register pointer itself, periph's i2c.Bus makes no promise either way, and host/v3's sysfs I2C
// (sysfs/i2c.go) says it "can be used to communicate with multiple devices from multiple
// goroutines": Tx is one I2C_RDWR ioctl under the bus's mutex. Halt stops the goroutine and waits
// for a conversion under way.
//
// # Datasheets
//
// ADS1115: https://www.ti.com/lit/ds/symlink/ads1115.pdf (SBAS444)
//
// Quirks worth knowing:
//
//   - Four addresses, 0x48..0x4B, chosen by wiring ADDR to GND, VDD, SDA or SCL (section 9.5.1.1,
//     table 4).
//   - Registers are reached through a pointer byte: 0x00 conversion, 0x01 config (section 9.6,
//     table 6). Both are 16 bit, MSB first.
//   - Config bit 15 (OS) starts a single-shot conversion when written as 1 and reads 0 while a
//     conversion runs (section 9.6.3, table 8). The reset value 0x8583 is AIN0-AIN1, ±2.048 V,
//     single-shot, 128 SPS, comparator disabled.
//   - The PGA sets the full-scale range, not the supply: a single-ended input never goes below
//     ground and must stay under VDD + 0.3 V whatever the range (section 9.3.3). Codes 0x7FFF and
//     0x8000 mean the input is at or beyond full scale (section 9.3.3, table 3) and are reported as
//     ErrRange.
//   - The part has no id register: New reads the config register to prove something answers at the
//     address, and cannot tell an ADS1115 from an ADS1015 (12 bit, same map).
//   - The internal oscillator makes the data rate accurate to ±10 % only (electrical
//     characteristics), so the driver waits 10 % longer than 1/DR before polling.
//
// Standards: IEC 61672-1:2013 (sound level meters: time weighting F = 125 ms, time-average sound
// level), ISO 1996-1:2016 (environmental noise: equivalent continuous level, N percent exceedance
// level), RFC 8428 section 12.1 and RFC 8798 (SenML units).
package ads1115
