package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Drivers lists the driver names the simulated board can stand in for.
func Drivers() []string {
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BusKind returns the kind of bus driver's part sits on: "i2c", "uart" or "gpio" ("sim" for a load
// part); "" for an unknown driver.
func BusKind(driver string) string {
	if p, ok := lookup(driver); ok {
		return p.bus
	}
	return ""
}

// Spec says which simulated part to open and where.
type Spec struct {
	Seed uint64
	// Name is the configured sensor name: with Seed it picks the model's stream.
	Name   string
	Driver string
	// Bus and Address place an I²C part; Address 0 is the part's usual address.
	Bus     *Bus
	Address uint16
	// Port names the UART or GPIO line of other parts, for String.
	Port     string
	Interval time.Duration
	// Pins are a GPIO part's lines (Port is the first).
	Pins []string
	// Options are the driver's decoded options (registry), nil when it takes none.
	Options sensor.Options
	// Line is the emulated RS-485 line a Modbus part shares with the other slaves of its UART; nil
	// gives the part a line of its own.
	Line *RS485
}

// Sensor is a simulated part: the real driver on an emulated bus, port or pin, whose physical state
// Sample sets from the model first.
type Sensor struct {
	dev      sensor.Sensor
	part     *part
	key      uint64
	interval time.Duration
	in       []float64
	stim     func(ms int64, in []float64, ok bool) error
	close    func()
	detach   func()
	// model returns the model's quantity at ms; tests replace it to drive a part out of range.
	model func(kind Kind, ms int64) (float64, bool)
}

// Open attaches the emulated part for spec and opens the real driver on it.
func Open(spec Spec) (*Sensor, error) {
	p, ok := lookup(spec.Driver)
	if !ok {
		return nil, fmt.Errorf("sim: no simulated %q; the sim board has %s", spec.Driver, strings.Join(append(Drivers(), Loads()...), ", "))
	}
	o := &opened{spec: spec, bus: spec.Bus, addr: spec.Address}
	if p.bus == "i2c" {
		if o.bus == nil {
			return nil, fmt.Errorf("sim: sensor %s: %s is an I2C part and needs an I2C bus", spec.Name, spec.Driver)
		}
		if o.addr == 0 {
			o.addr = p.addr
		}
	}
	o.model = func(kind Kind, ms int64) (float64, bool) {
		return value(key(spec.Seed, spec.Name), kind, ms, spec.Interval)
	}
	err := p.open(o)
	detach := func() {}
	if o.attached {
		detach = func() { o.bus.detach(o.addr) }
	}
	if err != nil {
		if o.close != nil {
			o.close()
		}
		detach()
		return nil, fmt.Errorf("sim: open sensor %s: %w", spec.Name, err)
	}
	k := key(spec.Seed, spec.Name)
	s := &Sensor{dev: o.dev, part: p, key: k, interval: spec.Interval, in: make([]float64, len(p.in)),
		stim: o.stim, close: o.close, detach: detach}
	s.model = func(kind Kind, ms int64) (float64, bool) { return value(k, kind, ms, s.interval) }
	o.model = func(kind Kind, ms int64) (float64, bool) { return s.model(kind, ms) }
	return s, nil
}

// NewSensor opens the simulated stand-in for driver on a bus, port or pin of its own, for the
// sensor configured as name, sampled every interval.
func NewSensor(seed uint64, name, driver string, interval time.Duration) (*Sensor, error) {
	return Open(Spec{Seed: seed, Name: name, Driver: driver, Bus: NewBus("sim"), Port: "sim", Interval: interval})
}

// String implements sensor.Sensor: the driver's name, "bme280(i2c1@0x76)".
func (s *Sensor) String() string { return s.dev.String() }

// Channels implements sensor.Sensor: the driver's.
func (s *Sensor) Channels() []sensor.Channel { return s.dev.Channels() }

// Sample implements sensor.Sensor: it sets the emulated part to the model's state at at, truncated
// to the millisecond, and samples the driver.
func (s *Sensor) Sample(at time.Time, dst []float64) error {
	ms := at.UnixMilli()
	ok := true
	for i, kind := range s.part.in {
		v, good := s.model(kind, ms)
		s.in[i], ok = v, ok && good
	}
	if err := s.stim(ms, s.in, ok); err != nil {
		return fmt.Errorf("sim: %s: feed the emulated part: %w: %w", s.dev, sensor.ErrBus, err)
	}
	return s.dev.Sample(at, dst)
}

// Halt implements sensor.Sensor: it closes an emulated port (the board's part on hardware), halts
// the driver and takes the part off its bus.
func (s *Sensor) Halt() error {
	if s.close != nil {
		s.close()
	}
	err := s.dev.Halt()
	s.detach()
	return err
}

// Checked reports whether a live reading of driver's channel on the sim board equals what Expected
// says, for a sensor with the driver's default options (Expected knows no others: a radar set to
// km/h rounds its speeds in km/h). Interval aggregates that depend on history or on the real time between samples (a loop
// detector's occupancy and headway) are not: Expected gives their value for the nominal interval.
func Checked(driver, channel string) bool {
	p, ok := lookup(driver)
	return ok && !p.unchecked[channel] && (p.only == nil || p.only[channel])
}

// Expected returns what the simulated sensor name (driver, sampled every interval, under seed)
// reports for channel at ms, and false when it reports nothing then. It computes the model's state
// at ms and puts it through a separate emulator and the driver's own conversions, so it is exactly
// what the sim board's Sample returns, and differs from the model by the part's resolution.
func Expected(seed uint64, name, driver, channel string, ms int64, interval time.Duration) (float64, bool) {
	p, ok := lookup(driver)
	if !ok {
		return 0, false
	}
	idx := -1
	for i, c := range p.chans {
		if c.Name == channel {
			idx = i
		}
	}
	if idx < 0 {
		return 0, false
	}
	if p.expectAt != nil {
		out := make([]float64, len(p.chans))
		model := func(kind Kind, ms int64) (float64, bool) { return value(key(seed, name), kind, ms, interval) }
		if err := p.expectAt(key(seed, name), model, out, ms, interval); err != nil {
			return 0, false
		}
		return out[idx], true
	}
	out, ok := expectAll(p, key(seed, name), ms, interval)
	if !ok {
		return 0, false
	}
	return out[idx], true
}

func expectAll(p *part, k uint64, ms int64, interval time.Duration) ([]float64, bool) {
	in := make([]float64, len(p.in))
	for i, kind := range p.in {
		v, ok := value(k, kind, ms, interval)
		if !ok {
			return nil, false
		}
		in[i] = v
	}
	out := make([]float64, len(p.chans))
	if err := p.expect(in, out, ms, interval); err != nil {
		return nil, false
	}
	return out, true
}

var _ sensor.Sensor = (*Sensor)(nil)

// SetAmbientPressure passes a live ambient pressure to a driver that takes one (sensor.PressureSink).
func (s *Sensor) SetAmbientPressure(pa float64) error {
	if p, ok := s.dev.(sensor.PressureSink); ok {
		return p.SetAmbientPressure(pa)
	}
	return fmt.Errorf("sim: %s takes no ambient pressure", s.dev)
}

// ScanLine scans the emulated line of a driver that sits on one (sensor.LineScanner), and finds
// nothing for any other.
func (s *Sensor) ScanLine(first, last int, timeout time.Duration, stop <-chan struct{}) []sensor.LineAnswer {
	if l, ok := s.dev.(sensor.LineScanner); ok {
		return l.ScanLine(first, last, timeout, stop)
	}
	return nil
}
