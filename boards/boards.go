// Package boards owns the board profiles Wayside runs on, as data: which I2C, SPI and UART buses and
// which GPIO lines a board has and what they are called, so a config says `bus: i2c1` and the board
// resolves it to /dev/i2c-1. It also opens a configured sensor on its board: the real driver on an
// emulated part on the sim board (package sim), on the bus periph.io opens elsewhere.
package boards

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Bus is a named bus and the device node that backs it.
type Bus struct {
	Name   string // as a config names it: "i2c1"
	Device string // "/dev/i2c-1"
	Note   string // header pins, caveats
}

// Line is a named GPIO line on a chip.
type Line struct {
	Name   string // "GPIO17"
	Chip   string // "gpiochip0"
	Offset int
}

// Profile describes a board.
type Profile struct {
	Name  string
	Model string // what /proc/device-tree/model says
	I2C   []Bus
	SPI   []Bus
	UART  []Bus
	GPIO  []Line
	Notes string
	// Enable says per bus kind ("i2c", "uart", "gpio") how to make a missing device file appear; the
	// errors of a real board quote it.
	Enable map[string]string
}

// piEnable is how buses are enabled on Raspberry Pi OS.
var piEnable = map[string]string{
	"i2c":  "enable I2C with raspi-config (Interface Options > I2C) or dtparam=i2c_arm=on in /boot/firmware/config.txt, and reboot",
	"uart": "enable the serial port with raspi-config (Interface Options > Serial Port: login shell no, hardware yes) or enable_uart=1 in /boot/firmware/config.txt, and reboot",
	"gpio": "check that /dev/gpiochip* exists and that the daemon's user is in the gpio group",
}

func piLines(chip string) []Line {
	lines := make([]Line, 0, 26)
	for n := 2; n <= 27; n++ {
		lines = append(lines, Line{Name: fmt.Sprintf("GPIO%d", n), Chip: chip, Offset: n})
	}
	return lines
}

// usbBridgeLines names the CP2112's GPIO.0-7 as Pi header lines GPIO17-GPIO24, so pulse configs read
// the same on both boards. The chip is found by its label (hid-cp2112.c: "cp2112_gpio").
func usbBridgeLines() []Line {
	lines := make([]Line, 8)
	for i := range lines {
		lines[i] = Line{Name: fmt.Sprintf("GPIO%d", 17+i), Chip: "cp2112_gpio", Offset: i}
	}
	return lines
}

// bbbLine names BeagleBone Black header pins by their gpio bank and bit: P8_7 is GPIO2_2 = gpiochip2
// line 2 (AM335x TRM, BeagleBone Black SRM table 12/13).
func bbbLines() []Line {
	pins := []struct {
		name       string
		bank, line int
	}{
		{"P8_7", 2, 2}, {"P8_8", 2, 3}, {"P8_9", 2, 5}, {"P8_10", 2, 4}, {"P8_11", 1, 13}, {"P8_12", 1, 12},
		{"P8_14", 0, 26}, {"P8_15", 1, 15}, {"P8_16", 1, 14}, {"P8_17", 0, 27}, {"P8_18", 2, 1},
		{"P9_12", 1, 28}, {"P9_15", 1, 16}, {"P9_23", 1, 17}, {"P9_27", 3, 19}, {"P9_41", 0, 20},
	}
	lines := make([]Line, len(pins))
	for i, p := range pins {
		lines[i] = Line{Name: p.name, Chip: fmt.Sprintf("gpiochip%d", p.bank), Offset: p.line}
	}
	return lines
}

