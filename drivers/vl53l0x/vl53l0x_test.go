package vl53l0x

import (
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

const addr = 0x29

func init() {
	// Polling sleeps are not needed against a script.
	sleep = func(time.Duration) {}
}

// w is a register write, r a register read returning v.
func w(reg byte, v ...byte) i2ctest.IO { return i2ctest.IO{Addr: addr, W: append([]byte{reg}, v...)} }
func r(reg byte, v ...byte) i2ctest.IO { return i2ctest.IO{Addr: addr, W: []byte{reg}, R: v} }

// stopVar is what the script's chip answers for the stop variable.
const stopVar = 0x3C

// initOps is New's traffic with DefaultOpts (IO2V8), each reference calibration finishing on its
// second poll.
func initOps() []i2ctest.IO {
	return []i2ctest.IO{
		r(0xC0, 0xEE),       // IDENTIFICATION_MODEL_ID: VL53L0X.
		r(0x89, 0x00),       // VHV_CONFIG_PAD_SCL_SDA__EXTSUP_HV
		w(0x89, 0x01),       // 2.8 V I/O.
		w(0x88, 0x00),       // Standard I²C mode.
		w(0x80, 0x01),       // Private page open...
		w(0xFF, 0x01),       //
		w(0x00, 0x00),       //
		r(0x91, stopVar),    // ...stop variable...
		w(0x00, 0x01),       //
		w(0xFF, 0x00),       //
		w(0x80, 0x00),       // ...private page closed.
		r(0x60, 0x00),       // MSRC_CONFIG_CONTROL
		w(0x60, 0x12),       // MSRC and pre-range limit checks off.
		w(0x44, 0x00, 0x20), // Final range signal rate limit 0.25 MCPS.
		w(0x0A, 0x04),       // Interrupt on new sample ready.
		r(0x84, 0x11),       // GPIO_HV_MUX_ACTIVE_HIGH
		w(0x84, 0x01),       // Active low.
		w(0x0B, 0x01),       // Clear interrupt.
		w(0x01, 0xE8),       // Sequence: DSS, pre-range, final range.
		w(0x01, 0x01),       // VHV calibration: sequence...
		w(0x00, 0x41),       // ...start with VHV init byte...
		r(0x13, 0x00),       // ...not ready...
		r(0x13, 0x04),       // ...ready...
		w(0x0B, 0x01),       // ...clear...
		w(0x00, 0x00),       // ...stop.
		w(0x01, 0x02),       // Phase calibration: sequence...
		w(0x00, 0x01),       // ...start...
		r(0x13, 0x00),       // ...not ready...
		r(0x13, 0x04),       // ...ready...
		w(0x0B, 0x01),       // ...clear...
		w(0x00, 0x00),       // ...stop.
		w(0x01, 0xE8),       // Default sequence again.
	}
}

// startOps is the start of a single-shot measurement.
func startOps() []i2ctest.IO {
	return []i2ctest.IO{
		w(0x80, 0x01),    // Private page open...
		w(0xFF, 0x01),    //
		w(0x00, 0x00),    //
		w(0x91, stopVar), // ...stop variable written back...
		w(0x00, 0x01),    //
		w(0xFF, 0x00),    //
		w(0x80, 0x00),    // ...private page closed.
		w(0x00, 0x01),    // SYSRANGE_START: single shot.
		r(0x00, 0x00),    // Start bit clear: ranging has begun.
	}
}

// result is the 12-byte block at RESULT_RANGE_STATUS: status byte, SPAD count, signal and ambient
// rates (seed makes blocks differ like on a live chip) and the range in mm at 0x1E.
func result(status byte, mm uint16, seed byte) []byte {
	return []byte{status, 0x00, 0x03, 0x10 + seed, 0x00, 0x00, 0x01, 0x20 + seed, 0x00, 0x40, byte(mm >> 8), byte(mm)}
}

const valid = 11 << 3 // Range status 11: valid.

// measureOps is one complete measurement answering mm, ready on the first poll.
func measureOps(status byte, mm uint16, seed byte) []i2ctest.IO {
	return append(startOps(),
		r(0x13, 0x04),                        // RESULT_INTERRUPT_STATUS: new sample ready.
		r(0x14, result(status, mm, seed)...), // Result block.
		w(0x0B, 0x01),                        // Clear interrupt.
	)
}

func script(parts ...[]i2ctest.IO) []i2ctest.IO {
	var ops []i2ctest.IO
	for _, p := range parts {
		ops = append(ops, p...)
	}
	return ops
}

func TestInit(t *testing.T) {
	bus := &i2ctest.Playback{Ops: initOps()}
	d, err := New(bus, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "vl53l0x(playback@0x29)" || d.stopVariable != stopVar {
		t.Error(d, d.stopVariable)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWrongChip(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{r(0xC0, 0xEA)}} // VL53L1X's id.
	if _, err := New(bus, addr, nil); !errors.Is(err, sensor.ErrFrame) || !strings.Contains(err.Error(), "0xea") {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	for _, a := range []uint16{0, 0x07, 0x78, 0x3FF} {
		if _, err := New(bus, a, nil); err == nil {
			t.Errorf("address %#x accepted", a)
		}
	}
	for _, o := range []Opts{
		{OccupiedBelow: 0, FreeAbove: physic.Metre, Confirm: 1, Timeout: time.Second},
		{OccupiedBelow: physic.Metre, FreeAbove: 500 * physic.MilliMetre, Confirm: 1, Timeout: time.Second},
		{OccupiedBelow: physic.Metre, FreeAbove: 3 * physic.Metre, Confirm: 1, Timeout: time.Second},
		{OccupiedBelow: physic.Metre, FreeAbove: physic.Metre, Confirm: 0, Timeout: time.Second},
		{OccupiedBelow: physic.Metre, FreeAbove: physic.Metre, Confirm: 1, Timeout: time.Millisecond},
	} {
		if _, err := New(bus, addr, &o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := New(nil, addr, nil); err == nil {
		t.Error("nil bus accepted")
	}
	if bus.Count != 0 {
		t.Error("bus used before validation")
	}
}

func TestSample(t *testing.T) {
	o := DefaultOpts
	o.Confirm = 1
	bus := &i2ctest.Playback{Ops: script(
		initOps(),
		// Measurement 1: start, two polls before ready, 312 mm.
		startOps(),
		[]i2ctest.IO{
			r(0x13, 0x00),                     // Not ready.
			r(0x13, 0x00),                     // Not ready.
			r(0x13, 0x04),                     // Ready.
			r(0x14, result(valid, 312, 1)...), // 312 mm.
			w(0x0B, 0x01),                     // Clear interrupt.
		},
		measureOps(valid, 1000, 2),   // Inside the band: still occupied.
		measureOps(valid, 1500, 3),   // Above FreeAbove: free.
		measureOps(valid, 900, 4),    // Inside the band: still free.
		measureOps(valid, 8190, 5),   // No target: NoTarget (2 m), free.
		measureOps(6<<3|0x06, 20, 6), // Phase fail status: no target too.
	)}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	for i, want := range [][2]float64{{0.312, 1}, {1, 1}, {1.5, 0}, {0.9, 0}, {2, 0}, {2, 0}} {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if dst[0] != want[0] || dst[1] != want[1] {
			t.Errorf("sample %d: %v, want %v", i, dst, want)
		}
	}
	if d.Distance() != MaxRange || d.Occupied() {
		t.Error(d.Distance(), d.Occupied())
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoTargetNoData(t *testing.T) {
	o := DefaultOpts
	o.NoTarget = 0
	bus := &i2ctest.Playback{Ops: script(initOps(),
		measureOps(valid, 8191, 1), // No target.
		measureOps(4<<3, 0, 2),     // Signal fail.
		measureOps(valid, 2500, 3), // Beyond the 2 m maximum, not a no-target code.
		measureOps(8<<3, 10, 4),    // Minimum range fail (TCC): too close, no data.
		measureOps(1<<3, 100, 5),   // VCSEL continuity failure.
		measureOps(0<<3, 4, 6),     // No update: 4 mm is not a distance.
		measureOps(7<<3, 600, 7),   // Sigma fail.
		measureOps(13<<3, 3, 8),    // Algorithm overflow.
	)}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	for i, want := range []error{sensor.ErrNoData, sensor.ErrNoData, sensor.ErrRange, sensor.ErrNoData, sensor.ErrRange,
		sensor.ErrNoData, sensor.ErrNoData, sensor.ErrNoData} {
		if err := d.Sample(time.Time{}, dst); !errors.Is(err, want) {
			t.Errorf("sample %d: %v, want %v", i, err, want)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMeasureWaitsAndRangeError: a start bit that takes a poll to clear is waited for, and an
// interrupt status with the range error bits set is no valid range this time, cleared so that the next
// measurement starts clean.
func TestMeasureWaitsAndRangeError(t *testing.T) {
	start := startOps()
	start = append(start[:len(start)-1], r(0x00, 0x01), r(0x00, 0x00)) // still set once, then clear
	bus := &i2ctest.Playback{Ops: script(initOps(),
		start,
		[]i2ctest.IO{
			r(0x13, 0x14), // New sample ready, with a range error.
			w(0x0B, 0x01), // Cleared.
		},
		measureOps(valid, 640, 1),
	)}
	d, err := New(bus, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("range error: %v", err)
	}
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 0.64 {
		t.Fatalf("next measurement: %v %v", dst, err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHysteresisConfirm(t *testing.T) {
	o := DefaultOpts // 0.8 m / 1.2 m, Confirm 2.
	ops := initOps()
	dists := []uint16{1500, 700, 1500, 700, 700, 1000, 1300, 1100, 1300, 1300}
	for i, mm := range dists {
		ops = append(ops, measureOps(valid, mm, byte(i))...)
	}
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	// 1500 decides free at once; one 700 is not enough; a 1500 resets the streak; two 700s
	// occupy; 1000 is in the band; 1300 then 1100 (band) resets; two 1300s free.
	want := []float64{0, 0, 0, 0, 1, 1, 1, 1, 1, 0}
	dst := make([]float64, 2)
	for i := range dists {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		if dst[1] != want[i] {
			t.Errorf("sample %d (%d mm): occupied %v, want %v", i, dists[i], dst[1], want[i])
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFirstSampleInBand(t *testing.T) {
	for _, tc := range []struct {
		mm   uint16
		want bool
	}{{900, true}, {1100, false}} {
		bus := &i2ctest.Playback{Ops: script(initOps(), measureOps(valid, tc.mm, 0))}
		d, err := New(bus, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sample(time.Time{}, make([]float64, 2)); err != nil || d.Occupied() != tc.want {
			t.Errorf("%d mm: %v occupied %v", tc.mm, err, d.Occupied())
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimeout(t *testing.T) {
	o := DefaultOpts
	o.Timeout = 3 * pollEvery // 3 polls.
	var slept time.Duration
	sleep = func(d time.Duration) { slept += d }
	defer func() { sleep = func(time.Duration) {} }()
	bus := &i2ctest.Playback{Ops: script(initOps(), // Calibrations ready on their 2nd poll.
		startOps(),
		[]i2ctest.IO{
			r(0x13, 0x00), // Not ready.
			r(0x13, 0x00), // Not ready.
			r(0x13, 0x00), // Not ready: give up.
		},
		measureOps(valid, 500, 1), // The next Sample works again.
	)}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	slept = 0
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("%v", err)
	}
	if slept != o.Timeout {
		t.Errorf("slept %s, want %s", slept, o.Timeout)
	}
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 0.5 {
		t.Fatal(err, dst)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCalibrationTimeout(t *testing.T) {
	o := DefaultOpts
	o.Timeout = pollEvery // 1 poll.
	bus := &i2ctest.Playback{Ops: script(initOps()[:21], []i2ctest.IO{
		r(0x13, 0x00), // Not ready: give up...
		w(0x00, 0x00), // ...and stop the calibration.
	})}
	if _, err := New(bus, addr, &o); !errors.Is(err, sensor.ErrTimeout) || !strings.Contains(err.Error(), "VHV") {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStuck(t *testing.T) {
	o := DefaultOpts
	o.StuckAfter = 3
	ops := initOps()
	// The same block five times: the 4th sample (3rd repeat) is stuck. Then a live block.
	for i := 0; i < 5; i++ {
		ops = append(ops, measureOps(valid, 640, 7)...)
	}
	ops = append(ops, measureOps(valid, 640, 8)...)
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	for i, stuck := range []bool{false, false, false, true, true, false} {
		err := d.Sample(time.Time{}, dst)
		if got := errors.Is(err, sensor.ErrStuck); got != stuck || (!stuck && err != nil) {
			t.Errorf("sample %d: %v, want stuck %v", i, err, stuck)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBusErrors(t *testing.T) {
	full := script(initOps(), measureOps(valid, 400, 1))
	n := len(initOps())
	// Cut the script at every step: New or Sample must fail with ErrBus, never panic or succeed.
	for cut := 0; cut < len(full); cut++ {
		bus := &i2ctest.Playback{Ops: full[:cut], DontPanic: true}
		d, err := New(bus, addr, nil)
		if cut < n {
			if !errors.Is(err, sensor.ErrBus) || !strings.HasPrefix(err.Error(), "vl53l0x: ") {
				t.Errorf("cut %d: New: %v", cut, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := d.Sample(time.Time{}, make([]float64, 2)); !errors.Is(err, sensor.ErrBus) {
			t.Errorf("cut %d: Sample: %v", cut, err)
		}
	}
	// A NACK at the wrong address.
	bus := &i2ctest.Playback{Ops: initOps(), DontPanic: true}
	if _, err := New(bus, 0x30, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("wrong address: %v", err)
	}
}

func TestSampleAllocs(t *testing.T) {
	const runs = 50
	ops := initOps()
	for i := 0; i < runs+1; i++ {
		ops = append(ops, measureOps(valid, uint16(300+i), byte(i))...)
	}
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	if n := testing.AllocsPerRun(runs, func() {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidRun: a few measurements without a valid range are ErrNoData; a run of
// Opts.InvalidAfter of them (a fogged cover) is ErrRange; a valid range ends the run.
func TestInvalidRun(t *testing.T) {
	o := DefaultOpts
	o.InvalidAfter = 3
	bus := &i2ctest.Playback{Ops: script(initOps(),
		measureOps(7<<3, 600, 1), // Sigma fail.
		measureOps(5<<3, 610, 2), // SNR fail.
		measureOps(7<<3, 620, 3), // Sigma fail: the third in a row.
		measureOps(valid, 630, 4),
		measureOps(7<<3, 640, 5), // A new run starts at one.
	)}
	d, err := New(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	for i, want := range []error{sensor.ErrNoData, sensor.ErrNoData, sensor.ErrRange, nil, sensor.ErrNoData} {
		if err := d.Sample(time.Time{}, dst); sensor.Kind(err) != want && !(want == nil && err == nil) {
			t.Errorf("measurement %d: %v, want %v", i, err, want)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTooCloseIsNoData: device range statuses 8 (TCC) and 10 (MinClip) are what ST's
// VL53L0X_get_pal_range_status reports as range status 3, "Min Range Fail" (VL53L0X_GetRangeStatusString):
// a target nearer than the part ranges. That is no data, not a fault: never ErrRange, however long it
// lasts (not counted towards InvalidAfter), and the occupancy holds.
func TestTooCloseIsNoData(t *testing.T) {
	o := DefaultOptions
	o.InvalidAfter, o.Confirm = 3, 1
	ops := script(initOps(), measureOps(valid, 300, 1)) // occupied
	for i := range 6 {
		ops = append(ops, measureOps(byte(8+2*(i%2))<<3, 0, byte(2+i))...) // statuses 8, 10, 8, ...
	}
	ops = append(ops, measureOps(5<<3, 600, 9)...) // SNR: invalid, the first of a run
	bus := &i2ctest.Playback{Ops: ops}
	d, err := NewWithOptions(bus, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[1] != 1 {
		t.Fatalf("first: %v %v", dst, err)
	}
	for i := range 6 {
		err := d.Sample(time.Time{}, dst)
		if !errors.Is(err, sensor.ErrNoData) || sensor.Kind(err) != sensor.ErrNoData {
			t.Errorf("too close %d: %v, want ErrNoData", i, err)
		}
	}
	if !d.Occupied() {
		t.Error("occupancy changed on no data")
	}
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("one invalid after the too-close run: %v, want ErrNoData (the run of 3 starts here)", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
