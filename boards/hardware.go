package boards

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// hwBoard is a real board: periph's host drivers open its buses. Each I2C bus and UART is opened
// once, when the first sensor on it is opened, and closed by Close after the gateway halted every
// sensor. GPIO lines belong to periph's registry: the pulse driver's Halt stops edge detection.
type hwBoard struct {
	p *Profile
	users

	mu     sync.Mutex
	i2c    map[string]i2c.BusCloser     // by bus name; mu must be held
	i2cN   map[string]string            // the device file each open I2C bus resolved to; mu must be held
	uart   map[string]*os.File          // by bus name; mu must be held
	serial map[string]serialport.Config // each open UART's line settings; mu must be held
}

func openHardware(p *Profile) (Board, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("boards: %s: initialise periph host drivers: %w", p.Name, err)
	}
	return &hwBoard{p: p, i2c: map[string]i2c.BusCloser{}, i2cN: map[string]string{}, uart: map[string]*os.File{},
		serial: map[string]serialport.Config{}}, nil
}

func (b *hwBoard) Profile() *Profile { return b.p }

// Close closes the buses. Call it after every sensor was halted: drivers never close a bus.
func (b *hwBoard) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for name, bus := range b.i2c {
		if err := bus.Close(); err != nil {
			errs = append(errs, fmt.Errorf("boards: %s: close %s: %w", b.p.Name, name, err))
		}
		delete(b.i2c, name)
	}
	for name, f := range b.uart {
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("boards: %s: close %s: %w", b.p.Name, name, err))
		}
		delete(b.uart, name)
		delete(b.serial, name)
	}
	return errors.Join(errs...)
}

// openI2C opens an I2C driver: the bus on first use, the address claimed for this sensor.
func (b *hwBoard) openI2C(d *registry.Driver, s SensorSpec) (sensor.Sensor, error) {
	bus, err := b.i2cBus(s.Bus)
	if err != nil {
		return nil, err
	}
	at := fmt.Sprintf("address %#x on %s", s.Address, s.Bus)
	if err := b.use(at, s.Name); err != nil {
		return nil, err
	}
	dev, err := d.OpenI2C(bus, s.Address, s.Options)
	if err != nil {
		b.release(at)
		b.mu.Lock()
		n := strings.TrimPrefix(b.i2cN[s.Bus], "/dev/i2c-")
		b.mu.Unlock()
		return nil, fmt.Errorf("%w (check the wiring, the address and that the part is powered; `i2cdetect -y %s` lists what answers)", err, n)
	}
	return dev, nil
}

// openUART opens a UART driver on its port with the part's line settings. The sensors of a shared
// driver (Modbus slaves on one RS-485 line) get the same port; any other takes the UART alone.
func (b *hwBoard) openUART(d *registry.Driver, s SensorSpec) (sensor.Sensor, error) {
	if err := b.useUART(d, s); err != nil {
		return nil, err
	}
	f, err := b.uartPort(s.Bus, d.Serial(s.Options))
	if err != nil {
		b.releaseUART(d, s)
		return nil, err
	}
	dev, err := d.OpenUART(f, s.Bus, s.Options)
	if err != nil {
		b.releaseUART(d, s)
	}
	return dev, err
}

// openGPIO opens a GPIO driver on its lines (pin, then the rest of pins).
func (b *hwBoard) openGPIO(d *registry.Driver, s SensorSpec) (sensor.Sensor, error) {
	var pins []gpio.PinIn
	for _, name := range s.PinList() {
		pin, err := b.gpioLine(s, name)
		if err != nil {
			return nil, err
		}
		pins = append(pins, pin)
	}
	return d.OpenGPIO(pins, s.Options)
}

// OpenSensor opens the configured sensor's driver on its bus, opening the bus if it is the first
// sensor there.
func (b *hwBoard) OpenSensor(s SensorSpec) (sensor.Sensor, error) {
	where := s.Bus
	if s.Address != 0 {
		where = fmt.Sprintf("%#x on %s", s.Address, s.Bus)
	}
	if s.Pin != "" {
		where = s.Pin + " on " + s.Bus
	}
	drv, ok := registry.Lookup(s.Driver)
	if !ok {
		return nil, fmt.Errorf("boards: %s: sensor %s: no driver %q; valid: %s", b.p.Name, s.Name, s.Driver, strings.Join(registry.Names(), ", "))
	}
	var d sensor.Sensor
	var err error
	switch drv.Bus {
	case registry.I2C:
		d, err = b.openI2C(drv, s)
	case registry.UART:
		d, err = b.openUART(drv, s)
	case registry.GPIO:
		d, err = b.openGPIO(drv, s)
	}
	if err != nil {
		return nil, fmt.Errorf("boards: %s: sensor %s (%s at %s): %w", b.p.Name, s.Name, s.Driver, where, err)
	}
	return d, nil
}

// device returns the device file of the bus called name, "" when there is none.
func (b *hwBoard) device(buses []Bus, name string) string {
	for _, bus := range buses {
		if bus.Name == name {
			return bus.Device
		}
	}
	return ""
}

