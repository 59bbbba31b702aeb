package sht4x

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/sensirion"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Repeatability selects the measurement command (datasheet section 4.5) and so the noise and the
// measurement duration.
type Repeatability uint8

// Repeatability settings.
const (
	High Repeatability = iota
	Medium
	Low
)

// Commands, datasheet section 4.5 (I²C commands table).
const (
	cmdMeasureHigh   = 0xFD // T & RH, high repeatability
	cmdMeasureMedium = 0xF6 // T & RH, medium repeatability
	cmdMeasureLow    = 0xE0 // T & RH, low repeatability
	cmdReadSerial    = 0x89 // serial number: 2 words + CRC
	cmdSoftReset     = 0x94 // soft reset
)

// Maximum command durations, datasheet section 3.2 (timing specifications table).
const (
	durHigh   = 8300 * time.Microsecond
	durMedium = 4500 * time.Microsecond
	durLow    = 1600 * time.Microsecond
	durReset  = time.Millisecond      // soft reset time, max
	durSerial = 10 * time.Millisecond // not listed in the datasheet; Sensirion's own driver waits 10 ms
	// retryInterval and readRetries bound how long a NACKed read is retried after the maximum
	// duration is over.
	retryInterval = time.Millisecond
	readRetries   = 3
)

// Measuring range, datasheet section 2 (specifications: temperature -40..125 °C).
const (
	minCelsius = -40
	maxCelsius = 125
)

// sleep is the time seam: tests replace it.
var sleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Repeatability selects the measurement command; High is 0xFD.
	Repeatability Repeatability
	// StuckAfter reports ErrStuck when both raw words are identical this many Samples in a row; 0
	// disables the check. The 16 bit raw values always jitter by a few LSB.
	StuckAfter int
}

// DefaultOpts measures with high repeatability and reports a stuck part after 20 identical readings.
var DefaultOpts = Opts{Repeatability: High, StuckAfter: 20}

// Dev is an SHT4x on an I²C bus. Its methods follow sensor.Sensor's call order.
type Dev struct {
	d        i2c.Dev
	name     string
	opts     Opts
	serial   uint32
	cmd      [1]byte
	dur      time.Duration
	raw      [6]byte
	channels []sensor.Channel
	last     [2]uint16
	same     int
}

// New opens the SHT4x at addr (0x44, 0x45 or 0x46 depending on the variant): it soft-resets the
// part and reads its serial number, which proves that an SHT4x answers (the CRCs must match). opts
// nil means DefaultOpts.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	if addr < 0x44 || addr > 0x46 {
		return nil, fmt.Errorf("sht4x: address %#x is not 0x44, 0x45 or 0x46 (fixed per variant, datasheet section 4.1)", addr)
	}
	if opts.StuckAfter < 0 {
		return nil, fmt.Errorf("sht4x: Opts.StuckAfter %d is negative: use 0 to disable", opts.StuckAfter)
	}
	d := &Dev{
		d:    i2c.Dev{Bus: bus, Addr: addr},
		name: fmt.Sprintf("sht4x(%s@%#x)", bus, addr),
		opts: *opts,
		// Datasheet section 2 (table 1 and 2): resolution 0.01 °C and 0.01 %RH at high repeatability.
		channels: []sensor.Channel{{Name: "temperature", Unit: "Cel", Resolution: 0.01}, {Name: "humidity", Unit: "%RH", Resolution: 0.01}},
	}
	switch opts.Repeatability {
	case High:
		d.cmd[0], d.dur = cmdMeasureHigh, durHigh
	case Medium:
		d.cmd[0], d.dur = cmdMeasureMedium, durMedium
	case Low:
		d.cmd[0], d.dur = cmdMeasureLow, durLow
	default:
		return nil, fmt.Errorf("sht4x: Opts.Repeatability %d is invalid: use High, Medium or Low", opts.Repeatability)
	}
	if err := d.d.Tx([]byte{cmdSoftReset}, nil); err != nil {
		return nil, sensor.BusErr("sht4x", "soft reset", err)
	}
	sleep(durReset)
	if err := d.d.Tx([]byte{cmdReadSerial}, nil); err != nil {
		return nil, sensor.BusErr("sht4x", "read serial number", err)
	}
	sleep(durSerial)
	var b [6]byte
	if err := d.d.Tx(nil, b[:]); err != nil {
		return nil, sensor.BusErr("sht4x", "read serial number", err)
	}
	hi, lo, err := words(b[:])
	if err != nil {
		return nil, fmt.Errorf("sht4x: read serial number: %w", err)
	}
	d.serial = uint32(hi)<<16 | uint32(lo)
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Serial returns the part's 32 bit serial number read by New.
func (d *Dev) Serial() uint32 { return d.serial }

