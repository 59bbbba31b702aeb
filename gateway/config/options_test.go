package config

import (
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/ops243"
	"github.com/wayside-iot/wayside/drivers/pulse"
)

// board2 is board with a second GPIO line for two-loop traps.
func board2(b, kind, name string) (bool, []string) {
	if kind == "gpio-line" && name == "GPIO27" {
		return true, nil
	}
	return board(b, kind, name)
}

func sensorsConfig(sensors string) string {
	return "gateway: {id: gw-1, board: b}\nsensors:\n" + sensors + "cloud: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"
}

// TestSensorOptions: a driver's options are decoded over its defaults; what the file leaves out keeps
// the default.
func TestSensorOptions(t *testing.T) {
	c, err := Parse([]byte(sensorsConfig(`  - name: trap1
    driver: pulse
    bus: gpiochip0
    pin: GPIO17
    pins: [GPIO27]
    interval: 30s
    options: {mode: speed-trap, min_off: 150ms, trap: {spacing: 4.5}}
  - {name: radar1, driver: ops243, bus: uart0, interval: 20s, options: {units: mph, direction: inbound}}
  - {name: env1, driver: bme280, bus: i2c1, interval: 1s}
`)), board2)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.Sensors[0].Opts.(*pulse.Options)
	if !ok {
		t.Fatalf("pulse options decoded as %T", c.Sensors[0].Opts)
	}
	if p.Mode != pulse.ModeSpeedTrap || p.MinOff != 150*time.Millisecond || p.Trap.Spacing != 4.5 ||
		p.MinOn != pulse.DefaultOptions.MinOn || p.Trap.LoopLength != pulse.DefaultOptions.Trap.LoopLength {
		t.Fatalf("pulse options %+v", p)
	}
	if got := c.Sensors[0].PinList(); len(got) != 2 || got[1] != "GPIO27" {
		t.Fatalf("pins %v", got)
	}
	r, ok := c.Sensors[1].Opts.(*ops243.Options)
	if !ok || r.Units != "mph" || r.Direction != "inbound" || r.VehicleGap != ops243.DefaultOptions.VehicleGap {
		t.Fatalf("ops243 options %+v", c.Sensors[1].Opts)
	}
	if c.Sensors[2].Opts == nil {
		t.Fatal("a driver with options and none given gets its defaults")
	}
	if pulse.DefaultOptions.Mode != pulse.ModePresence {
		t.Fatal("decoding changed the driver's defaults")
	}
	if pulse.DefaultOptions.Mode != pulse.ModePresence {
		t.Fatal("decoding changed the driver's defaults")
	}
	if text, err := OptionsText(c.Sensors[1].Opts); err != nil || !strings.Contains(text, "units: mph") || !strings.Contains(text, "vehicle_gap: 300ms") {
		t.Fatalf("effective options text %q %v", text, err)
	}
	// Two Modbus slaves on one line, each with its own register map decoded over the defaults.
	c, err = Parse([]byte(sensorsConfig(`  - {name: m1, driver: modbus, bus: uart0, interval: 5s, options: {baud: 19200, parity: even, registers: [{name: t, unit: Cel, scale: 0.1}]}}
  - {name: m2, driver: modbus, bus: uart0, interval: 5s, options: {baud: 19200, parity: even, slave: 7, registers: [{name: e, unit: kWh, function: input, address: 72, type: f32}]}}
`)), board2)
	if err != nil {
		t.Fatal(err)
	}
	m2, ok := c.Sensors[1].Opts.(*modbus.Options)
	if !ok || m2.Slave != 7 || m2.Baud != 19200 || len(m2.Registers) != 1 || m2.Registers[0].Type != "f32" || m2.Registers[0].Scale != 1 {
		t.Fatalf("modbus options %+v", c.Sensors[1].Opts)
	}
	if len(modbus.DefaultOptions.Registers) != 0 {
		t.Fatal("decoding changed the driver's defaults")
	}
}

