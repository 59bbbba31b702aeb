package ads1115

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Mux is the MUX[2:0] field of the config register (section 9.6.3, table 8): the input pair
// converted.
type Mux uint8

// Inputs. DiffXY measures AINX - AINY; AINX measures AINX against GND.
const (
	Diff01 Mux = 0 // reset value
	Diff03 Mux = 1
	Diff13 Mux = 2
	Diff23 Mux = 3
	AIN0   Mux = 4
	AIN1   Mux = 5
	AIN2   Mux = 6
	AIN3   Mux = 7
)

// Gain is the PGA[2:0] field of the config register (table 8): the full-scale range.
type Gain uint8

// Full-scale ranges.
const (
	FS6144 Gain = 0 // ±6.144 V
	FS4096 Gain = 1 // ±4.096 V
	FS2048 Gain = 2 // ±2.048 V, reset value
	FS1024 Gain = 3 // ±1.024 V
	FS512  Gain = 4 // ±0.512 V
	FS256  Gain = 5 // ±0.256 V (6 and 7 are the same)
)

// fullScale is the range of each Gain in µV (section 9.3.3, table 1).
var fullScale = [...]int64{6144000, 4096000, 2048000, 1024000, 512000, 256000}

// DataRate is the DR[2:0] field of the config register (table 8).
type DataRate uint8

// Data rates in samples per second.
const (
	SPS8   DataRate = 0
	SPS16  DataRate = 1
	SPS32  DataRate = 2
	SPS64  DataRate = 3
	SPS128 DataRate = 4 // reset value
	SPS250 DataRate = 5
	SPS475 DataRate = 6
	SPS860 DataRate = 7
)

var rates = [...]int{8, 16, 32, 64, 128, 250, 475, 860}

// Registers (section 9.6, table 6) and config fields (table 8).
const (
	regConversion = 0x00
	regConfig     = 0x01

	cfgOS         = 1 << 15 // write: start a single conversion; read: 1 = not converting
	cfgModeSingle = 1 << 8  // single-shot / power-down
	cfgCompQueOff = 0x3     // COMP_QUE 11: comparator disabled, ALERT/RDY high impedance

	maxPolls = 10
)

// sleep is the time seam: tests replace it.
var sleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Mux is the input converted.
	Mux Mux
	// Gain is the full-scale range. Pick the smallest one that holds the signal.
	Gain Gain
	// Rate is the data rate: slower rates average more and are less noisy.
	Rate DataRate
	// StuckAfter reports ErrStuck when the code is identical this many Samples in a row; 0 disables
	// the check. Off by default: a grounded or saturated input legitimately repeats its code.
	StuckAfter int
}

// DefaultOpts converts AIN0 against ground on the ±4.096 V range (a 3.3 V signal fits) at the reset
// rate of 128 SPS.
var DefaultOpts = Opts{Mux: AIN0, Gain: FS4096, Rate: SPS128}

// Dev is an ADS1115 on an I²C bus that reports one voltage, scaled to a value in any unit when
// opened with NewWithOptions (kind analog). Its methods follow sensor.Sensor's call order.
type Dev struct {
	d        i2c.Dev
	name     string
	opts     Opts
	channels []sensor.Channel
	start    [3]byte // config write that starts a conversion
	wait     time.Duration
	poll     time.Duration
	reg      [1]byte
	buf      [2]byte
	last     int16
	same     int
	// value = volts·scale + offset; outside min..max is ErrRange unless both are 0.
	scale, offset float64
	min, max      float64
}

// New opens the ADS1115 at addr (0x48..0x4B) converting the input opts selects. It reads the config
// register to check that the part answers. opts nil means DefaultOpts.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	d, err := newDev(bus, addr, opts)
	if err != nil {
		return nil, err
	}
	d.name = fmt.Sprintf("ads1115(%s@%#x)", bus, addr)
	d.channels = []sensor.Channel{{Name: "voltage", Unit: "V"}}
	d.scale = 1
	return d, nil
}

// conversionWait is how long a single-shot conversion at r takes at most: 1/DR plus the ±10 %
// oscillator tolerance (electrical characteristics).
func conversionWait(r DataRate) time.Duration {
	return time.Second / time.Duration(rates[r]) * 11 / 10
}

