package sim

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// open opens driver for the test and halts it at the end.
func open(t *testing.T, driver string, interval time.Duration) *Sensor {
	t.Helper()
	s, err := NewSensor(7, "s-"+driver, driver, interval)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Halt(); err != nil {
			t.Errorf("halt: %v", err)
		}
	})
	return s
}

// TestRealDrivers samples every simulated part through its real driver at times across a day and
// checks each reading against Expected, which must also differ from the raw model only within the
// part's resolution.
func TestRealDrivers(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			interval := 500 * time.Millisecond
			s := open(t, driver, interval)
			p := parts[driver]
			// The part names the channels; the resolutions are the driver's own.
			if !slices.EqualFunc(s.Channels(), p.chans, func(a, b sensor.Channel) bool { return a.Name == b.Name && a.Unit == b.Unit }) {
				t.Fatalf("channels %v, the driver has %v", p.chans, s.Channels())
			}
			dst := make([]float64, len(s.Channels()))
			good, none := 0, 0
			for i := 0; i < 48; i++ {
				at := t0.Add(time.Duration(i)*30*time.Minute + time.Duration(i)*7*time.Millisecond)
				ms := at.UnixMilli()
				err := s.Sample(at, dst)
				for j, c := range s.Channels() {
					want, ok := Expected(7, "s-"+driver, driver, c.Name, ms, interval)
					if err != nil {
						if ok || !errors.Is(err, sensor.ErrNoData) {
							t.Fatalf("%s: Sample: %v; Expected %v %v", at, err, want, ok)
						}
						continue
					}
					if !Checked(driver, c.Name) {
						continue // an aggregate of the real time since the previous sample
					}
					if !ok || want != dst[j] {
						t.Fatalf("%s %s: Sample %v, Expected %v (ok %v)", at, c.Name, dst[j], want, ok)
					}
				}
				if err != nil {
					none++
				} else {
					good++
				}
			}
			if good < 30 {
				t.Fatalf("%d good samples of 48 (%d no data)", good, none)
			}
		})
	}
}

// TestResolution checks that Expected stays within each part's resolution of the model.
func TestResolution(t *testing.T) {
	t.Parallel()
	res := map[Kind]float64{
		Temperature: 0.02, Humidity: 0.05, Pressure: 0.5, CO2: 0, PM1: 0, PM25: 0, PM10: 0,
		Noise: 0.01, Illuminance: 2, Speed: 1e-9, Latitude: 2e-6, Longitude: 2e-6, Altitude: 1e-9,
		FixQuality: 0, Satellites: 0, Vehicles: 0, Distance: 0.001, Occupied: 0,
	}
	t0 := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC).UnixMilli()
	for _, driver := range Drivers() {
		p := parts[driver]
		if p.expectAt != nil {
			continue // an interval aggregate, not the model at one time
		}
		k := key(7, "r")
		for i := int64(0); i < 60; i++ {
			ms := t0 + i*1_431_111
			out, ok := expectAll(p, k, ms, 2*time.Second)
			if !ok {
				continue
			}
			for j, kind := range p.in {
				if j >= len(out) {
					break
				}
				ci := j
				if driver == "bme280" { // in: T, P, H; out: T, H, P
					ci = []int{0, 2, 1}[j]
				}
				m, _ := value(k, kind, ms, 2*time.Second)
				if kind == Distance && m > 2 {
					m = 2 // no target: the driver's NoTarget distance
				}
				if d := math.Abs(out[ci] - m); d > res[kind]+1e-9 {
					t.Errorf("%s %v at %d: driver %v, model %v", driver, kind, ms, out[ci], m)
				}
			}
		}
	}
}

