package ads1115emu

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/ads1115"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestDriverThroughEmulator(t *testing.T) {
	e := New(0x49)
	d, err := ads1115.New(e, 0x49, &ads1115.Opts{Mux: ads1115.AIN2, Gain: ads1115.FS2048, Rate: ads1115.SPS860})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	for _, v := range []float64{0, 0.001, 1.2345, 2.04} {
		e.Set(2, v)
		e.Set(0, 3.3) // another input: must not matter
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		if math.Abs(dst[0]-v) > 62.5e-6/2+1e-12 { // half an LSB at ±2.048 V
			t.Errorf("set %v V, decoded %v", v, dst[0])
		}
	}
	e.Set(2, 2.5) // beyond ±2.048 V
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("over range: %v", err)
	}
}

func TestDifferential(t *testing.T) {
	e := New(0x48)
	d, err := ads1115.New(e, 0x48, &ads1115.Opts{Mux: ads1115.Diff13, Gain: ads1115.FS512, Rate: ads1115.SPS128})
	if err != nil {
		t.Fatal(err)
	}
	e.Set(1, 1.10)
	e.Set(3, 1.35)
	v, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(); math.Abs(float64(v)/1e9+0.25) > 15.625e-6/2+1e-9 {
		t.Errorf("AIN1-AIN3 = %s, want -250mV", got)
	}
}

// TestNoiseThroughEmulator: the sim board's way of driving kind noise. Per interval, one Step
// per fast sample with the emulator set to that sample's level; Sample then reports the
// aggregate.
func TestNoiseThroughEmulator(t *testing.T) {
	e := New(0x48)
	o := ads1115.DefaultOptions
	m, err := ads1115.NewStepped(e, 0x48, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Halt()
	pos, neg := o.Inputs()
	dst := make([]float64, 6)
	// Eight fast samples (1 s at 125 ms): four at 60 dB, four at 70 dB. LAeq = 10·log10((10^6 +
	// 10^7)/2) = 67.40 dB; L10: rank ceil(0.9·8) = 8 → 70; L90: rank ceil(0.8) = 1 → 60.
	for _, db := range []float64{60, 70, 60, 70, 60, 70, 60, 70} {
		e.SetPair(pos, neg, o.InputVolts(db))
		if err := m.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	// Half an LSB (62.5 µV at ±4.096 V) is 0.003 dB.
	for i, want := range []float64{67.4036, 70, 60, 70, 60, 8} {
		if math.Abs(dst[i]-want) > 0.004 {
			t.Errorf("%s = %v, want %v", ads1115.NoiseChannels[i].Name, dst[i], want)
		}
	}
	if e.Conversions() != 8 {
		t.Errorf("%d conversions", e.Conversions())
	}
	// Out of the meter's range: the interval's error.
	e.SetPair(pos, neg, o.InputVolts(140))
	if err := m.Step(); err != nil {
		t.Fatal(err)
	}
	if err := m.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("140 dB: %v", err)
	}
}

// TestNoiseOwnTicker runs the real fast loop (a 10 ms ticker) against the emulator, with another
// goroutine using the same bus for a second ADS1115 input, as a board with two sensors on one
// bus does.
func TestNoiseOwnTicker(t *testing.T) {
	e, other := New(0x48), New(0x49)
	bus := &shared{parts: map[uint16]*Emu{0x48: e, 0x49: other}}
	o := ads1115.DefaultOptions
	o.Fast = 10 * time.Millisecond
	e.SetPair(0, -1, o.InputVolts(65))
	other.SetPair(1, -1, 1.25)
	s, err := ads1115.NewWithOptions(bus, 0x48, &o)
	if err != nil {
		t.Fatal(err)
	}
	volts, err := ads1115.New(bus, 0x49, &ads1115.Opts{Mux: ads1115.AIN1, Gain: ads1115.FS2048, Rate: ads1115.SPS860})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 6)
	deadline := time.Now().Add(5 * time.Second)
	for {
		for range 10 { // the other device's conversions interleave with the fast loop's
			v := make([]float64, 1)
			if err := volts.Sample(time.Time{}, v); err != nil || math.Abs(v[0]-1.25) > 62.5e-6 {
				t.Fatalf("other device: %v %v", v, err)
			}
			time.Sleep(3 * time.Millisecond)
		}
		err := s.Sample(time.Time{}, dst)
		if err == nil && dst[5] > 0 {
			break
		}
		if err != nil && !errors.Is(err, sensor.ErrNoData) || time.Now().After(deadline) {
			t.Fatalf("no fast samples: %v %v", dst, err)
		}
	}
	if math.Abs(dst[0]-65) > 0.004 || math.Abs(dst[3]-65) > 0.05 {
		t.Errorf("steady 65 dB: %v", dst)
	}
	start := time.Now()
	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Halt took %s", el)
	}
	n := e.Conversions()
	time.Sleep(30 * time.Millisecond)
	if e.Conversions() != n {
		t.Error("conversions after Halt")
	}
}

// shared is a bus with two emulated parts, safe for concurrent use as host/v3's sysfs I2C is
// (each Tx is one I2C_RDWR ioctl under the bus's mutex); here each Emu locks itself.
type shared struct{ parts map[uint16]*Emu }

func (b *shared) String() string                  { return "shared" }
func (b *shared) SetSpeed(physic.Frequency) error { return nil }
func (b *shared) Tx(addr uint16, w, r []byte) error {
	if p, ok := b.parts[addr]; ok {
		return p.Tx(addr, w, r)
	}
	return errors.New("NACK")
}

// TestAnalogThroughEmulator: the 4-20 mA level transmitter (250 Ω shunt, 1..5 V for 0..10 m) set
// through SetPair and InputVolts.
func TestAnalogThroughEmulator(t *testing.T) {
	e := New(0x4B)
	o := ads1115.DefaultOptions
	o.Kind, o.Channel, o.Gain, o.Name, o.Unit = ads1115.KindAnalog, "ain3", 6.144, "level", "m"
	o.InLow, o.InHigh, o.OutLow, o.OutHigh = 1, 5, 0, 10
	s, err := ads1115.NewWithOptions(e, 0x4B, &o)
	if err != nil {
		t.Fatal(err)
	}
	pos, neg := o.Inputs()
	dst := make([]float64, 1)
	for _, m := range []float64{0, 2.5, 5, 9.99} {
		e.SetPair(pos, neg, o.InputVolts(m))
		if err := s.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		// Half an LSB at ±6.144 V (93.75 µV) is 0.23 mm.
		if math.Abs(dst[0]-m) > 0.00024 {
			t.Errorf("set %v m, read %v", m, dst[0])
		}
	}
	if e.Conversions() != 4 {
		t.Errorf("%d conversions", e.Conversions())
	}
}