// Profiles lists the boards Wayside knows.
var Profiles = map[string]*Profile{
	"rpi4": {
		Name: "rpi4", Model: "Raspberry Pi 4 Model B",
		I2C:    []Bus{{"i2c1", "/dev/i2c-1", "header pins 3 (SDA) and 5 (SCL)"}},
		SPI:    []Bus{{"spi0.0", "/dev/spidev0.0", "CE0"}, {"spi0.1", "/dev/spidev0.1", "CE1"}},
		UART:   []Bus{{"uart0", "/dev/serial0", "header pins 8 (TX) and 10 (RX); disable the serial console"}},
		GPIO:   piLines("gpiochip0"),
		Enable: piEnable,
	},
	"rpi5": {
		Name: "rpi5", Model: "Raspberry Pi 5 Model B",
		I2C:  []Bus{{"i2c1", "/dev/i2c-1", "header pins 3 (SDA) and 5 (SCL)"}},
		SPI:  []Bus{{"spi0.0", "/dev/spidev0.0", "CE0"}, {"spi0.1", "/dev/spidev0.1", "CE1"}},
		UART: []Bus{{"uart0", "/dev/ttyAMA0", "header pins 8 and 10 (RP1 UART0)"}},
		GPIO: piLines("gpiochip0"),
		Notes: "The header GPIOs sit on the RP1 southbridge, not the SoC: kernels before 6.6.45 number " +
			"that chip gpiochip4, later ones gpiochip0 (labelled pinctrl-rp1). Open it by label, not number.",
		Enable: piEnable,
	},
	"beaglebone-black": {
		Name: "beaglebone-black", Model: "TI AM335x BeagleBone Black",
		I2C: []Bus{{"i2c2", "/dev/i2c-2", "P9_19 (SCL) and P9_20 (SDA); i2c1 needs an overlay"}},
		SPI: []Bus{{"spi0.0", "/dev/spidev0.0", "P9_17..P9_22, needs an overlay"}},
		UART: []Bus{{"uart1", "/dev/ttyS1", "P9_24 (TX), P9_26 (RX)"},
			{"uart4", "/dev/ttyS4", "P9_13 (TX), P9_11 (RX)"}},
		GPIO: bbbLines(),
		Enable: map[string]string{
			"i2c":  "enable the bus with a device tree overlay (uboot_overlay_addrN in /boot/uEnv.txt; i2c2 is on by default), and reboot",
			"uart": "enable the UART with its overlay (uboot_overlay_addrN=/lib/firmware/BB-UART1-00A0.dtbo in /boot/uEnv.txt), and reboot",
			"gpio": "check that /dev/gpiochip* exists, that the pin is not claimed by an overlay, and that the daemon's user is in the gpio group",
		},
	},
	// A generic Linux machine (a cabinet PC, an x86 or ARM box without a header) with its sensors on
	// USB: a Silicon Labs CP2112 HID-to-SMBus/GPIO bridge for I2C and GPIO, USB CDC-ACM serial
	// adapters for the UARTs. Bus and line names match the Raspberry Pi profiles, so a config moves
	// between them by changing the board.
	"usb-bridge": {
		Name: "usb-bridge", Model: "Linux machine with a CP2112 USB bridge and CDC-ACM serial adapters",
		I2C: []Bus{{"i2c1", AdapterPrefix + "CP2112 SMBus Bridge",
			"the CP2112's SDA/SCL; found by adapter name, whatever /dev/i2c-N the kernel gave it"}},
		UART: []Bus{{"uart0", "/dev/ttyACM0", "first CDC-ACM adapter"}, {"uart1", "/dev/ttyACM1", ""},
			{"uart2", "/dev/ttyACM2", ""}, {"uart3", "/dev/ttyACM3", ""}},
		GPIO: usbBridgeLines(),
		Notes: "ttyACM numbers follow the order adapters are enumerated: with more than one, plug them in " +
			"that order or check /dev/serial/by-id. The CP2112 has no edge interrupts: hid_cp2112 polls " +
			"its inputs every 10 jiffies (40-100 ms), so pulses shorter than about 0.1 s can be missed.",
		Enable: map[string]string{
			"i2c":  "plug in the CP2112 bridge (lsusb lists 10c4:ea90) and load hid_cp2112 and i2c_dev (add i2c_dev to /etc/modules-load.d)",
			"uart": "plug in the USB serial adapter (cdc_acm makes /dev/ttyACM0 for the first one) and check dmesg",
			"gpio": "plug in the CP2112 bridge and load hid_cp2112: its gpiochip is labelled cp2112_gpio (gpiodetect lists it); the daemon's user needs the gpio group",
		},
	},
	"sim": {
		Name: "sim", Model: "simulated board",
		I2C:  []Bus{{"i2c1", "sim", ""}, {"i2c2", "sim", ""}},
		SPI:  []Bus{{"spi0.0", "sim", ""}},
		UART: []Bus{{"uart0", "sim", ""}, {"uart1", "sim", ""}, {"uart2", "sim", ""}, {"uart3", "sim", ""}},
		GPIO: piLines("sim"),
	},
}

