package bme280

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Oversampling is the osrs_x field value of ctrl_hum / ctrl_meas (BME280 tables 20, 22 and 23).
type Oversampling uint8

// Oversampling settings. Off skips the measurement (and drops its channel); temperature cannot be
// skipped, the pressure and humidity compensation needs its t_fine (section 4.2.3).
const (
	Off  Oversampling = 0
	O1x  Oversampling = 1
	O2x  Oversampling = 2
	O4x  Oversampling = 3
	O8x  Oversampling = 4
	O16x Oversampling = 5
)

// factor is the number of conversions the setting averages (table 20: 101 and above mean 16x).
func (o Oversampling) factor() int {
	if o == Off {
		return 0
	}
	if o >= O16x {
		return 16
	}
	return 1 << (o - 1)
}

// Filter is the IIR filter coefficient field of config (BME280 section 3.4.4, table 28).
type Filter uint8

// Filter settings.
const (
	NoFilter Filter = 0
	F2       Filter = 1
	F4       Filter = 2
	F8       Filter = 3
	F16      Filter = 4
)

// Opts configures a Dev.
type Opts struct {
	// Temperature, Pressure and Humidity are the oversampling of each measurement. Pressure and
	// Humidity may be Off, which drops their channel; Temperature may not. Humidity is ignored on a
	// BMP280.
	Temperature Oversampling
	Pressure    Oversampling
	Humidity    Oversampling
	// Filter is the IIR filter coefficient. In forced mode the filter only helps when Sample is called
	// often; NoFilter is the datasheet's recommendation for weather monitoring (section 3.5.1).
	Filter Filter
	// StuckAfter reports ErrStuck when the raw ADC values are identical this many Samples in a row;
	// 0 disables the check. The 20 bit raw values always carry a few LSB of noise, so a repeat
	// is a hung part or a bus that returns a stale buffer.
	StuckAfter int
}

// DefaultOpts is the datasheet's "weather monitoring" profile (section 3.5.1: 1x oversampling,
// filter off) with stuck detection after 20 identical readings.
var DefaultOpts = Opts{
	Temperature: O1x,
	Pressure:    O1x,
	Humidity:    O1x,
	Filter:      NoFilter,
	StuckAfter:  20,
}

// sleep is the time seam: tests replace it.
var sleep = time.Sleep

// Dev is a BME280 or BMP280 on an I²C bus. Its methods follow sensor.Sensor's call order.
type Dev struct {
	d        i2c.Dev
	name     string
	humidity bool // BME280 with humidity measured
	bme      bool // BME280: the chip has humidity
	pressure bool // pressure measured
	opts     Opts
	cal      calibration
	channels []sensor.Channel
	// ctrl is written on every measurement: ctrl_hum then ctrl_meas as register/value pairs.
	ctrl      []byte
	measDelay time.Duration

	reg  [1]byte
	stat [1]byte
	raw  [8]byte

	last [3]int32
	same int
}