// missing explains a device file that is not there.
func (b *hwBoard) missing(kind, dev string) error {
	hint := b.p.Enable[kind]
	if hint == "" {
		hint = "check the board's device tree"
	}
	return fmt.Errorf("no such device %s: %s", dev, hint)
}

// i2cBus returns the I2C bus called name, opening it on first use.
func (b *hwBoard) i2cBus(name string) (i2c.Bus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bus, ok := b.i2c[name]; ok {
		return bus, nil
	}
	dev := b.device(b.p.I2C, name)
	if dev == "" {
		return nil, fmt.Errorf("board has no I2C bus %q; valid: %s", name, names(b.p.I2C))
	}
	if prefix, ok := strings.CutPrefix(dev, AdapterPrefix); ok {
		found, err := adapterDevice(sysI2C, prefix)
		if err != nil {
			return nil, err
		}
		if found == "" {
			return nil, b.missing("i2c", fmt.Sprintf("for the I2C adapter %q", prefix))
		}
		dev = found
	}
	if _, err := os.Stat(dev); errors.Is(err, os.ErrNotExist) {
		return nil, b.missing("i2c", dev)
	}
	bus, err := i2creg.Open(dev)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (is the i2c-dev module loaded, and may the daemon's user open it? group i2c)", dev, err)
	}
	b.i2c[name], b.i2cN[name] = bus, dev
	return bus, nil
}

// uartPort opens the UART called name as a file, in raw mode with c; a UART already open (a
// shared RS-485 line) is handed out again when c is its settings.
func (b *hwBoard) uartPort(name string, c serialport.Config) (*os.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.uart[name]; ok {
		if b.serial[name] != c {
			return nil, fmt.Errorf("%s is open at %s for its other sensors, not %s", name, b.serial[name], c)
		}
		return f, nil
	}
	dev := b.device(b.p.UART, name)
	if dev == "" {
		return nil, fmt.Errorf("board has no UART %q; valid: %s", name, names(b.p.UART))
	}
	if _, err := os.Stat(dev); errors.Is(err, os.ErrNotExist) {
		return nil, b.missing("uart", dev)
	}
	f, err := serialport.Open(dev, c)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (may the daemon's user open it? group dialout)", dev, err)
	}
	b.uart[name], b.serial[name] = f, c
	return f, nil
}

// gpioChip is what findChip needs of periph's gpioioctl.GPIOChip.
type gpioChip interface {
	Name() string  // "gpiochip1": the kernel's number, which can change between boots
	Label() string // "cp2112_gpio", "pinctrl-rp1": the driver's label, which does not
	LineCount() int
}

// findChip returns the index of the chip a profile line names, by device name or by label, that has
// line offset; -1 when there is none. A name wins over a label.
func findChip(chips []gpioChip, chip string, offset int) int {
	found := -1
	for i, c := range chips {
		if offset >= c.LineCount() {
			continue
		}
		if c.Name() == chip {
			return i
		}
		if found < 0 && c.Label() == chip {
			found = i
		}
	}
	return found
}

// gpioLine finds the configured pin: by name through periph's registry, else by the profile's chip
// (a gpiochip device name or a chip label) and offset.
func (b *hwBoard) gpioLine(s SensorSpec, name string) (gpio.PinIn, error) {
	var line *Line
	var valid []string
	for i := range b.p.GPIO {
		if b.p.GPIO[i].Name == name {
			line = &b.p.GPIO[i]
		}
		valid = append(valid, b.p.GPIO[i].Name)
	}
	if line == nil {
		return nil, fmt.Errorf("board has no GPIO line %q; valid: %s", name, strings.Join(valid, ", "))
	}
	if s.Bus != line.Chip {
		return nil, fmt.Errorf("%s is line %d of %s, not of %s: set bus: %s", line.Name, line.Offset, line.Chip, s.Bus, line.Chip)
	}
	if err := b.use("pin "+name, s.Name); err != nil {
		return nil, err
	}
	if p := gpioreg.ByName(line.Name); p != nil {
		return p, nil
	}
	chips := make([]gpioChip, len(gpioioctl.Chips))
	for i, c := range gpioioctl.Chips {
		chips[i] = c
	}
	if i := findChip(chips, line.Chip, line.Offset); i >= 0 {
		if l := gpioioctl.Chips[i].ByNumber(line.Offset); l != nil {
			return l, nil
		}
	}
	if !strings.HasPrefix(line.Chip, "gpiochip") {
		return nil, b.missing("gpio", "labelled "+line.Chip+" (gpiodetect lists the chips and their labels)")
	}
	if _, err := os.Stat("/dev/" + line.Chip); errors.Is(err, os.ErrNotExist) {
		return nil, b.missing("gpio", "/dev/"+line.Chip)
	}
	return nil, fmt.Errorf("no GPIO line %s (%s line %d) registered: %s", line.Name, line.Chip, line.Offset, b.p.Enable["gpio"])
}
