package ads1115

import (
	"errors"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// SEN0232 calibration at ±4.096 V (125 µV per code): dB = 30 + (V - 0.6)·50, so
// 60 dB = 1.2 V = code 9600 and 70 dB = 1.4 V = code 11200.
const (
	code60dB = 9600
	code70dB = 11200
)

// noSleepAsync replaces the sleep seam for a goroutine's conversions; call it before opening the
// meter so the meter's Halt (registered later) runs before the seam is restored.
func noSleepAsync(t *testing.T) {
	old := sleep
	sleep = func(time.Duration) {}
	t.Cleanup(func() { sleep = old })
}

// openStepped opens a stepped noise meter on a playback of the probe and ops.
func openStepped(t *testing.T, o *Options, ops ...i2ctest.IO) (*NoiseMeter, *i2ctest.Playback) {
	t.Helper()
	noSleepAsync(t)
	bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{probe}, ops...), DontPanic: true}
	m, err := NewStepped(bus, 0x48, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Halt() })
	return m, bus
}

func steps(t *testing.T, m *NoiseMeter, n int) {
	t.Helper()
	for range n {
		if err := m.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNoiseInterval(t *testing.T) {
	var ops []i2ctest.IO
	for _, c := range []uint16{code60dB, code70dB, code70dB, code60dB, 16800} { // 16800 = 2.1 V = 105 dB
		ops = append(ops, convOps(c)...)
	}
	m, bus := openStepped(t, nil, ops...)
	if m.String() != "noise-ads1115(playback@0x48)" {
		t.Errorf("name %q", m)
	}
	if ch := m.Channels(); len(ch) != 6 || ch[0] != (sensor.Channel{Name: "laeq", Unit: "dB", Resolution: 0.1}) || ch[5] != (sensor.Channel{Name: "samples", Unit: "count", Resolution: 1}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 6)
	// No fast sample yet: nothing to report, not a fault.
	if err := m.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("empty interval: %v", err)
	}
	steps(t, m, 4)
	if err := m.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	// Two fast samples at 60 dB and two at 70 dB: LAeq = 10·log10((10^6 + 10^7)/2) = 67.40 dB;
	// LAmax 70, LAmin 60; L10: rank ceil(0.9·4) = 4 → 70; L90: rank ceil(0.1·4) = 1 → 60; 4 samples.
	want := []float64{67.4036, 70, 60, 70, 60, 4}
	for i := range want {
		near(t, NoiseChannels[i].Name, dst[i], want[i], 5e-5)
	}
	// The next interval starts empty: one sample at 105 dB is all of it.
	steps(t, m, 1)
	if err := m.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{105, 105, 105, 105, 105, 1} {
		near(t, NoiseChannels[i].Name, dst[i], w, 1e-9)
	}
	if err := m.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := m.Step(); err == nil {
		t.Error("Step after Halt succeeded")
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoiseCalibrationOffset(t *testing.T) {
	o := DefaultOptions
	o.CalibrationDB = -1.5 // the meter reads 1.5 dB high against a class 1 calibrator
	m, _ := openStepped(t, &o, append(convOps(code60dB), convOps(code70dB)...)...)
	steps(t, m, 2)
	dst := make([]float64, 6)
	if err := m.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	// Every level 1.5 dB lower: 10·log10((10^5.85 + 10^6.85)/2) = 67.4036 - 1.5 = 65.9036 dB.
	for i, w := range []float64{65.9036, 68.5, 58.5, 68.5, 58.5, 2} {
		near(t, NoiseChannels[i].Name, dst[i], w, 5e-5)
	}
}

func TestNoiseFailures(t *testing.T) {
	// 0 V: an unplugged meter, below 30 dB - 3; 3.0 V (24000) is 150 dB, above 130 + 3.
	ops := append(convOps(0), convOps(24000)...)
	ops = append(ops, convOps(code60dB)...)
	ops = append(ops, convOps(0)...)
	ops = append(ops, convOps(0)[:2]...) // conversion register read NACKed (end of script)
	m, _ := openStepped(t, nil, ops...)
	dst := make([]float64, 6)
	steps(t, m, 2)
	if err := m.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("interval of out-of-range samples: %v", err)
	}
	// One good sample among failures: the interval reports it.
	steps(t, m, 2)
	if err := m.Sample(time.Time{}, dst); err != nil || dst[5] != 1 || dst[0] != 60 {
		t.Errorf("one good of two: %v %v", dst, err)
	}
	// The part stops answering: the interval's last error, a bus error, so health sees it.
	steps(t, m, 1)
	if err := m.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}
	// The error is the interval's: the next, empty one is no data.
	if err := m.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("after the failing interval: %v", err)
	}
}

