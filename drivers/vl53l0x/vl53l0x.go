package vl53l0x

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// MaxRange is the datasheet's longest range (long range profile); shorter readings are trusted,
// longer ones other than the no-target codes are reported as sensor.ErrRange.
const MaxRange = 2 * physic.Metre

// pollEvery is the interval between RESULT_INTERRUPT_STATUS polls. A measurement with the default
// ~30 ms timing budget takes about 6 polls.
const pollEvery = 5 * time.Millisecond

// sleep is the time seam; tests replace it.
var sleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// OccupiedBelow: a distance below it makes the bay occupied.
	OccupiedBelow physic.Distance
	// FreeAbove: a distance above it makes the bay free. Between the two the state holds.
	FreeAbove physic.Distance
	// Confirm is how many consecutive samples beyond the far side of the band it takes to change
	// the state; 1 changes on the first.
	Confirm int
	// NoTarget is the distance a no-target reading stands for (a ground sensor under an empty bay
	// sees nothing); 0 makes Sample return sensor.ErrNoData for it instead.
	NoTarget physic.Distance
	// StuckAfter reports sensor.ErrStuck after this many consecutive identical result blocks; 0
	// disables the check.
	StuckAfter int
	// InvalidAfter reports sensor.ErrRange after this many consecutive measurements without a valid
	// range (a range status the chip gives no distance for, or a range error): one now and then is
	// noise (sensor.ErrNoData), a run of them a fogged or dirty cover. 0 disables the check.
	InvalidAfter int
	// Timeout bounds a measurement, reference calibrations included.
	Timeout time.Duration
	// IO2V8 sets the I/O pads to 2.8 V (Pololu and Adafruit boards); false keeps 1.8 V.
	IO2V8 bool
}

// DefaultOpts suits a sensor in the ground under the bay looking up: a car's underside is 0.1-0.5
// m away, an empty bay shows no target.
var DefaultOpts = Opts{
	OccupiedBelow: 800 * physic.MilliMetre,
	FreeAbove:     1200 * physic.MilliMetre,
	Confirm:       2,
	NoTarget:      MaxRange,
	StuckAfter:    10,
	InvalidAfter:  30,
	Timeout:       100 * time.Millisecond,
	IO2V8:         true,
}

// Dev is a VL53L0X.
type Dev struct {
	c    i2c.Dev
	opts Opts
	name string

	stopVariable byte
	polls        int // Polls per measurement, from Opts.Timeout.

	w    [3]byte  // Write buffer.
	r    [1]byte  // One-register read buffer.
	res  [12]byte // Result block.
	prev [12]byte // Previous result block, for stuck detection.
	same int      // Consecutive identical result blocks.
	bad  int      // Consecutive measurements without a valid range.

	dist     physic.Distance
	known    bool // Occupancy decided.
	occupied bool
	streak   int // Consecutive samples beyond the far side of the band.
}

// New checks the chip at addr on bus, initialises it and returns a Dev ready to Sample. The driver
// does not own the bus.
func New(bus i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("vl53l0x: nil bus")
	}
	// 7-bit addresses outside the reserved ranges; the address can be moved from 0x29 with
	// I2C_SLAVE_DEVICE_ADDRESS (0x8A), which this driver does not do.
	if addr < 0x08 || addr > 0x77 {
		return nil, fmt.Errorf("vl53l0x: address %#x is not a 7-bit I²C device address; the default is 0x29", addr)
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.OccupiedBelow <= 0 || o.FreeAbove < o.OccupiedBelow || o.FreeAbove > MaxRange {
		return nil, fmt.Errorf("vl53l0x: need 0 < OccupiedBelow (%s) <= FreeAbove (%s) <= %s", o.OccupiedBelow, o.FreeAbove, MaxRange)
	}
	if o.Confirm < 1 || o.StuckAfter < 0 || o.NoTarget < 0 {
		return nil, errors.New("vl53l0x: Confirm must be at least 1, StuckAfter and NoTarget not negative")
	}
	if o.Timeout < pollEvery {
		return nil, fmt.Errorf("vl53l0x: Timeout %s below the %s poll interval; a measurement takes about 30ms", o.Timeout, pollEvery)
	}
	d := &Dev{
		c:     i2c.Dev{Bus: bus, Addr: addr},
		opts:  o,
		name:  fmt.Sprintf("vl53l0x(%s@%#x)", bus, addr),
		polls: int(o.Timeout / pollEvery),
	}
	if err := d.init(); err != nil {
		return nil, err
	}
	return d, nil
}