// New opens the BME280 or BMP280 at addr (0x76 with SDO low, 0x77 with SDO high; BME280 section
// 6.2). It checks the chip id, soft-resets the part, reads its calibration and writes config. opts
// nil means DefaultOpts.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	if addr != 0x76 && addr != 0x77 {
		return nil, fmt.Errorf("bme280: address %#x is not 0x76 or 0x77 (datasheet section 6.2: set by SDO)", addr)
	}
	for _, o := range []struct {
		name string
		v    Oversampling
	}{{"Temperature", opts.Temperature}, {"Pressure", opts.Pressure}, {"Humidity", opts.Humidity}} {
		if (o.v == Off && o.name == "Temperature") || o.v > O16x {
			return nil, fmt.Errorf("bme280: Opts.%s oversampling %d is invalid: use O1x..O16x (Off for pressure and humidity only)", o.name, o.v)
		}
	}
	if opts.Filter > F16 {
		return nil, fmt.Errorf("bme280: Opts.Filter %d is invalid: use NoFilter..F16", opts.Filter)
	}
	if opts.StuckAfter < 0 {
		return nil, fmt.Errorf("bme280: Opts.StuckAfter %d is negative: use 0 to disable", opts.StuckAfter)
	}
	d := &Dev{d: i2c.Dev{Bus: bus, Addr: addr}, opts: *opts, pressure: opts.Pressure != Off}

	var id [1]byte
	if err := d.d.Tx([]byte{regChipID}, id[:]); err != nil {
		return nil, sensor.BusErr("bme280", "read chip id", err)
	}
	switch id[0] {
	case chipIDBME280:
		d.bme = true
		d.humidity = opts.Humidity != Off
		d.name = fmt.Sprintf("bme280(%s@%#x)", bus, addr)
	case chipIDBMP280, chipIDBMP280Sample1, chipIDBMP280Sample2:
		d.name = fmt.Sprintf("bmp280(%s@%#x)", bus, addr)
	default:
		return nil, fmt.Errorf("bme280: chip id %#02x is neither BME280 (0x60) nor BMP280 (0x58, or 0x56/0x57 on sample parts): %w", id[0], sensor.ErrFrame)
	}

	if err := d.d.Tx([]byte{regReset, resetValue}, nil); err != nil {
		return nil, sensor.BusErr("bme280", "soft reset", err)
	}
	sleep(startupTime)
	if err := d.waitStatusClear(statusImUpdate, "wait for NVM copy"); err != nil {
		return nil, err
	}

	var c1 [lenCalib1]byte
	if err := d.d.Tx([]byte{regCalib1}, c1[:]); err != nil {
		return nil, sensor.BusErr("bme280", "read calibration", err)
	}
	var c2 [lenCalib2]byte
	if d.bme {
		if err := d.d.Tx([]byte{regCalib2}, c2[:]); err != nil {
			return nil, sensor.BusErr("bme280", "read humidity calibration", err)
		}
	}
	d.cal = parseCalibration(c1[:], c2[:])
	// An unprogrammed or unreadable NVM reads as all zeros or all ones; dig_T1 and dig_P1 are
	// unsigned divisors-to-be and never 0 or 0xFFFF on a trimmed part.
	if d.cal.t1 == 0 || d.cal.p1 == 0 || d.cal.t1 == 0xFFFF || d.cal.p1 == 0xFFFF {
		return nil, fmt.Errorf("bme280: calibration looks blank (dig_T1=%#x dig_P1=%#x): %w", d.cal.t1, d.cal.p1, sensor.ErrFrame)
	}

	// config: t_sb[7:5] (unused in forced mode), filter[4:2], spi3w_en[0] (section 5.4.6). Written in
	// sleep mode, where writes are never ignored.
	if err := d.d.Tx([]byte{regConfig, byte(opts.Filter) << 2}, nil); err != nil {
		return nil, sensor.BusErr("bme280", "write config", err)
	}

	// ctrl_meas: osrs_t[7:5], osrs_p[4:2], mode[1:0] (section 5.4.5).
	meas := byte(opts.Temperature)<<5 | byte(opts.Pressure)<<2 | modeForced
	if d.bme {
		// ctrl_hum first: it only becomes effective with the following ctrl_meas write (5.4.3).
		// Written when humidity is skipped too: a previous program may have left it on.
		d.ctrl = []byte{regCtrlHum, byte(opts.Humidity), regCtrlMeas, meas}
	} else {
		d.ctrl = []byte{regCtrlMeas, meas}
	}
	// Resolutions (datasheet section 1, tables 1-3, and section 4.2.3): temperature 0.01 °C, the
	// compensation's own output step. Humidity 0.008 %RH: its output is Q22.10 (1/1024 %RH), rounded
	// to 1/128 %RH (0.0078), the binary step just finer than 0.008, so nothing the part resolves is
	// lost and the value is exact in a float32. Pressure 0.18 Pa at 16x oversampling (1.3 Pa at 1x):
	// its output is Q24.8 (1/256 Pa), rounded to 1/8 Pa (0.125), the binary step just finer than 0.18,
	// exact in a float32 up to 2^21 Pa.
	d.channels = []sensor.Channel{{Name: "temperature", Unit: "Cel", Resolution: 0.01}}
	if d.humidity {
		d.channels = append(d.channels, sensor.Channel{Name: "humidity", Unit: "%RH", Resolution: 1.0 / 128})
	}
	if d.pressure {
		d.channels = append(d.channels, sensor.Channel{Name: "pressure", Unit: "Pa", Resolution: 1.0 / 8})
	}
	h := 0
	if d.humidity {
		h = opts.Humidity.factor()
	}
	d.measDelay = maxMeasureTime(opts.Temperature.factor(), opts.Pressure.factor(), h)
	return d, nil
}

