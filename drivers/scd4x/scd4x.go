package scd4x

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/sensirion"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Addr is the part's only I²C address (datasheet section 3.1).
const Addr = 0x62

// Commands, datasheet section 3 (command overview table), and their maximum execution times.
const (
	cmdStartPeriodic         = 0x21B1 // start_periodic_measurement
	cmdStartLowPowerPeriodic = 0x21AC // start_low_power_periodic_measurement (SCD41 and SCD40)
	cmdReadMeasurement       = 0xEC05 // read_measurement: 3 words
	cmdStopPeriodic          = 0x3F86 // stop_periodic_measurement
	cmdGetSerial             = 0x3682 // get_serial_number: 3 words
	cmdGetDataReady          = 0xE4B8 // get_data_ready_status: 1 word
	cmdWakeUp                = 0x36F6 // wake_up: the part does not acknowledge it

	// Settings (sections 3.6, 3.7): the set_ ones take one word, the get_ ones return one. All but
	// set_ambient_pressure are accepted in idle mode only.
	cmdSetTemperatureOffset = 0x241D
	cmdGetTemperatureOffset = 0x2318
	cmdSetAltitude          = 0x2427
	cmdGetAltitude          = 0x2322
	cmdSetAmbientPressure   = 0xE000 // also accepted during periodic measurement
	cmdSetASC               = 0x2416
	cmdGetASC               = 0x2313

	durStop    = 500 * time.Millisecond
	durWakeUp  = 30 * time.Millisecond
	durCommand = time.Millisecond // read_measurement, get_serial_number, get_data_ready_status

	dataReadyMask = 0x07FF // section 3.8.2: the least significant 11 bits
)

// Plausible readings: the CO₂ output range is 0..40000 ppm (datasheet section 1.1). The part is
// specified for -10..60 °C but keeps measuring outside that, less accurately, and a roadside cabinet
// in winter is colder: readings are reported across the storage range, -40..70 °C, and one outside
// it means a broken part.
const (
	maxPPM     = 40000
	minCelsius = -40
	maxCelsius = 70
)

// sleep is the time seam: tests replace it.
var sleep = time.Sleep

// Dev is an SCD40 or SCD41 on an I²C bus. Its methods follow sensor.Sensor's call order.
type Dev struct {
	d        i2c.Dev
	name     string
	opts     Opts
	serial   uint64
	channels []sensor.Channel

	cmd   [2]byte
	arg   [5]byte
	ready [3]byte
	raw   [9]byte

	start     uint16    // the start command New sent, sent again after a data timeout
	since     time.Time // time of the last new measurement, or of the first Sample
	restarted time.Time // when read last sent start again
	last      [3]uint16
	same      int

	// pressure is the hPa word SetAmbientPressure stored last, 0 for none; sent is the one the part
	// has (0 after a start: the part forgets it). Only read touches sent.
	pressure atomic.Uint32
	sent     uint16
}

// New opens the SCD4x at addr with opts (nil means DefaultOptions); see NewWithOptions.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOptions
	}
	return NewWithOptions(bus, addr, opts)
}

