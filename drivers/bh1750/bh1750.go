package bh1750

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Mode is a one-time measurement mode (datasheet instruction set architecture table).
type Mode uint8

// resolution is the mode's resolution in lx (datasheet page 2 and the mode table on page 5: 1 lx,
// 0.5 lx, 4 lx at the default MTreg), the step the illuminance is sent at.
func (m Mode) resolution() float64 {
	switch m {
	case HighRes2:
		return 0.5
	case LowRes:
		return 4
	}
	return 1
}

// One-time measurement modes.
const (
	HighRes  Mode = 0x20 // 1 lx resolution
	HighRes2 Mode = 0x21 // 0.5 lx resolution
	LowRes   Mode = 0x23 // 4 lx resolution
)

// Opcodes (instruction set architecture table).
const (
	opPowerOn = 0x01
	opReset   = 0x07
	// Change measurement time: 01000_MT[7:5] and 011_MT[4:0]. Reset does not restore the register,
	// so New always writes it (as Linux's bh1750 driver does).
	opMTregHigh = 0x40
	opMTregLow  = 0x60
)

// Measurement time register ("adjust measurement result for influence of optical window"): 31..254,
// 69 at power-up. Sensitivity, and the H-resolution measurement time, scale with MTreg/69.
const (
	MTMin     = 31
	MTDefault = 69
	MTMax     = 254
)

// Maximum measurement times (electrical characteristics).
const (
	maxHighRes = 180 * time.Millisecond
	maxLowRes  = 24 * time.Millisecond
)

// sleep is the time seam: tests replace it.
var sleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Mode is the one-time measurement mode; HighRes is opcode 0x20.
	Mode Mode
	// StuckAfter reports ErrStuck when the count is identical this many Samples in a row; 0
	// disables the check. Off by default: at night the count is legitimately 0 for hours.
	StuckAfter int
	// MTreg is the measurement time register, MTMin..MTMax; 0 means MTDefault. Values other than 69
	// are for the H-resolution modes only.
	MTreg uint8
}

// DefaultOpts measures in one-time H-resolution mode without stuck detection.
var DefaultOpts = Opts{Mode: HighRes}

// Dev is a BH1750 on an I²C bus. Its methods follow sensor.Sensor's call order.
type Dev struct {
	d        i2c.Dev
	name     string
	opts     Opts
	channels []sensor.Channel
	on       [1]byte
	mode     [1]byte
	wait     time.Duration
	divisor  float64
	raw      [2]byte
	last     uint16
	same     int
}

// New opens the BH1750 at addr (0x23 or 0x5C): it powers the part on, resets its data register, which
// proves that something answers there, and sets the measurement time register to its default, 69,
// which the conversion assumes and a reset does not restore. opts nil means DefaultOpts.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	if addr != 0x23 && addr != 0x5C {
		return nil, fmt.Errorf("bh1750: address %#x is not 0x23 or 0x5C (set by the ADDR pin)", addr)
	}
	if opts.StuckAfter < 0 {
		return nil, fmt.Errorf("bh1750: Opts.StuckAfter %d is negative: use 0 to disable", opts.StuckAfter)
	}
	mt := opts.MTreg
	if mt == 0 {
		mt = MTDefault
	}
	if mt < MTMin || mt > MTMax || (opts.Mode == LowRes && mt != MTDefault) {
		return nil, fmt.Errorf("bh1750: Opts.MTreg %d is not 31..254 (69 in L-resolution mode)", mt)
	}
	d := &Dev{
		d:        i2c.Dev{Bus: bus, Addr: addr},
		name:     fmt.Sprintf("bh1750(%s@%#x)", bus, addr),
		opts:     *opts,
		channels: []sensor.Channel{{Name: "illuminance", Unit: "lx", Resolution: opts.Mode.resolution()}},
		on:       [1]byte{opPowerOn},
		mode:     [1]byte{byte(opts.Mode)},
	}
	// Counts per lx: 1.2 * MTreg/69, twice that in H-resolution mode 2; the H-resolution
	// measurement time scales with MTreg/69 too (datasheet, optical window section).
	scale := float64(mt) / MTDefault
	switch opts.Mode {
	case HighRes:
		d.wait, d.divisor = MeasurementTime(mt), 1.2*scale
	case HighRes2:
		d.wait, d.divisor = MeasurementTime(mt), 2.4*scale
	case LowRes:
		d.wait, d.divisor = maxLowRes, 1.2
	default:
		return nil, fmt.Errorf("bh1750: Opts.Mode %#x is not HighRes, HighRes2 or LowRes", byte(opts.Mode))
	}
	if err := d.d.Tx(d.on[:], nil); err != nil {
		return nil, sensor.BusErr("bh1750", "power on", err)
	}
	if err := d.d.Tx([]byte{opReset}, nil); err != nil {
		return nil, sensor.BusErr("bh1750", "reset", err)
	}
	// A previous program may have changed the measurement time, which scales every count.
	if err := d.d.Tx([]byte{opMTregHigh | mt>>5}, nil); err != nil {
		return nil, sensor.BusErr("bh1750", "set measurement time", err)
	}
	if err := d.d.Tx([]byte{opMTregLow | mt&0x1F}, nil); err != nil {
		return nil, sensor.BusErr("bh1750", "set measurement time", err)
	}
	return d, nil
}

// MeasurementTime is the H-resolution modes' maximum measurement time for MTreg mt: 180 ms at 69,
// scaled by mt/69 and rounded up to the millisecond (81 ms at 31, 663 ms at 254).
func MeasurementTime(mt uint8) time.Duration {
	ms := (int64(maxHighRes/time.Millisecond)*int64(mt) + MTDefault - 1) / MTDefault
	return time.Duration(ms) * time.Millisecond
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// Channels implements sensor.Sensor: illuminance in lx.
func (d *Dev) Channels() []sensor.Channel { return d.channels }

// Sample implements sensor.Sensor.
func (d *Dev) Sample(_ time.Time, dst []float64) error {
	lx, err := d.Lux()
	if err != nil {
		return err
	}
	dst[0] = lx
	return nil
}

// Lux measures once and returns the illuminance. (periph's physic has no illuminance unit.)
func (d *Dev) Lux() (float64, error) {
	if err := d.d.Tx(d.on[:], nil); err != nil {
		return 0, sensor.BusErr("bh1750", "power on", err)
	}
	if err := d.d.Tx(d.mode[:], nil); err != nil {
		return 0, sensor.BusErr("bh1750", "start measurement", err)
	}
	sleep(d.wait)
	if err := d.d.Tx(nil, d.raw[:]); err != nil {
		return 0, sensor.BusErr("bh1750", "read measurement", err)
	}
	count := uint16(d.raw[0])<<8 | uint16(d.raw[1])
	if d.opts.StuckAfter > 0 {
		if count == d.last {
			d.same++
		} else {
			d.last, d.same = count, 1
		}
		if d.same >= d.opts.StuckAfter {
			return 0, errStuck
		}
	}
	if count == 0xFFFF {
		return 0, errSaturated
	}
	return float64(count) / d.divisor, nil
}

// Halt implements sensor.Sensor. The part powers down after each one-time measurement.
func (d *Dev) Halt() error { return nil }

// Errors returned on hot paths are built once so a failing Sample does not allocate.
var (
	errStuck     = fmt.Errorf("bh1750: read measurement: count unchanged: %w", sensor.ErrStuck)
	errSaturated = fmt.Errorf("bh1750: read measurement: count saturated at 0xFFFF: %w", sensor.ErrRange)
)

var _ sensor.Sensor = (*Dev)(nil)