// waitStatusClear polls the status register until mask is clear.
func (d *Dev) waitStatusClear(mask byte, step string) error {
	d.reg[0] = regStatus
	for i := 0; ; i++ {
		if err := d.d.Tx(d.reg[:], d.stat[:]); err != nil {
			return sensor.BusErr("bme280", step, err)
		}
		if d.stat[0]&mask == 0 {
			return nil
		}
		if i == maxPolls {
			return errTimeout(step)
		}
		sleep(pollInterval)
	}
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor: temperature, humidity (BME280 only, unless skipped), pressure
// (unless skipped).
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// IsBME280 reports whether the part is a BME280 (has humidity, measured or skipped).
func (d *Dev) IsBME280() bool { return d.bme }

// MeasureTime is the time Sample waits for a measurement before polling the status: t_measure,max
// of BME280 section 9.1 for the oversampling in use.
func (d *Dev) MeasureTime() time.Duration { return d.measDelay }

// Sample implements sensor.Sensor.
func (d *Dev) Sample(_ time.Time, dst []float64) error {
	t, p, h, err := d.measure()
	if err != nil {
		return err
	}
	dst[0] = float64(t) / 100
	i := 1
	if d.humidity {
		dst[i] = float64(h) / 1024
		i++
	}
	if d.pressure {
		dst[i] = float64(p) / 256
	}
	return nil
}

// Sense measures once and fills env. On a BMP280, or with a quantity skipped, its field is left
// alone.
func (d *Dev) Sense(env *physic.Env) error {
	t, p, h, err := d.measure()
	if err != nil {
		return err
	}
	env.Temperature = physic.Temperature(t)*10*physic.MilliKelvin + physic.ZeroCelsius
	// p is Pa in Q24.8: 1/256 Pa = 1e9/256 nPa = 3906250 nPa exactly.
	if d.pressure {
		env.Pressure = physic.Pressure(p) * 3906250 * physic.NanoPascal
	}
	if d.humidity {
		// h is %RH in Q22.10: 1/1024 %RH = 1e5/1024 in units of 1e-5 %RH.
		env.Humidity = physic.RelativeHumidity(int64(h) * int64(physic.PercentRH) / 1024)
	}
	return nil
}

// Halt implements sensor.Sensor. Forced mode leaves the part asleep after each measurement, so there
// is nothing to stop.
func (d *Dev) Halt() error { return nil }

// measure runs one forced-mode measurement. It returns temperature in 0.01 °C, pressure in Pa as
// Q24.8 and humidity in %RH as Q22.10 (0 on a BMP280).
func (d *Dev) measure() (t int32, p, h uint32, err error) {
	if err := d.d.Tx(d.ctrl, nil); err != nil {
		return 0, 0, 0, sensor.BusErr("bme280", "start measurement", err)
	}
	sleep(d.measDelay)
	if err := d.waitStatusClear(statusMeasuring, "wait for measurement"); err != nil {
		return 0, 0, 0, err
	}
	n := 6
	if d.bme {
		n = 8
	}
	d.reg[0] = regData
	if err := d.d.Tx(d.reg[:], d.raw[:n]); err != nil {
		return 0, 0, 0, sensor.BusErr("bme280", "read measurement", err)
	}
	return d.decode(d.raw[:n])
}

// decode turns the burst read from 0xF7 into compensated values and applies the stuck and range
// checks.
func (d *Dev) decode(b []byte) (t int32, p, h uint32, err error) {
	// Sections 5.4.7..5.4.9: msb, lsb, xlsb[7:4] for pressure and temperature; msb, lsb for humidity.
	adcP := int32(b[0])<<12 | int32(b[1])<<4 | int32(b[2])>>4
	adcT := int32(b[3])<<12 | int32(b[4])<<4 | int32(b[5])>>4
	adcH := int32(skipped16)
	if len(b) == 8 {
		adcH = int32(b[6])<<8 | int32(b[7])
	}
	// A skipped measurement reads 0x80000 (0x8000 for humidity). Those are also mid-scale values a
	// real measurement can give (about 80 kPa, a town at 2000 m; humidity 55-85 %RH), and this driver
	// never skips a measurement it reads, so only the part's whole reset pattern counts: the part
	// reset between the mode write and the read. (Linux and Adafruit reject each value on its own.)
	// With pressure or humidity skipped, only the measured values count, and with temperature alone
	// there is no pattern to tell (a real adc_T can be 0x80000): then no check.
	if adcT == skipped20 && (d.pressure || d.humidity) && (!d.pressure || adcP == skipped20) && (!d.humidity || adcH == skipped16) {
		return 0, 0, 0, errSkipped
	}
	if d.opts.StuckAfter > 0 {
		raw := [3]int32{adcT, adcP, adcH}
		if raw == d.last {
			d.same++
		} else {
			d.last, d.same = raw, 1
		}
		if d.same >= d.opts.StuckAfter {
			return 0, 0, 0, errStuck
		}
	}
	t, tFine := d.cal.compensateT(adcT)
	if d.pressure {
		p = d.cal.compensateP(adcP, tFine)
	}
	if d.humidity {
		h = d.cal.compensateH(adcH, tFine)
	}
	if t < minCentiCelsius || t > maxCentiCelsius {
		return 0, 0, 0, errTemperatureRange
	}
	if d.pressure && (p/256 < minPascal || p/256 > maxPascal) {
		return 0, 0, 0, errPressureRange
	}
	return t, p, h, nil
}

// Errors returned on hot paths are built once so Sample does not allocate when it fails often.
var (
	errSkipped          = fmt.Errorf("bme280: decode: data registers hold the reset pattern (0x80000): %w", sensor.ErrFrame)
	errStuck            = fmt.Errorf("bme280: decode: raw values unchanged: %w", sensor.ErrStuck)
	errTemperatureRange = fmt.Errorf("bme280: decode: temperature outside -40..85 °C: %w", sensor.ErrRange)
	errPressureRange    = fmt.Errorf("bme280: decode: pressure outside 300..1100 hPa: %w", sensor.ErrRange)
)

func errTimeout(step string) error {
	return fmt.Errorf("bme280: %s: status bit still set after %d polls: %w", step, maxPolls, sensor.ErrTimeout)
}

var _ sensor.Sensor = (*Dev)(nil)