// NewWithOptions opens the SCD4x at addr, which must be 0x62. It wakes the part (an SCD41 may have
// been left in power-down, where it answers nothing else), stops any periodic measurement a previous
// run left going and waits the 500 ms that takes, reads the serial number (which proves an SCD4x
// answers: three CRCs must match), writes the altitude, temperature offset and ASC setting (idle mode
// only, section 3.6) and starts periodic measurement. The first result is ready about 5 s later.
func NewWithOptions(bus i2c.Bus, addr uint16, opts *Options) (*Dev, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if addr != Addr {
		return nil, fmt.Errorf("scd4x: address %#x is not 0x62, the part's only address (datasheet section 3.1)", addr)
	}
	d := &Dev{
		d:    i2c.Dev{Bus: bus, Addr: addr},
		name: fmt.Sprintf("scd4x(%s@%#x)", bus, addr),
		opts: *opts,
		channels: []sensor.Channel{
			// CO2 is an integer word in ppm (section 3.5.2: 1 ppm). Temperature and humidity words step
			// by 175/65535 = 0.0027 °C and 100/65535 = 0.0015 %RH, finer than the built-in SHT4x that
			// measures them (section 3.6, on-chip compensation) resolves: sent at its 0.01 °C and
			// 0.01 %RH (SHT4x datasheet, table 1 and 2).
			{Name: "co2", Unit: "ppm", Resolution: 1}, {Name: "temperature", Unit: "Cel", Resolution: 0.01},
			{Name: "humidity", Unit: "%RH", Resolution: 0.01},
		},
	}
	if d.opts.DataTimeout == 0 {
		d.opts.DataTimeout = 15 * time.Second
		if opts.LowPower {
			d.opts.DataTimeout = 90 * time.Second
		}
	}
	_ = d.command(cmdWakeUp) // not acknowledged: a NACK here is the expected answer
	sleep(durWakeUp)
	if err := d.command(cmdStopPeriodic); err != nil {
		return nil, sensor.BusErr("scd4x", "stop periodic measurement", err)
	}
	sleep(durStop)
	if err := d.command(cmdGetSerial); err != nil {
		return nil, sensor.BusErr("scd4x", "get serial number", err)
	}
	sleep(durCommand)
	var b [9]byte
	if err := d.d.Tx(nil, b[:]); err != nil {
		return nil, sensor.BusErr("scd4x", "get serial number", err)
	}
	var w [3]uint16
	if err := words(b[:], w[:]); err != nil {
		return nil, fmt.Errorf("scd4x: get serial number: %w", err)
	}
	d.serial = uint64(w[0])<<32 | uint64(w[1])<<16 | uint64(w[2])
	d.start = cmdStartPeriodic
	if opts.LowPower {
		d.start = cmdStartLowPowerPeriodic
	}
	if step, err := d.configure(); err != nil {
		return nil, sensor.BusErr("scd4x", step, err)
	}
	if err := d.command(d.start); err != nil {
		return nil, sensor.BusErr("scd4x", "start periodic measurement", err)
	}
	return d, nil
}

// configure writes the idle-mode settings (sections 3.6.1, 3.6.3, 3.7.2), 1 ms each. On failure it
// returns the step that failed and the bus error, unwrapped (the restart path ignores it).
func (d *Dev) configure() (string, error) {
	asc := uint16(0)
	if d.opts.ASC {
		asc = 1
	}
	for _, s := range []struct {
		step string
		cmd  uint16
		arg  uint16
	}{
		{"set sensor altitude", cmdSetAltitude, uint16(d.opts.Altitude)},
		{"set temperature offset", cmdSetTemperatureOffset, TemperatureOffsetWord(d.opts.TemperatureOffset)},
		{"set automatic self-calibration", cmdSetASC, asc},
	} {
		if err := d.commandArg(s.cmd, s.arg); err != nil {
			return s.step, err
		}
		sleep(durCommand)
	}
	return "", nil
}

// commandArg sends a 16 bit command with one argument word and its CRC (section 3.3).
func (d *Dev) commandArg(c, arg uint16) error {
	d.arg[0], d.arg[1] = byte(c>>8), byte(c)
	d.arg[2], d.arg[3] = byte(arg>>8), byte(arg)
	d.arg[4] = CRC8(d.arg[2:4])
	return d.d.Tx(d.arg[:], nil)
}

// SetAmbientPressure gives the part the ambient pressure in Pa for its CO₂ compensation, overriding
// Options.Altitude (set_ambient_pressure, section 3.6.5: hPa units, 700..1200 hPa). It only stores
// the value: the next Sample sends it, before it reads, when it differs (to the hPa) from what the
// part has. It is safe to call from any goroutine at any time, concurrently with Sample (the gateway
// calls it from the goroutine that sampled the pressure sensor named by Options.PressureFrom), and
// does not allocate. A value outside 70000..120000 Pa, or NaN, is refused with sensor.ErrRange and
// the part keeps the last good one.
func (d *Dev) SetAmbientPressure(pa float64) error {
	if math.IsNaN(pa) || pa < MinPressure || pa > MaxPressure {
		return errPressureRange
	}
	d.pressure.Store(uint32(PressureWord(pa)))
	return nil
}