// Names lists the known boards.
func Names() []string {
	names := make([]string, 0, len(Profiles))
	for n := range Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check tells whether board has the bus kind ("i2c", "spi", "uart", "gpio") or GPIO line
// ("gpio-line") called name, with the valid names when it does not. With kind "" it checks the board.
// Its shape is config.BusChecker.
func Check(board, kind, name string) (ok bool, valid []string) {
	p, found := Profiles[board]
	if !found {
		return false, Names()
	}
	var buses []Bus
	switch kind {
	case "":
		return true, nil
	case "i2c":
		buses = p.I2C
	case "spi":
		buses = p.SPI
	case "uart":
		buses = p.UART
	case "gpio":
		// GPIO lines are named by pin: the "bus" of a GPIO driver is its chip.
		chips := map[string]bool{}
		for _, l := range p.GPIO {
			chips[l.Chip] = true
		}
		for c := range chips {
			valid = append(valid, c)
		}
		sort.Strings(valid)
		return chips[name], valid
	case "gpio-line":
		for _, l := range p.GPIO {
			if l.Name == name {
				return true, nil
			}
			valid = append(valid, l.Name)
		}
		return false, valid
	default:
		return false, nil
	}
	for _, b := range buses {
		if b.Name == name {
			return true, nil
		}
		valid = append(valid, b.Name)
	}
	if valid == nil {
		valid = []string{"(none)"}
	}
	return false, valid
}

// SensorSpec is what a board needs to open one configured sensor.
type SensorSpec struct {
	Name     string
	Driver   string
	Bus      string
	Address  uint16
	Pin      string
	Pins     []string // further GPIO lines, for drivers that take several (a two-loop speed trap)
	Interval time.Duration
	// Options are the driver's decoded and validated options (registry.Driver.NewOptions), nil for a
	// driver that takes none.
	Options sensor.Options
}

// PinList returns the sensor's GPIO lines: Pin, then Pins.
func (s SensorSpec) PinList() []string {
	if s.Pin == "" {
		return s.Pins
	}
	return append([]string{s.Pin}, s.Pins...)
}

// Board opens sensors on one board. Close releases the buses after every sensor has been halted.
type Board interface {
	Profile() *Profile
	OpenSensor(spec SensorSpec) (sensor.Sensor, error)
	Close() error
}

// Open opens the named board. seed feeds the sim board's models.
func Open(name string, seed uint64) (Board, error) {
	p, ok := Profiles[name]
	if !ok {
		return nil, fmt.Errorf("boards: unknown board %q; valid: %s", name, strings.Join(Names(), ", "))
	}
	if name == "sim" {
		return openSim(p, seed), nil
	}
	return openHardware(p)
}

// simBoard runs the real drivers on emulated parts: one emulated I²C bus per profile bus, an
// emulated port per UART sensor (one emulated RS-485 line per UART for the Modbus slaves on it) and
// an emulated pin per GPIO sensor (see package sim).
type simBoard struct {
	p     *Profile
	seed  uint64
	buses map[string]*sim.Bus
	users

	mu    sync.Mutex
	lines map[string]*sim.RS485 // the emulated RS-485 line of each UART with Modbus sensors; mu must be held
}

func openSim(p *Profile, seed uint64) *simBoard {
	b := &simBoard{p: p, seed: seed, buses: map[string]*sim.Bus{}, lines: map[string]*sim.RS485{}}
	for _, bus := range p.I2C {
		b.buses[bus.Name] = sim.NewBus(bus.Name)
	}
	return b
}

func (b *simBoard) Profile() *Profile { return b.p }
func (b *simBoard) Close() error      { return nil }

func (b *simBoard) OpenSensor(s SensorSpec) (sensor.Sensor, error) {
	spec := sim.Spec{Seed: b.seed, Name: s.Name, Driver: s.Driver, Address: s.Address, Interval: s.Interval, Options: s.Options}
	switch sim.BusKind(s.Driver) {
	case "i2c":
		if spec.Bus = b.buses[s.Bus]; spec.Bus == nil {
			return nil, fmt.Errorf("boards: sim: sensor %s (%s): no I2C bus %q; valid: %s", s.Name, s.Driver, s.Bus, names(b.p.I2C))
		}
	case "uart":
		spec.Port = s.Bus
		d, ok := registry.Lookup(s.Driver)
		if !ok {
			d = &registry.Driver{Name: s.Driver, Bus: registry.UART}
		}
		if err := b.useUART(d, s); err != nil {
			return nil, fmt.Errorf("boards: sim: sensor %s (%s): %w", s.Name, s.Driver, err)
		}
		if d.Shared {
			b.mu.Lock()
			if b.lines[s.Bus] == nil || b.lines[s.Bus].Closed() {
				b.lines[s.Bus] = sim.NewRS485(s.Bus)
			}
			spec.Line = b.lines[s.Bus]
			b.mu.Unlock()
		}
	case "gpio":
		spec.Port = s.Pin
		spec.Pins = s.PinList()
		for _, pin := range spec.Pins {
			if err := b.use("pin "+pin, s.Name); err != nil {
				return nil, fmt.Errorf("boards: sim: sensor %s (%s): %w", s.Name, s.Driver, err)
			}
		}
	}
	d, err := sim.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("boards: %w", err)
	}
	return d, nil
}