// String implements sensor.Sensor.
func (d *Dev) String() string { return d.name }

// The range is reported in millimetres (datasheet section 2.5, the result register's mm count):
// distance at 0.001 m; occupancy is 0 or 1.
var channels = []sensor.Channel{
	{Name: "distance", Unit: "m", Resolution: 0.001},
	{Name: "occupied", Unit: "/", Resolution: 1},
}

// Channels implements sensor.Sensor: distance in metres and occupancy, 1 or 0.
func (d *Dev) Channels() []sensor.Channel { return channels }

var (
	errNoTarget   = fmt.Errorf("vl53l0x: no target in range: %w", sensor.ErrNoData)
	errTimeout    = fmt.Errorf("vl53l0x: measurement not ready in time: %w", sensor.ErrTimeout)
	errStuck      = fmt.Errorf("vl53l0x: identical result block repeated: %w", sensor.ErrStuck)
	errTooClose   = fmt.Errorf("vl53l0x: target too close, below the minimum range (ST range status 3, min range fail): %w", sensor.ErrNoData)
	errHardware   = fmt.Errorf("vl53l0x: chip reports a hardware or VCSEL failure: %w", sensor.ErrRange)
	errInvalid    = fmt.Errorf("vl53l0x: no valid range this time (range status other than 11): %w", sensor.ErrNoData)
	errRangeError = fmt.Errorf("vl53l0x: interrupt status reports a range error: %w", sensor.ErrNoData)
	errNoValid    = fmt.Errorf("vl53l0x: no valid range for Opts.InvalidAfter measurements in a row (cover fogged or dirty?): %w", sensor.ErrRange)
	errTooFar     = fmt.Errorf("vl53l0x: distance beyond %s: %w", MaxRange, sensor.ErrRange)
	errShortDst   = errors.New("vl53l0x: dst shorter than Channels()")
)

// Sample implements sensor.Sensor: one single-shot measurement, then the occupancy update.
func (d *Dev) Sample(at time.Time, dst []float64) error {
	if len(dst) < len(channels) {
		return errShortDst
	}
	dist, err := d.Measure()
	if err != nil {
		return err
	}
	d.update(dist)
	dst[0] = float64(dist) / float64(physic.Metre)
	dst[1] = 0
	if d.occupied {
		dst[1] = 1
	}
	return nil
}

// Distance returns the last distance measured by Sample or Measure.
func (d *Dev) Distance() physic.Distance { return d.dist }