func newDev(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr < 0x48 || addr > 0x4B {
		return nil, fmt.Errorf("ads1115: address %#x is not 0x48..0x4B (datasheet table 4: set by the ADDR pin)", addr)
	}
	if opts.Mux > AIN3 || opts.Gain > FS256 || opts.Rate > SPS860 {
		return nil, fmt.Errorf("ads1115: Opts mux %d, gain %d, rate %d: each must be one of the package's constants", opts.Mux, opts.Gain, opts.Rate)
	}
	if opts.StuckAfter < 0 {
		return nil, fmt.Errorf("ads1115: Opts.StuckAfter %d is negative: use 0 to disable", opts.StuckAfter)
	}
	d := &Dev{d: i2c.Dev{Bus: bus, Addr: addr}, opts: *opts}
	cfg := Config(opts)
	d.start = [3]byte{regConfig, byte(cfg >> 8), byte(cfg)}
	period := time.Second / time.Duration(rates[opts.Rate])
	d.wait = conversionWait(opts.Rate)
	d.poll = max(period/10, 100*time.Microsecond)
	d.reg[0] = regConfig
	if err := d.d.Tx(d.reg[:], d.buf[:]); err != nil {
		return nil, sensor.BusErr("ads1115", "read config", err)
	}
	return d, nil
}

// Config returns the config register value that starts a single-shot conversion with opts: OS set,
// single-shot mode, comparator disabled (table 8). Config(&Opts{Diff01, FS2048, SPS128, 0}) is the
// reset value 0x8583.
func Config(opts *Opts) uint16 {
	return cfgOS | uint16(opts.Mux&7)<<12 | uint16(opts.Gain&7)<<9 | cfgModeSingle | uint16(opts.Rate&7)<<5 | cfgCompQueOff
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor: "voltage" in V from New, the configured name and unit from
// NewWithOptions.
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// Sample implements sensor.Sensor: one conversion, scaled.
func (d *Dev) Sample(_ time.Time, dst []float64) error {
	code, err := d.convert()
	if err != nil {
		return err
	}
	v := Volts(code, d.opts.Gain)*d.scale + d.offset
	if (d.min != 0 || d.max != 0) && (v < d.min || v > d.max) {
		return errImplausible
	}
	dst[0] = v
	return nil
}

// Read converts once and returns the voltage.
func (d *Dev) Read() (physic.ElectricPotential, error) {
	code, err := d.convert()
	if err != nil {
		return 0, err
	}
	return physic.ElectricPotential(int64(code)*fullScale[d.opts.Gain]/32768) * physic.MicroVolt, nil
}

// Halt implements sensor.Sensor. The part powers down after each single-shot conversion.
func (d *Dev) Halt() error { return nil }

// Volts converts a conversion register code at gain g: one LSB is the full-scale range / 2^15
// (section 9.3.3, table 1: 125 µV at ±4.096 V).
func Volts(code int16, g Gain) float64 {
	return float64(code) * float64(fullScale[g]) / 32768 / 1e6
}

// convert runs one single-shot conversion and returns the code.
func (d *Dev) convert() (int16, error) {
	if err := d.d.Tx(d.start[:], nil); err != nil {
		return 0, sensor.BusErr("ads1115", "start conversion", err)
	}
	sleep(d.wait)
	d.reg[0] = regConfig
	for i := 0; ; i++ {
		if err := d.d.Tx(d.reg[:], d.buf[:]); err != nil {
			return 0, sensor.BusErr("ads1115", "poll config", err)
		}
		if d.buf[0]&(cfgOS>>8) != 0 {
			break
		}
		if i == maxPolls {
			return 0, errTimeout
		}
		sleep(d.poll)
	}
	d.reg[0] = regConversion
	if err := d.d.Tx(d.reg[:], d.buf[:]); err != nil {
		return 0, sensor.BusErr("ads1115", "read conversion", err)
	}
	code := int16(uint16(d.buf[0])<<8 | uint16(d.buf[1]))
	if d.opts.StuckAfter > 0 {
		if code == d.last {
			d.same++
		} else {
			d.last, d.same = code, 1
		}
		if d.same >= d.opts.StuckAfter {
			return 0, errStuck
		}
	}
	// Table 3: 0x7FFF is +FS or above, 0x8000 is -FS or below.
	if code == 0x7FFF || code == -0x8000 {
		return 0, errClipped
	}
	return code, nil
}

// Errors returned on hot paths are built once so a failing Sample does not allocate.
var (
	errTimeout     = fmt.Errorf("ads1115: poll config: conversion not done after %d polls: %w", maxPolls, sensor.ErrTimeout)
	errStuck       = fmt.Errorf("ads1115: read conversion: code unchanged: %w", sensor.ErrStuck)
	errClipped     = fmt.Errorf("ads1115: read conversion: input at or beyond full scale: %w", sensor.ErrRange)
	errImplausible = fmt.Errorf("ads1115: scaled value outside the configured min..max: %w", sensor.ErrRange)
)

var _ sensor.Sensor = (*Dev)(nil)