// Channels implements sensor.Sensor: temperature, humidity.
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// Sample implements sensor.Sensor.
func (d *Dev) Sample(_ time.Time, dst []float64) error {
	st, srh, err := d.measure()
	if err != nil {
		return err
	}
	dst[0] = Celsius(st)
	dst[1] = RelativeHumidity(srh)
	return nil
}

// Sense measures once and fills env.Temperature and env.Humidity.
func (d *Dev) Sense(env *physic.Env) error {
	st, srh, err := d.measure()
	if err != nil {
		return err
	}
	// Section 4.6: T = -45 + 175 * S_T / (2^16 - 1) °C, in integer nano-kelvin.
	env.Temperature = physic.ZeroCelsius - 45*physic.Celsius + physic.Temperature(int64(st)*int64(175*physic.Celsius)/65535)
	// RH = -6 + 125 * S_RH / (2^16 - 1) %RH, cropped to 0..100.
	rh := -6*physic.PercentRH + physic.RelativeHumidity(int64(srh)*int64(125*physic.PercentRH)/65535)
	env.Humidity = min(max(rh, 0), 100*physic.PercentRH)
	return nil
}

// Halt implements sensor.Sensor. The part idles between commands; there is nothing to stop.
func (d *Dev) Halt() error { return nil }

// Celsius converts a raw temperature word (datasheet section 4.6, equation 3).
func Celsius(st uint16) float64 { return -45 + 175*float64(st)/65535 }

// RelativeHumidity converts a raw humidity word and crops it to 0..100 %RH (section 4.6,
// equation 1 and the note below it).
func RelativeHumidity(srh uint16) float64 {
	return min(max(-6+125*float64(srh)/65535, 0), 100)
}

// measure runs one measurement and returns the raw temperature and humidity words.
func (d *Dev) measure() (st, srh uint16, err error) {
	if err := d.d.Tx(d.cmd[:], nil); err != nil {
		return 0, 0, sensor.BusErr("sht4x", "start measurement", err)
	}
	sleep(d.dur)
	// The part NACKs reads until the conversion is done (section 4.3); retry a little past the
	// datasheet maximum before calling it a timeout.
	for i := 0; ; i++ {
		err = d.d.Tx(nil, d.raw[:])
		if err == nil {
			break
		}
		if i == readRetries {
			return 0, 0, fmt.Errorf("sht4x: read measurement: no answer %d ms after the maximum duration: %w: %w", readRetries, sensor.ErrTimeout, err)
		}
		sleep(retryInterval)
	}
	return d.decode(d.raw[:])
}

// decode checks the CRCs of a 6 byte reply and applies the stuck and range checks.
func (d *Dev) decode(b []byte) (st, srh uint16, err error) {
	st, srh, err = words(b)
	if err != nil {
		return 0, 0, errMeasureCRC
	}
	if d.opts.StuckAfter > 0 {
		raw := [2]uint16{st, srh}
		if raw == d.last {
			d.same++
		} else {
			d.last, d.same = raw, 1
		}
		if d.same >= d.opts.StuckAfter {
			return 0, 0, errStuck
		}
	}
	if c := Celsius(st); c < minCelsius || c > maxCelsius {
		return 0, 0, errRange
	}
	return st, srh, nil
}

// words checks and strips the CRCs of a 6 byte reply: word, CRC, word, CRC (section 4.4).
func words(b []byte) (w0, w1 uint16, err error) {
	if len(b) != 6 {
		return 0, 0, fmt.Errorf("sht4x: reply of %d bytes, want 6: %w", len(b), sensor.ErrFrame)
	}
	if CRC8(b[0:2]) != b[2] || CRC8(b[3:5]) != b[5] {
		return 0, 0, errCRC
	}
	return uint16(b[0])<<8 | uint16(b[1]), uint16(b[3])<<8 | uint16(b[4]), nil
}

// CRC8 is Sensirion's CRC-8 that follows each word on the wire: polynomial 0x31, initialisation
// 0xFF, no reflection, no final XOR (datasheet section 4.4). CRC8([]byte{0xBE, 0xEF}) is 0x92.
func CRC8(b []byte) byte { return sensirion.CRC8(b) }

// Errors returned on hot paths are built once so a failing Sample does not allocate.
var (
	errCRC        = fmt.Errorf("sht4x: CRC mismatch: %w", sensor.ErrCRC)
	errMeasureCRC = fmt.Errorf("sht4x: read measurement: %w", errCRC)
	errStuck      = fmt.Errorf("sht4x: read measurement: raw values unchanged: %w", sensor.ErrStuck)
	errRange      = fmt.Errorf("sht4x: read measurement: temperature outside -40..125 °C: %w", sensor.ErrRange)
)

var _ sensor.Sensor = (*Dev)(nil)
