package boards

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		board, kind, name string
		ok                bool
		valid             []string
	}{
		{"rpi4", "", "", true, nil},
		{"pi4", "", "", false, []string{"beaglebone-black", "rpi4", "rpi5", "sim", "usb-bridge"}},
		{"usb-bridge", "gpio", "cp2112_gpio", true, nil},
		{"usb-bridge", "gpio-line", "GPIO17", true, nil},
		{"usb-bridge", "uart", "uart0", true, nil},
		{"usb-bridge", "i2c", "i2c1", true, nil},
		{"rpi4", "i2c", "i2c1", true, nil},
		{"rpi4", "i2c", "i2c2", false, []string{"i2c1"}},
		{"beaglebone-black", "uart", "uart0", false, []string{"uart1", "uart4"}},
		{"rpi5", "spi", "spi0.1", true, nil},
		{"rpi4", "gpio", "gpiochip0", true, nil},
		{"rpi4", "gpio", "gpiochip4", false, []string{"gpiochip0"}},
		{"beaglebone-black", "gpio", "gpiochip9", false, []string{"gpiochip0", "gpiochip1", "gpiochip2", "gpiochip3"}},
		{"sim", "gpio-line", "GPIO17", true, nil},
		{"beaglebone-black", "gpio-line", "P8_7", true, nil},
		{"sim", "uart", "uart0", true, nil},
		{"sim", "i2c", "i2c3", false, []string{"i2c1", "i2c2"}},
		{"rpi4", "can", "can0", false, nil},
	}
	for _, c := range cases {
		ok, valid := Check(c.board, c.kind, c.name)
		if ok != c.ok || (!ok && !slices.Equal(valid, c.valid)) {
			t.Errorf("Check(%q, %q, %q) = %v %v, want %v %v", c.board, c.kind, c.name, ok, valid, c.ok, c.valid)
		}
	}
	// A wrong line name lists every line of the board.
	ok, valid := Check("rpi4", "gpio-line", "GPIO99")
	if ok || len(valid) != 26 || valid[0] != "GPIO2" || valid[25] != "GPIO27" {
		t.Errorf("GPIO99: %v %v", ok, valid)
	}
}

func TestProfiles(t *testing.T) {
	for name, p := range Profiles {
		if p.Name != name {
			t.Errorf("profile %q is called %q", name, p.Name)
		}
		seen := map[string]string{}
		for kind, buses := range map[string][]Bus{"i2c": p.I2C, "spi": p.SPI, "uart": p.UART} {
			for _, b := range buses {
				if other, dup := seen[b.Name]; dup {
					t.Errorf("%s: bus name %q used for %s and %s", name, b.Name, other, kind)
				}
				seen[b.Name] = kind
				if b.Device == "" {
					t.Errorf("%s: bus %s has no device", name, b.Name)
				}
			}
		}
		lines := map[string]bool{}
		offsets := map[Line]bool{}
		for _, l := range p.GPIO {
			if lines[l.Name] {
				t.Errorf("%s: GPIO line %q twice", name, l.Name)
			}
			lines[l.Name] = true
			key := Line{Chip: l.Chip, Offset: l.Offset}
			if offsets[key] {
				t.Errorf("%s: %s line %d named twice", name, l.Chip, l.Offset)
			}
			offsets[key] = true
		}
		if name != "sim" {
			for _, kind := range []string{"i2c", "uart", "gpio"} {
				if p.Enable[kind] == "" {
					t.Errorf("%s: no Enable hint for %s", name, kind)
				}
			}
		}
	}
}

// simSpecs puts one sensor of every driver on the sim board, at the config's default addresses.
func simSpecs() []SensorSpec {
	var specs []SensorSpec
	uart := 0
	for _, name := range sim.Drivers() {
		s := SensorSpec{Name: "s-" + name, Driver: name, Interval: time.Second}
		d, _ := registry.Lookup(name)
		switch d.Bus {
		case "i2c":
			s.Bus, s.Address = "i2c1", d.Addr
			if name == "bmp280" {
				s.Bus = "i2c2" // same address as the bme280
			}
		case "uart":
			s.Bus = []string{"uart0", "uart1", "uart2", "uart3"}[uart]
			uart++
		case "gpio":
			s.Bus, s.Pin = "sim", "GPIO17"
		}
		specs = append(specs, s)
	}
	return specs
}