// users records which sensor holds a UART, GPIO line or I2C address: one part each, as on
// hardware. It is safe for concurrent use.
type users struct {
	mu sync.Mutex
	m  map[string]string
	n  map[string]int // sensors on a shared UART
}

func (u *users) use(what, sensor string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if old, ok := u.m[what]; ok {
		return fmt.Errorf("%s is already used by sensor %s; each takes one part", what, old)
	}
	if u.m == nil {
		u.m = map[string]string{}
	}
	u.m[what] = sensor
	return nil
}

// useUART claims the UART of a UART sensor: alone, or for a shared driver (Modbus) together with
// the other sensors of that driver on it.
func (u *users) useUART(d *registry.Driver, s SensorSpec) error {
	if !d.Shared {
		return u.use("uart "+s.Bus, s.Name)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	what, group := "uart "+s.Bus, "the "+d.Name+" line"
	if old, ok := u.m[what]; ok && old != group {
		return fmt.Errorf("%s is already used by sensor %s; each takes one part", what, old)
	}
	if u.m == nil {
		u.m = map[string]string{}
	}
	u.m[what] = group
	if u.n == nil {
		u.n = map[string]int{}
	}
	u.n[what]++
	return nil
}

// releaseUART undoes useUART.
func (u *users) releaseUART(d *registry.Driver, s SensorSpec) {
	what := "uart " + s.Bus
	if !d.Shared {
		u.release(what)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[what]--; u.n[what] <= 0 {
		delete(u.m, what)
		delete(u.n, what)
	}
}

func (u *users) release(what string) {
	u.mu.Lock()
	delete(u.m, what)
	u.mu.Unlock()
}

func names(buses []Bus) string {
	n := make([]string, len(buses))
	for i, b := range buses {
		n[i] = b.Name
	}
	return strings.Join(n, ", ")
}