func TestNoiseStuck(t *testing.T) {
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, convOps(code60dB)...)
	}
	o := DefaultOptions
	o.StuckAfter = 3
	m, _ := openStepped(t, &o, ops...)
	steps(t, m, 3)
	dst := make([]float64, 6)
	// Two good samples, the third identical one is an error: the interval still reports the two.
	if err := m.Sample(time.Time{}, dst); err != nil || dst[5] != 2 {
		t.Errorf("got %v, %v", dst, err)
	}
}

// TestNoiseTicker runs the driver's own fast loop on a ticker the test drives.
func TestNoiseTicker(t *testing.T) {
	ticks := make(chan time.Time)
	var period time.Duration
	var stopped sync.WaitGroup
	stopped.Add(1)
	old := newTicker
	newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		period = d
		return ticks, stopped.Done
	}
	t.Cleanup(func() { newTicker = old })
	noSleepAsync(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, convOps(code70dB)...)
	}
	bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{probe}, ops...), DontPanic: true}
	s, err := NewWithOptions(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := s.(*NoiseMeter)
	if period != 125*time.Millisecond {
		t.Errorf("fast period %s, want 125ms (IEC 61672-1 Fast)", period)
	}
	for range 3 {
		ticks <- time.Time{}
	}
	drivertest.WaitFor(t, "three fast samples", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.levels.N() == 3
	})
	dst := make([]float64, 6)
	if err := m.Sample(time.Time{}, dst); err != nil || dst[0] != 70 || dst[5] != 3 {
		t.Errorf("got %v, %v", dst, err)
	}
	done := make(chan struct{})
	go func() { m.Halt(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Halt did not return")
	}
	stopped.Wait() // the ticker was stopped
	if err := m.Halt(); err != nil {
		t.Errorf("second Halt: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoiseDoesNotAllocate(t *testing.T) {
	var ops []i2ctest.IO
	for i := range 2 * 202 {
		ops = append(ops, convOps(code60dB+uint16(i%50))...)
	}
	m, _ := openStepped(t, nil, ops...)
	dst := make([]float64, 6)
	// Per fast sample: the conversion on the meter's goroutine and the Add.
	if n := testing.AllocsPerRun(200, func() {
		if err := m.Step(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a fast sample allocates %v times", n)
	}
	// Per Sample: the aggregate and the reset.
	if n := testing.AllocsPerRun(100, func() {
		if err := m.Step(); err != nil {
			t.Fatal(err)
		}
		if err := m.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Sample allocates %v times", n)
	}
}

func TestNewNoiseMeterCompat(t *testing.T) {
	noSleepAsync(t)
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{probe}, DontPanic: true}
	m, err := NewNoiseMeter(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Halt()
	near(t, "DB(1.6 V)", m.DB(1.6), 80, 1e-9)
	if _, err := NewNoiseMeter(bus, 0x48, &NoiseOpts{ADC: DefaultOpts, LowDB: 30, VoltsAtLow: 1, HighDB: 130, VoltsAtHigh: 1}); err == nil {
		t.Error("zero span accepted")
	}
	if _, err := NewNoiseMeter(bus, 0x48, &NoiseOpts{ADC: Opts{Mux: AIN0, Gain: FS4096, Rate: SPS8}, LowDB: 30, VoltsAtLow: 0.6, HighDB: 130, VoltsAtHigh: 2.6}); err == nil {
		t.Error("8 SPS (137.5 ms a conversion) accepted for 125 ms fast samples")
	}
}