// TestSimBoard opens every driver on the sim board and samples it: the values come from the real
// driver, named as it names itself, and are what sim.Expected says.
func TestSimBoard(t *testing.T) {
	b, err := Open("sim", 11)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	at := time.Date(2025, 6, 2, 8, 15, 0, 0, time.UTC)
	for _, spec := range simSpecs() {
		d, err := b.OpenSensor(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec.Driver, err)
		}
		if !strings.Contains(d.String(), "(") || strings.HasPrefix(d.String(), "sim") {
			t.Errorf("%s: String %q is not the driver's", spec.Driver, d)
		}
		dst := make([]float64, len(d.Channels()))
		var got error
		for i := 0; i < 5; i++ { // the radar may see no vehicle at one instant
			now := at.Add(time.Duration(i) * 1234 * time.Millisecond)
			if got = d.Sample(now, dst); got == nil {
				for j, c := range d.Channels() {
					want, ok := sim.Expected(11, spec.Name, spec.Driver, c.Name, now.UnixMilli(), spec.Interval)
					if (!ok || want != dst[j]) && sim.Checked(spec.Driver, c.Name) {
						t.Errorf("%s %s: got %v, Expected %v %v", spec.Name, c.Name, dst[j], want, ok)
					}
				}
				break
			}
			if !errors.Is(got, sensor.ErrNoData) {
				break
			}
		}
		if got != nil {
			t.Errorf("%s: %v", spec.Driver, got)
		}
		if err := d.Halt(); err != nil {
			t.Errorf("%s: halt: %v", spec.Driver, err)
		}
	}
}

func TestSimBoardConflicts(t *testing.T) {
	b, err := Open("sim", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	open := func(s SensorSpec) error {
		s.Interval = time.Second
		d, err := b.OpenSensor(s)
		if err == nil {
			t.Cleanup(func() { d.Halt() })
		}
		return err
	}
	if err := open(SensorSpec{Name: "a", Driver: "bh1750", Bus: "i2c1", Address: 0x23}); err != nil {
		t.Fatal(err)
	}
	if err := open(SensorSpec{Name: "b", Driver: "bh1750", Bus: "i2c1", Address: 0x23}); err == nil || !strings.Contains(err.Error(), "taken by sensor a") {
		t.Errorf("same address: %v", err)
	}
	if err := open(SensorSpec{Name: "c", Driver: "bh1750", Bus: "i2c2", Address: 0x23}); err != nil {
		t.Errorf("other bus: %v", err)
	}
	if err := open(SensorSpec{Name: "d", Driver: "nmea", Bus: "uart0"}); err != nil {
		t.Fatal(err)
	}
	if err := open(SensorSpec{Name: "e", Driver: "pms5003", Bus: "uart0"}); err == nil || !strings.Contains(err.Error(), "already used by sensor d") {
		t.Errorf("same UART: %v", err)
	}
	if err := open(SensorSpec{Name: "f", Driver: "sht4x", Bus: "i2c7", Address: 0x44}); err == nil || !strings.Contains(err.Error(), "valid: i2c1, i2c2") {
		t.Errorf("unknown bus: %v", err)
	}
}

// TestHardwareMissingDevices opens sensors on a board whose device files do not exist: each error
// names the sensor, the bus and device, and what to do.
func TestHardwareMissingDevices(t *testing.T) {
	p := &Profile{
		Name: "testboard",
		I2C:  []Bus{{"i2c1", "/nonexistent/i2c-1", ""}},
		UART: []Bus{{"uart0", "/nonexistent/ttyAMA0", ""}},
		GPIO: []Line{{"GPIO17", "gpiochip99", 17}},
		Enable: map[string]string{"i2c": "enable I2C with raspi-config", "uart": "enable the serial port",
			"gpio": "check /dev/gpiochip*"},
	}
	b, err := openHardware(p)
	if err != nil {
		t.Skipf("periph host drivers: %v", err)
	}
	defer b.Close()
	cases := []struct {
		spec SensorSpec
		want []string
	}{
		{SensorSpec{Name: "env1", Driver: "bme280", Bus: "i2c1", Address: 0x76},
			[]string{"sensor env1 (bme280 at 0x76 on i2c1)", "no such device /nonexistent/i2c-1", "enable I2C with raspi-config"}},
		{SensorSpec{Name: "gps", Driver: "nmea", Bus: "uart0"},
			[]string{"sensor gps (nmea at uart0)", "no such device /nonexistent/ttyAMA0", "enable the serial port"}},
		{SensorSpec{Name: "loop1", Driver: "pulse", Bus: "gpiochip99", Pin: "GPIO17"},
			[]string{"sensor loop1 (pulse at GPIO17 on gpiochip99)", "/dev/gpiochip99", "check /dev/gpiochip*"}},
		{SensorSpec{Name: "loop2", Driver: "pulse", Bus: "gpiochip0", Pin: "GPIO17"},
			[]string{"GPIO17 is line 17 of gpiochip99, not of gpiochip0"}},
		{SensorSpec{Name: "x", Driver: "sht4x", Bus: "i2c5", Address: 0x44},
			[]string{"no I2C bus \"i2c5\"; valid: i2c1"}},
		{SensorSpec{Name: "y", Driver: "bme680", Bus: "i2c1", Address: 0x76},
			[]string{"no driver \"bme680\"; valid: ads1115, bh1750"}},
	}
	for _, c := range cases {
		d, err := b.OpenSensor(c.spec)
		if err == nil {
			d.Halt()
			t.Errorf("%s opened", c.spec.Name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.spec.Name, err, w)
			}
		}
	}
	if err := b.Close(); err != nil {
		t.Error(err)
	}
}