// TestBadSensorOptions: each mistake in options is refused with its full path and what is valid.
func TestBadSensorOptions(t *testing.T) {
	for _, tc := range []struct {
		name, sensors string
		want          []string
	}{
		{"unknown key", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1s, options: {min_onn: 20ms}}
`, []string{"sensors[0].options.min_onn", "valid keys here:", "min_on"}},
		{"another driver's option", `  - {name: e, driver: bme280, bus: i2c1, interval: 1s, options: {units: mph}}
`, []string{"sensors[0].options.units", "units is an option of ops243, not of bme280"}},
		{"wrong type", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1s, options: {min_on: fast}}
`, []string{"sensors[0].options.min_on", "a duration such as 125ms"}},
		{"nested wrong type", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1s, options: {trap: {spacing: far}}}
`, []string{"sensors[0].options.trap.spacing"}},
		{"out of range", `  - {name: r, driver: ops243, bus: uart0, interval: 1s, options: {units: furlongs}}
`, []string{"sensors[0].options.units", "valid: m/s, km/h, mph"}},
		{"cross-field rule", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, pins: [GPIO27], interval: 1s, options: {mode: speed-trap}}
`, []string{"sensors[0].options.trap.spacing"}},
		{"not a mapping", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1s, options: [mode]}
`, []string{"sensors[0].options", "want a mapping"}},
		{"trap without its second line", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1s, options: {mode: speed-trap, trap: {spacing: 4}}}
`, []string{"sensors[0].pins", "uses 2 GPIO lines: pin and 1 more in pins"}},
		{"second line on a one-line mode", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, pins: [GPIO27], interval: 1s}
`, []string{"sensors[0].pins", "uses one GPIO line"}},
		{"a line twice", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, pins: [GPIO17], interval: 1s, options: {mode: speed-trap, trap: {spacing: 4}}}
`, []string{"sensors[0].pins[0]", "listed twice"}},
		{"a line the board lacks", `  - {name: l, driver: pulse, bus: gpiochip0, pin: GPIO17, pins: [GPIO99], interval: 1s, options: {mode: speed-trap, trap: {spacing: 4}}}
`, []string{"sensors[0].pins[0]", `no GPIO line "GPIO99"`}},
		{"pins on an I2C part", `  - {name: e, driver: bme280, bus: i2c1, pins: [GPIO27], interval: 1s}
`, []string{"sensors[0].pin", "not used by I2C driver"}},
		{"modbus without a register map", `  - {name: m, driver: modbus, bus: uart0, interval: 5s, options: {slave: 2}}
`, []string{"sensors[0].options.registers", "none; list the channels"}},
		{"modbus register faults", `  - name: m
    driver: modbus
    bus: uart0
    interval: 5s
    options:
      registers:
        - {name: v, unit: V, function: input, address: 0, type: f32}
        - {name: i, unit: amps, function: input, address: 1, type: f64}
        - {name: e, unit: kWh, function: input, address: 70000}
        - {name: pf, unit: /, function: input, address: 1, type: u16}
        - {name: x, unit: /, bogus: 1}
`, []string{"sensors[0].options.registers[4].bogus", "valid keys here:"}},
		{"modbus register values", `  - name: m
    driver: modbus
    bus: uart0
    interval: 5s
    options:
      registers:
        - {name: v, unit: V, function: input, address: 0, type: f32}
        - {name: i, unit: amps, function: input, address: 2, type: f64}
        - {name: e, unit: kWh, function: input, address: 70000}
        - {name: pf, unit: /, function: input, address: 1, type: u16}
`, []string{"sensors[0].options.registers[1].unit (line 10): \"amps\" is not a SenML unit", "sensors[0].options.registers[1].type (line 10): \"f64\" is not valid",
			"sensors[0].options.registers[2].address (line 11): 70000 is out of range", "sensors[0].options.registers[3].address (line 12): 1..1 overlaps registers[0]"}},
		{"modbus slaves disagree on the line", `  - {name: m1, driver: modbus, bus: uart0, interval: 5s, options: {registers: [{name: t, unit: Cel}]}}
  - {name: m2, driver: modbus, bus: uart0, interval: 5s, options: {slave: 2, parity: even, registers: [{name: t, unit: Cel}]}}
`, []string{"sensors[1].options.parity", "uart0 runs at 9600 8N1 for sensors[0] (m1), this sensor asks for 9600 8E1"}},
		{"modbus line shared with another part", `  - {name: m1, driver: modbus, bus: uart0, interval: 5s, options: {registers: [{name: t, unit: Cel}]}}
  - {name: pm, driver: pms5003, bus: uart0, interval: 5s}
`, []string{"sensors[1].bus", "uart0 is already used by sensors[0] (modbus)"}},
		{"pressure from nowhere", `  - {name: co2, driver: scd4x, bus: i2c1, interval: 5s, options: {pressure_from: env9/pressure}}
`, []string{"sensors[0].options.pressure_from", "names no other sensor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(sensorsConfig(tc.sensors)), board2)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