// command sends a 16 bit command MSB first.
func (d *Dev) command(c uint16) error {
	d.cmd[0], d.cmd[1] = byte(c>>8), byte(c)
	return d.d.Tx(d.cmd[:], nil)
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Serial returns the 48 bit serial number read by New.
func (d *Dev) Serial() uint64 { return d.serial }

// Channels implements sensor.Sensor: co2, temperature, humidity.
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// Sample implements sensor.Sensor. It returns ErrNoData when the part has no new measurement and
// ErrTimeout when it has had none for Opts.DataTimeout. On a timeout it also sends the start command
// again, at most once per Opts.DataTimeout: a part that reset (a brown-out, or a power cycle of its
// supply) comes back idle and measures nothing until told to.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	w, err := d.read(at)
	if err != nil {
		return err
	}
	dst[0] = float64(w[0])
	dst[1] = Celsius(w[1])
	dst[2] = RelativeHumidity(w[2])
	return nil
}

// SenseCO2 reads a new measurement like Sample, fills env.Temperature and env.Humidity and returns
// the CO₂ concentration in ppm. at is the caller's clock for Opts.DataTimeout.
func (d *Dev) SenseCO2(at time.Time, env *physic.Env) (ppm int, err error) {
	w, err := d.read(at)
	if err != nil {
		return 0, err
	}
	env.Temperature = physic.ZeroCelsius - 45*physic.Celsius + physic.Temperature(int64(w[1])*int64(175*physic.Celsius)/65535)
	env.Humidity = physic.RelativeHumidity(int64(w[2]) * int64(100*physic.PercentRH) / 65535)
	return int(w[0]), nil
}

// Halt implements sensor.Sensor: it stops periodic measurement and waits the 500 ms the part needs.
func (d *Dev) Halt() error {
	if err := d.command(cmdStopPeriodic); err != nil {
		return sensor.BusErr("scd4x", "stop periodic measurement", err)
	}
	sleep(durStop)
	return nil
}

// Celsius converts a raw temperature word (section 3.5.2).
func Celsius(w uint16) float64 { return -45 + 175*float64(w)/65535 }

// RelativeHumidity converts a raw humidity word (section 3.5.2).
func RelativeHumidity(w uint16) float64 { return 100 * float64(w) / 65535 }

// read polls get_data_ready_status and, when a result is ready, reads it.
func (d *Dev) read(at time.Time) ([3]uint16, error) {
	var w [3]uint16
	if d.since.IsZero() {
		d.since = at
	}
	if p := uint16(d.pressure.Load()); p != 0 && p != d.sent {
		if err := d.commandArg(cmdSetAmbientPressure, p); err != nil {
			return w, sensor.BusErr("scd4x", "set ambient pressure", err)
		}
		sleep(durCommand)
		d.sent = p
	}
	if err := d.command(cmdGetDataReady); err != nil {
		return w, sensor.BusErr("scd4x", "get data ready status", err)
	}
	sleep(durCommand)
	if err := d.d.Tx(nil, d.ready[:]); err != nil {
		return w, sensor.BusErr("scd4x", "get data ready status", err)
	}
	if err := words(d.ready[:], w[:1]); err != nil {
		return w, errReadyCRC
	}
	if w[0]&dataReadyMask == 0 {
		return w, d.noData(at, errNoData)
	}
	if err := d.command(cmdReadMeasurement); err != nil {
		return w, sensor.BusErr("scd4x", "read measurement", err)
	}
	sleep(durCommand)
	if err := d.d.Tx(nil, d.raw[:]); err != nil {
		return w, sensor.BusErr("scd4x", "read measurement", err)
	}
	if err := d.decode(d.raw[:], &w); err != errZeroCO2 {
		d.since = at // a measurement came, even an implausible one
		return w, err
	}
	// Sensirion's drivers skip 0 ppm as an invalid sample: it is not data, and a part that gives
	// nothing else times out like one that gives nothing.
	return w, d.noData(at, errZeroCO2)
}

