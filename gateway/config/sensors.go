package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/ident"
)

// Sensor is one configured sensor.
type Sensor struct {
	Name    string   `yaml:"name"`
	Driver  string   `yaml:"driver"`
	Bus     string   `yaml:"bus"`
	Address uint16   `yaml:"address"`
	Pin     string   `yaml:"pin"`
	Pins    []string `yaml:"pins"` // further GPIO lines, for a driver that takes several
	// Options is the driver's mapping as written; Opts is it decoded over the driver's defaults and
	// validated (nil for a driver that takes no options).
	Options  yaml.Node      `yaml:"options"`
	Opts     sensor.Options `yaml:"-"`
	Interval Duration       `yaml:"interval"`
	// Phase moves when the sensor is sampled relative to its grid slot (whole multiples of Interval on
	// the wall clock), without moving the time its readings are stamped with: -800ms starts a part
	// whose measurement takes 800 ms before the slot; 250ms keeps a part off a shared bus at the slot.
	// Its magnitude must be below Interval. Default 0.
	Phase Duration `yaml:"phase"`
}

// SimOnlyDrivers lists the drivers only the sim board has: load parts for benchmarks (boards/sim
// Loads). A configuration for any other board that names one is refused.
var SimOnlyDrivers = map[string]bool{"synthetic": true}

func driverNames() string { return strings.Join(registry.Names(), ", ") }

// validateSensors checks the sensors section: each sensor (validateSensor), the UARTs they share and
// the sensors their options name.
func (c *Config) validateSensors(v *problems, knownBus BusChecker) {
	if len(c.Sensors) == 0 {
		v.add("sensors", "none configured; add at least one sensor (see configs/example.yaml)")
	}
	seen := map[string]int{}
	for i := range c.Sensors {
		c.validateSensor(v, i, knownBus, seen)
	}
	v.errs = append(v.errs, c.checkSharedUARTs()...)
	for i, s := range c.Sensors { // pressure_from names another configured sensor
		src, ok := s.Opts.(sensor.PressureSourced)
		if !ok || src.AmbientPressureFrom() == "" {
			continue
		}
		name, _, _ := strings.Cut(src.AmbientPressureFrom(), "/")
		if j, ok := seen[name]; !ok || j == i {
			v.add(fmt.Sprintf("sensors[%d].options.pressure_from", i), "%q names no other sensor of this configuration; use <sensor>/<channel> of a pressure sensor such as a bme280 (env1/pressure)", src.AmbientPressureFrom())
		}
	}
}

// validateSensor checks sensors[i]: its name (recorded in seen, by which earlier ones are told
// apart), driver, interval and phase, options, bus, address and pins.
func (c *Config) validateSensor(v *problems, i int, knownBus BusChecker, seen map[string]int) {
	s := c.Sensors[i]
	p := fmt.Sprintf("sensors[%d]", i)
	if s.Name == "" {
		v.add(p+".name", "missing; give the sensor a short name such as env1 (it appears in SenML names)")
	} else if !ident.Valid(s.Name) || strings.ContainsAny(s.Name, "/") {
		v.add(p+".name", "%q is not valid: use letters, digits, '-', '_' or '.'", s.Name)
	} else if j, dup := seen[s.Name]; dup {
		v.add(p+".name", "%q is already used by sensors[%d]; names must be unique", s.Name, j)
	} else {
		seen[s.Name] = i
	}
	d, ok := registry.Lookup(s.Driver)
	if SimOnlyDrivers[s.Driver] && c.Gateway.Board == "sim" {
		d, ok = &registry.Driver{Name: s.Driver, Bus: "sim"}, true
	} else if SimOnlyDrivers[s.Driver] {
		v.add(p+".driver", "%s is a benchmark load only the sim board has; set gateway.board: sim, or use a real driver: %s", s.Driver, driverNames())
		return
	}
	if !ok {
		v.add(p+".driver", "unknown driver %q; valid: %s", s.Driver, driverNames())
		return
	}
	if s.Interval.D() < 10*time.Millisecond || s.Interval.D() > 24*time.Hour {
		v.add(p+".interval", "%v is not valid; set a duration between 10ms and 24h, e.g. 1s", s.Interval.D())
	} else if ph := s.Phase.D(); ph <= -s.Interval.D() || ph >= s.Interval.D() {
		v.add(p+".phase", "%v is not within the interval %v; set a phase between -%v and %v (exclusive), e.g. -800ms to start a part that takes 800 ms to measure before its grid slot, or leave it out for 0",
			ph, s.Interval.D(), s.Interval.D(), s.Interval.D())
	}
	v.errs = append(v.errs, c.checkOptions(i, d)...)
	if s.Bus == "" {
		v.add(p+".bus", "missing; driver %s needs a %s bus name from the board profile", s.Driver, d.Bus)
	} else if knownBus != nil && c.Gateway.Board != "" {
		if ok, valid := knownBus(c.Gateway.Board, string(d.Bus), s.Bus); !ok && valid != nil {
			v.add(p+".bus", "board %s has no %s bus %q; valid: %s", c.Gateway.Board, d.Bus, s.Bus, strings.Join(valid, ", "))
		}
	}
	switch d.Bus {
	case "i2c":
		if s.Address < 0x08 || s.Address > 0x77 {
			v.add(p+".address", "0x%02x is not a 7-bit I2C device address; use 0x08..0x77 (default for %s is 0x%02x)", s.Address, s.Driver, d.Addr)
		}
		if s.Pin != "" || len(s.Pins) > 0 {
			v.add(p+".pin", "not used by I2C driver %s; remove it", s.Driver)
		}
	case "gpio":
		c.checkPins(i, d, knownBus, v.add)
		fallthrough
	default:
		if s.Address != 0 {
			v.add(p+".address", "not used by %s driver %s; remove it", d.Bus, s.Driver)
		}
		if d.Bus != registry.GPIO && (s.Pin != "" || len(s.Pins) > 0) {
			v.add(p+".pin", "not used by %s driver %s; remove it", d.Bus, s.Driver)
		}
	}
}