// TestOutOfRange drives each part's emulator beyond what the part measures: the driver reports a
// range error, which the gateway's health records as a fault, never a value.
func TestOutOfRange(t *testing.T) {
	cases := []struct {
		driver string
		kind   Kind
		v      float64
	}{
		{"bme280", Temperature, 90},  // above 85 °C
		{"bmp280", Pressure, 20000},  // below 300 hPa
		{"sht4x", Temperature, 130},  // above 125 °C
		{"scd4x", CO2, 45000},        // above 40000 ppm
		{"ads1115", Noise, 140},      // above the meter's 130 dB (+3)
		{"bh1750", Illuminance, 6e4}, // count saturates at 0xFFFF
		{"pms5003", PM10, 6000},      // above the 5000 µg/m³ plausibility bound
	}
	for _, c := range cases {
		t.Run(c.driver, func(t *testing.T) {
			s := open(t, c.driver, time.Second)
			model := s.model
			s.model = func(kind Kind, ms int64) (float64, bool) {
				if kind == c.kind {
					return c.v, true
				}
				return model(kind, ms)
			}
			var h sensor.Health
			at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
			err := s.Sample(at, make([]float64, len(s.Channels())))
			if !errors.Is(err, sensor.ErrRange) {
				t.Fatalf("Sample: %v, want a range error", err)
			}
			if _, to := h.Record(err, at); to != sensor.StateDegraded || h.Snapshot().ErrorsByKind[4] != 1 {
				t.Fatalf("health %v %+v", to, h.Snapshot())
			}
			s.model = model // and back: the next sample is good again
			if err := s.Sample(at.Add(time.Second), make([]float64, len(s.Channels()))); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// TestBus checks the emulated bus: a NACK where no part sits, one part per address, and the
// address free again after Halt.
func TestBus(t *testing.T) {
	bus := NewBus("i2c9")
	if err := bus.Tx(0x76, []byte{0xD0}, make([]byte, 1)); err == nil {
		t.Fatal("empty bus answered")
	}
	spec := Spec{Seed: 1, Name: "a", Driver: "bme280", Bus: bus, Interval: time.Second}
	a, err := Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != "bme280(i2c9@0x76)" {
		t.Errorf("String %q", a.String())
	}
	spec.Name, spec.Driver = "b", "bmp280"
	if _, err := Open(spec); err == nil || !strings.Contains(err.Error(), "0x76 is taken by sensor a (bme280)") {
		t.Fatalf("second part at 0x76: %v", err)
	}
	spec.Address = 0x77
	b, err := Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != "bmp280(i2c9@0x77)" || len(b.Channels()) != 2 {
		t.Errorf("BMP280: %s %v", b, b.Channels())
	}
	if err := a.Halt(); err != nil {
		t.Fatal(err)
	}
	spec.Name, spec.Driver, spec.Address = "c", "bme280", 0
	c, err := Open(spec)
	if err != nil {
		t.Fatalf("0x76 after Halt: %v", err)
	}
	c.Halt()
	b.Halt()
	if _, err := Open(Spec{Name: "d", Driver: "sht4x"}); err == nil {
		t.Error("I2C part without a bus opened")
	}
	if _, err := Open(Spec{Name: "d", Driver: "bme680"}); err == nil || !strings.Contains(err.Error(), "bme280, bmp280") {
		t.Errorf("unknown driver: %v", err)
	}
}

// TestHaltUART checks that halting a UART part ends its reader at once (the emulated port closes)
// and that the pulse counter counts exactly the model's edges.
func TestHaltUART(t *testing.T) {
	for _, d := range []string{"pms5003", "ops243", "nmea", "pulse"} {
		s, err := NewSensor(3, "h", d, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.Halt(); err != nil {
			t.Errorf("%s: halt: %v", d, err)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("%s: halt took %v", d, el)
		}
		if err := s.Sample(time.Now(), make([]float64, len(s.Channels()))); err == nil && d != "pulse" {
			t.Errorf("%s: sample after halt succeeded", d)
		}
	}
}

// TestSampleDoesNotAllocate: feeding the emulated part is free, like the drivers' Sample.
func TestSampleDoesNotAllocate(t *testing.T) {
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			if driver == "ops243" || driver == "pulse" {
				// Their emulators print report lines and build edge timelines per sample; the
				// drivers' own tests assert that reading them allocates nothing.
				t.Skip("the emulated radar and loops allocate to feed the driver")
			}
			if driver == "modbus" {
				// The emulated slave builds each answer, and net.Pipe's read deadlines start a
				// timer each; the driver's tests assert 0 allocations on a port without them.
				t.Skip("the emulated Modbus line allocates to answer the driver")
			}
			s := open(t, driver, 100*time.Millisecond)
			dst := make([]float64, len(s.Channels()))
			at := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
			if n := testing.AllocsPerRun(10, func() {
				at = at.Add(100 * time.Millisecond)
				if err := s.Sample(at, dst); err != nil && !errors.Is(err, sensor.ErrNoData) {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Sample allocates %v times", n)
			}
		})
	}
}

// TestPartsMatchRegistry: the sim board stands in for every driver the registry lists, and for no
// other (load parts aside), on the registry's bus kind.
func TestPartsMatchRegistry(t *testing.T) {
	for _, d := range registry.All() {
		p, ok := parts[d.Name]
		if !ok {
			t.Errorf("registry driver %s has no simulated part", d.Name)
			continue
		}
		if p.bus != string(d.Bus) || p.addr != d.Addr {
			t.Errorf("part %s: bus %q addr %#x, registry says %q %#x", d.Name, p.bus, p.addr, d.Bus, d.Addr)
		}
	}
	for name := range parts {
		if _, ok := registry.Lookup(name); !ok {
			t.Errorf("simulated part %s has no driver in the registry", name)
		}
	}
}