// TestRealBoardOnThisMachine opens a Raspberry Pi sensor where, unless this is a Pi with I2C on,
// /dev/i2c-1 is missing.
func TestRealBoardOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/dev/i2c-1"); err == nil {
		t.Skip("/dev/i2c-1 exists here")
	}
	b, err := Open("rpi4", 0)
	if err != nil {
		t.Skipf("periph host drivers: %v", err)
	}
	defer b.Close()
	_, err = b.OpenSensor(SensorSpec{Name: "env1", Driver: "bme280", Bus: "i2c1", Address: 0x76})
	if err == nil || !strings.Contains(err.Error(), "no such device /dev/i2c-1: enable I2C with raspi-config") {
		t.Errorf("got %v", err)
	}
}

// TestSimModbusLine: two Modbus sensors on one sim UART are two slaves of one emulated line, each
// read through its own register map; another kind of part cannot join that UART.
func TestSimModbusLine(t *testing.T) {
	b, err := Open("sim", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mk := func(slave int, names ...string) *modbus.Options {
		o := modbus.DefaultOptions
		o.Slave = slave
		for i, n := range names {
			r := modbus.DefaultRegister
			r.Name, r.Unit, r.Function, r.Address, r.Type = n, "V", "input", 2*i, "f32"
			o.Registers = append(o.Registers, r)
		}
		return &o
	}
	s1, err := b.OpenSensor(SensorSpec{Name: "meter", Driver: "modbus", Bus: "uart3", Interval: time.Second, Options: mk(1, "l1", "l2")})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.OpenSensor(SensorSpec{Name: "meter2", Driver: "modbus", Bus: "uart3", Interval: time.Second, Options: mk(2, "l1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenSensor(SensorSpec{Name: "pm", Driver: "pms5003", Bus: "uart3", Interval: time.Second}); err == nil {
		t.Error("a PMS5003 joined the Modbus line")
	}
	for _, s := range []sensor.Sensor{s1, s2} {
		dst := make([]float64, len(s.Channels()))
		if err := s.Sample(time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC), dst); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		for _, v := range dst {
			if v < 200 || v > 260 { // the sim's 230 V supply
				t.Errorf("%s: %v V", s, dst)
			}
		}
	}
	if s1.String() != "modbus(uart3#1)" || s2.String() != "modbus(uart3#2)" {
		t.Errorf("names %s %s", s1, s2)
	}
	if err := s1.Halt(); err != nil {
		t.Fatal(err)
	}
	// The line stays up for the other slave until it halts too.
	if err := s2.Sample(time.Now(), make([]float64, 1)); err != nil {
		t.Fatalf("after the first slave halted: %v", err)
	}
	if err := s2.Halt(); err != nil {
		t.Fatal(err)
	}
}