// Measure runs one single-shot measurement and returns the distance, Opts.NoTarget for no target.
// It does not update the occupancy.
func (d *Dev) Measure() (physic.Distance, error) {
	// PerformSingleRangingMeasurement -> StartMeasurement: restore the stop variable through the
	// private page, then start.
	if err := d.writeRegs(regPowerManagement, 0x01, regPageSelect, 0x01, regSysrangeStart, 0x00); err != nil {
		return 0, sensor.BusErr("vl53l0x", "open private page", err)
	}
	if err := d.writeRegs(regStopVariable, d.stopVariable, regSysrangeStart, 0x01, regPageSelect, 0x00); err != nil {
		return 0, sensor.BusErr("vl53l0x", "write stop variable", err)
	}
	if err := d.writeRegs(regPowerManagement, 0x00, regSysrangeStart, 0x01); err != nil {
		return 0, sensor.BusErr("vl53l0x", "start ranging", err)
	}
	// The start bit clears when ranging has begun (ST's StartMeasurement, Pololu's
	// readRangeSingleMillimeters): before that, the interrupt status may still be the last one's.
	left := d.polls // one budget, Opts.Timeout, for the start and the measurement
	for {
		v, err := d.readReg(regSysrangeStart)
		if err != nil {
			return 0, sensor.BusErr("vl53l0x", "wait for ranging to start", err)
		}
		if v&0x01 == 0 {
			break
		}
		if left <= 0 {
			return 0, errTimeout
		}
		left--
		sleep(pollEvery)
	}
	if err := d.wait(&left); err != nil {
		if err == errRangeError {
			return 0, d.invalid(err)
		}
		return 0, err
	}
	// GetRangingMeasurementData reads the 12-byte block from RESULT_RANGE_STATUS.
	d.w[0] = regResultRangeStatus
	if err := d.c.Tx(d.w[:1], d.res[:]); err != nil {
		return 0, sensor.BusErr("vl53l0x", "read result", err)
	}
	if err := d.writeReg(regSystemInterruptClear, 0x01); err != nil {
		return 0, sensor.BusErr("vl53l0x", "clear interrupt", err)
	}
	if d.res == d.prev {
		d.same++
	} else {
		d.same = 0
		d.prev = d.res
	}
	if d.opts.StuckAfter > 0 && d.same >= d.opts.StuckAfter {
		return 0, errStuck
	}
	mm := uint16(d.res[10])<<8 | uint16(d.res[11])
	noTarget := mm >= noTargetMM
	switch (d.res[0] & 0x78) >> 3 {
	case statusValid:
	case 1, 2, 3: // VCSEL continuity, VCSEL watchdog, VHV: hardware failures.
		return 0, errHardware
	case 4, 6, 9: // Signal fail, phase out of bounds: nothing to range.
		noTarget = true
	case 8, 10:
		// TCC and MinClip: ST's VL53L0X_get_pal_range_status reports both as range status 3, "Min
		// Range Fail" (VL53L0X_GetRangeStatusString): the target is nearer than the part can range
		// (something on the cover, a tyre over a ground sensor). No distance, but the part works:
		// no data, not a fault, and not counted towards InvalidAfter (a run of it is not a dirty
		// cover). The occupancy holds its state.
		return 0, errTooClose
	default:
		// 0 (no update), 5 (SNR), 7 (sigma), 12-15 (algorithm under/overflow, range ignore
		// threshold): ST's API reports no range for these, and their millimetres are not a distance.
		// Not "nothing there" either: a parking bay's occupancy must not flip on one noisy reading.
		return 0, d.invalid(errInvalid)
	}
	d.bad = 0
	if noTarget {
		if d.opts.NoTarget == 0 {
			return 0, errNoTarget
		}
		d.dist = d.opts.NoTarget
		return d.dist, nil
	}
	dist := physic.Distance(mm) * physic.MilliMetre
	if dist > MaxRange {
		return 0, errTooFar
	}
	d.dist = dist
	return dist, nil
}

// Halt implements sensor.Sensor. Single-shot mode leaves nothing running between samples.
func (d *Dev) Halt() error { return nil }

// wait polls RESULT_INTERRUPT_STATUS until a measurement is ready, taking its polls from *left (the
// measurement's share of Opts.Timeout).
func (d *Dev) wait(left *int) error {
	for ; *left > 0; *left-- {
		sleep(pollEvery)
		v, err := d.readReg(regResultInterruptStatus)
		if err != nil {
			return sensor.BusErr("vl53l0x", "poll interrupt status", err)
		}
		if v&0x18 != 0 {
			// Range error bits (ST's GetInterruptMaskStatus): clear, so the next start begins clean.
			if err := d.writeReg(regSystemInterruptClear, 0x01); err != nil {
				return sensor.BusErr("vl53l0x", "clear interrupt", err)
			}
			return errRangeError
		}
		if v&0x07 != 0 {
			return nil
		}
	}
	return errTimeout
}

var _ sensor.Sensor = (*Dev)(nil)

// invalid counts a measurement without a valid range and returns err, or errNoValid once there have
// been Opts.InvalidAfter in a row.
func (d *Dev) invalid(err error) error {
	d.bad++
	if d.opts.InvalidAfter > 0 && d.bad >= d.opts.InvalidAfter {
		return errNoValid
	}
	return err
}