// noData returns err, or ErrTimeout once no measurement has come for Opts.DataTimeout. On a timeout it
// sends the start command again, at most once per Opts.DataTimeout: the part refuses it while it
// still measures, and the next data, or the next timeout, tells.
func (d *Dev) noData(at time.Time, err error) error {
	if at.Sub(d.since) <= d.opts.DataTimeout {
		return err
	}
	if d.restarted.IsZero() || at.Sub(d.restarted) > d.opts.DataTimeout {
		// A part that reset is idle with its EEPROM settings: give it ours again. A part that still
		// measures refuses them (and start) and keeps what it has.
		_, _ = d.configure()
		d.sent = 0
		_ = d.command(d.start)
		d.restarted = at
	}
	return errTimeout
}

// decode checks a 9 byte read_measurement reply and applies the stuck and range checks.
func (d *Dev) decode(b []byte, w *[3]uint16) error {
	if err := words(b, w[:]); err != nil {
		return errMeasureCRC
	}
	if d.opts.StuckAfter > 0 {
		if *w == d.last {
			d.same++
		} else {
			d.last, d.same = *w, 1
		}
		if d.same >= d.opts.StuckAfter {
			return errStuck
		}
	}
	if w[0] == 0 {
		return errZeroCO2
	}
	if w[0] > maxPPM {
		return errCO2Range
	}
	if c := Celsius(w[1]); c < minCelsius || c > maxCelsius {
		return errTemperatureRange
	}
	return nil
}

// words checks and strips the CRC of each 3 byte group of b into dst (section 3.11).
func words(b []byte, dst []uint16) error {
	if len(b) != 3*len(dst) {
		return fmt.Errorf("scd4x: reply of %d bytes, want %d: %w", len(b), 3*len(dst), sensor.ErrFrame)
	}
	for i := range dst {
		g := b[3*i : 3*i+3]
		if CRC8(g[:2]) != g[2] {
			return errCRC
		}
		dst[i] = uint16(g[0])<<8 | uint16(g[1])
	}
	return nil
}

// CRC8 is Sensirion's CRC-8 that follows each word on the wire: polynomial 0x31, initialisation
// 0xFF, no reflection, no final XOR (section 3.11). CRC8([]byte{0xBE, 0xEF}) is 0x92.
func CRC8(b []byte) byte { return sensirion.CRC8(b) }

// Errors returned on hot paths are built once: ErrNoData in particular is frequent and must not
// allocate.
var (
	errCRC              = fmt.Errorf("scd4x: CRC mismatch: %w", sensor.ErrCRC)
	errReadyCRC         = fmt.Errorf("scd4x: get data ready status: %w", errCRC)
	errMeasureCRC       = fmt.Errorf("scd4x: read measurement: %w", errCRC)
	errNoData           = fmt.Errorf("scd4x: get data ready status: no new measurement: %w", sensor.ErrNoData)
	errTimeout          = fmt.Errorf("scd4x: get data ready status: no new measurement within the data timeout: %w", sensor.ErrTimeout)
	errStuck            = fmt.Errorf("scd4x: read measurement: raw values unchanged: %w", sensor.ErrStuck)
	errCO2Range         = fmt.Errorf("scd4x: read measurement: CO2 above 40000 ppm: %w", sensor.ErrRange)
	errTemperatureRange = fmt.Errorf("scd4x: read measurement: temperature outside -40..70 °C: %w", sensor.ErrRange)
	errZeroCO2          = fmt.Errorf("scd4x: read measurement: 0 ppm, an invalid sample: %w", sensor.ErrNoData)
	errPressureRange    = fmt.Errorf("scd4x: set ambient pressure: outside 70000..120000 Pa: %w", sensor.ErrRange)
)

var _ sensor.Sensor = (*Dev)(nil)
