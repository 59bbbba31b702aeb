// Package registry owns the list of sensor drivers: for each, the name a configuration uses, the kind
// of bus it sits on, its default and possible I2C addresses, its UART line settings (and whether
// several of its sensors share one UART, as Modbus slaves do), its options type with
// defaults and validation, and how it is opened on a bus. It is the one source of these facts: the
// configuration checks against it, the boards open sensors through it, the sim board has a part for
// each driver it lists (a test holds them together), the local API's I2C scan names parts from it,
// and configs/example.yaml documents its options (a test keeps them in step).
//
// Adding a driver is its package under drivers/ and one entry in the table below.
package registry

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	"github.com/wayside-iot/wayside/drivers/ads1115"
	"github.com/wayside-iot/wayside/drivers/bh1750"
	"github.com/wayside-iot/wayside/drivers/bme280"
	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/nmea"
	"github.com/wayside-iot/wayside/drivers/ops243"
	"github.com/wayside-iot/wayside/drivers/pms5003"
	"github.com/wayside-iot/wayside/drivers/pulse"
	"github.com/wayside-iot/wayside/drivers/scd4x"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/drivers/sht4x"
	"github.com/wayside-iot/wayside/drivers/vl53l0x"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// Bus is the kind of bus a driver's part sits on.
type Bus string

// Bus kinds, as board profiles name them.
const (
	I2C  Bus = "i2c"
	UART Bus = "uart"
	GPIO Bus = "gpio"
)

// Driver describes one sensor driver.
type Driver struct {
	Name string
	Bus  Bus
	// Part says what the part is, for the docs and the I2C scan: "Bosch BME280 temperature, humidity
	// and pressure".
	Part string
	// Addr is the default 7-bit I2C address; Addrs every address the part can be strapped to, Addr
	// first (the I2C scan's hints).
	Addr  uint16
	Addrs []uint16
	// Baud is the UART line speed the part talks at (8N1), unless SerialFor says otherwise.
	Baud int
	// SerialFor, when set, gives the line settings a sensor with options o needs: buses whose speed
	// and framing are configured (Modbus RTU). o is validated options, never nil.
	SerialFor func(o sensor.Options) serialport.Config
	// Shared says several sensors of this driver may sit on one UART (slaves of one RS-485 bus): the
	// board opens the port once and hands every sensor the same one, and the configuration checks
	// that they agree on SerialFor.
	Shared bool
	// NewOptions returns the driver's defaults, to decode a sensor's options over; nil when the
	// driver takes none.
	NewOptions func() sensor.Options
	// Required lists the option keys every sensor must give because no default fits (a Modbus
	// register map): the defaults fail Validate for those keys alone.
	Required []string
	// Lines is how many GPIO lines a sensor with options o needs (nil: one).
	Lines func(o sensor.Options) int
	// One opener, by Bus. o is what NewOptions returned, decoded and validated; nil when the driver
	// takes no options.
	OpenI2C  func(bus i2c.Bus, addr uint16, o sensor.Options) (sensor.Sensor, error)
	OpenUART func(port io.ReadWriter, name string, o sensor.Options) (sensor.Sensor, error)
	OpenGPIO func(pins []gpio.PinIn, o sensor.Options) (sensor.Sensor, error)
}

// LinesFor returns how many GPIO lines a sensor of d with options o needs.
func (d *Driver) LinesFor(o sensor.Options) int {
	if d.Bus != GPIO {
		return 0
	}
	if d.Lines == nil {
		return 1
	}
	return d.Lines(o)
}

// asSensor turns a driver constructor's result into a sensor.Sensor without a typed nil.
func asSensor[T sensor.Sensor](d T, err error) (sensor.Sensor, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// table is the registry, by name. Addresses: the parts' datasheets (BME280 5.2: 0x76/0x77 by SDO;
// SHT4x: 0x44, SHT40-B 0x45, SHT40-C 0x46; SCD4x: 0x62 only; ADS1115 table 4: 0x48..0x4B by ADDR;
// BH1750: 0x23 with ADDR low, 0x5C high; VL53L0X: 0x29 at power-up). Baud rates: PMS5003 datasheet
// (9600 8N1); NMEA 0183 receivers default to 9600; OPS243 user manual UM-003-A, "UART Control"
// (19200 8N1 default).
var table = []*Driver{
	{Name: "bme280", Bus: I2C, Part: "Bosch BME280 temperature, humidity and pressure", Addr: 0x76, Addrs: []uint16{0x76, 0x77},
		NewOptions: defaults(bme280.DefaultOptions), OpenI2C: onI2C(bme280.DefaultOptions, bme280.NewWithOptions)},
	// The bme280 package drives both; the chip id decides whether there is a humidity channel.
	{Name: "bmp280", Bus: I2C, Part: "Bosch BMP280 temperature and pressure", Addr: 0x76, Addrs: []uint16{0x76, 0x77},
		NewOptions: defaults(bme280.DefaultOptions), OpenI2C: onI2C(bme280.DefaultOptions, bme280.NewWithOptions)},
	{Name: "sht4x", Bus: I2C, Part: "Sensirion SHT4x temperature and humidity", Addr: 0x44, Addrs: []uint16{0x44, 0x45, 0x46},
		NewOptions: defaults(sht4x.DefaultOptions), OpenI2C: onI2C(sht4x.DefaultOptions, sht4x.NewWithOptions)},
	{Name: "scd4x", Bus: I2C, Part: "Sensirion SCD40/SCD41 CO2, temperature and humidity", Addr: 0x62, Addrs: []uint16{0x62},
		NewOptions: defaults(scd4x.DefaultOptions), OpenI2C: onI2C(scd4x.DefaultOptions, scd4x.NewWithOptions)},
	{Name: "ads1115", Bus: I2C, Part: "TI ADS1115 16-bit ADC: a sound level meter (kind noise) or any analog sensor (kind analog)",
		Addr: 0x48, Addrs: []uint16{0x48, 0x49, 0x4a, 0x4b},
		NewOptions: defaults(ads1115.DefaultOptions), OpenI2C: onI2C(ads1115.DefaultOptions, ads1115.NewWithOptions)},
	{Name: "bh1750", Bus: I2C, Part: "ROHM BH1750 ambient light", Addr: 0x23, Addrs: []uint16{0x23, 0x5c},
		NewOptions: defaults(bh1750.DefaultOptions), OpenI2C: onI2C(bh1750.DefaultOptions, bh1750.NewWithOptions)},
	{Name: "vl53l0x", Bus: I2C, Part: "ST VL53L0X time-of-flight distance (parking bay)", Addr: 0x29, Addrs: []uint16{0x29},
		NewOptions: defaults(vl53l0x.DefaultOptions), OpenI2C: onI2C(vl53l0x.DefaultOptions, vl53l0x.NewWithOptions)},
	{Name: "pms5003", Bus: UART, Part: "Plantower PMS5003 particulate matter", Baud: 9600,
		NewOptions: defaults(pms5003.DefaultOptions), OpenUART: onUART(pms5003.DefaultOptions, pms5003.NewWithOptions)},
	{Name: "nmea", Bus: UART, Part: "NMEA 0183 GPS receiver", Baud: 9600,
		NewOptions: defaults(nmea.DefaultOptions), OpenUART: onUART(nmea.DefaultOptions, nmea.NewWithOptions)},
	{Name: "ops243", Bus: UART, Part: "OmniPreSense OPS243 Doppler radar speed", Baud: 19200,
		NewOptions: defaults(ops243.DefaultOptions), OpenUART: onUART(ops243.DefaultOptions, ops243.New)},
	// Modbus RTU: the line settings and slave address come from the options (serial line spec 2.5.1
	// defaults to 19200 8E1; many devices ship at 9600 8N1, the driver's default).
	{Name: "modbus", Bus: UART, Part: "Modbus RTU slave on RS-485, read through a register map (energy meters, weather stations, soil probes)",
		Baud: modbus.DefaultOptions.Baud, Shared: true, Required: []string{"registers"},
		SerialFor: func(o sensor.Options) serialport.Config {
			if m, ok := o.(*modbus.Options); ok && m != nil {
				return m.Serial()
			}
			return modbus.DefaultOptions.Serial()
		},
		NewOptions: defaults(modbus.DefaultOptions), OpenUART: onUART(modbus.DefaultOptions, modbus.NewWithOptions)},
	{Name: "pulse", Bus: GPIO, Part: "vehicle detector output: loop detector card (presence, speed trap) or axle sensor",
		NewOptions: defaults(pulse.DefaultOptions),
		Lines: func(o sensor.Options) int {
			if p, ok := o.(*pulse.Options); ok && p.Mode == pulse.ModeSpeedTrap {
				return 2
			}
			return 1
		},
		OpenGPIO: func(pins []gpio.PinIn, o sensor.Options) (sensor.Sensor, error) {
			p, err := optionsFor(o, pulse.DefaultOptions)
			if err != nil {
				return nil, err
			}
			return asSensor(pulse.NewWithOptions(pins, p))
		}},
}

// defaults returns a NewOptions that hands out a copy of def.
func defaults[O any, P interface {
	*O
	sensor.Options
}](def O) func() sensor.Options {
	return func() sensor.Options {
		o := def
		return P(&o)
	}
}

// optionsFor returns o as the driver's options type: a copy of def when o is nil, an error when it is
// another driver's (a caller's mistake that must not fall back to defaults silently).
func optionsFor[O any](o sensor.Options, def O) (*O, error) {
	if o == nil {
		d := def
		return &d, nil
	}
	p, ok := any(o).(*O)
	if !ok || p == nil {
		return nil, fmt.Errorf("registry: options of type %T, want %T", o, p)
	}
	return p, nil
}

// onI2C adapts an I2C driver's options constructor; nil options mean a copy of def.
func onI2C[O any, D sensor.Sensor](def O, open func(i2c.Bus, uint16, *O) (D, error)) func(i2c.Bus, uint16, sensor.Options) (sensor.Sensor, error) {
	return func(bus i2c.Bus, addr uint16, o sensor.Options) (sensor.Sensor, error) {
		p, err := optionsFor(o, def)
		if err != nil {
			return nil, err
		}
		return asSensor(open(bus, addr, p))
	}
}

// onUART adapts a UART driver's options constructor; nil options mean a copy of def.
func onUART[O any, D sensor.Sensor](def O, open func(io.ReadWriter, string, *O) (D, error)) func(io.ReadWriter, string, sensor.Options) (sensor.Sensor, error) {
	return func(port io.ReadWriter, name string, o sensor.Options) (sensor.Sensor, error) {
		p, err := optionsFor(o, def)
		if err != nil {
			return nil, err
		}
		return asSensor(open(port, name, p))
	}
}

// Lookup returns the driver called name.
func Lookup(name string) (*Driver, bool) {
	i := slices.IndexFunc(table, func(d *Driver) bool { return d.Name == name })
	if i < 0 {
		return nil, false
	}
	return table[i], true
}

// All returns every driver, sorted by name.
func All() []*Driver {
	out := slices.Clone(table)
	slices.SortFunc(out, func(a, b *Driver) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names lists the drivers' names, sorted.
func Names() []string {
	var n []string
	for _, d := range All() {
		n = append(n, d.Name)
	}
	return n
}

// AtAddress returns the drivers whose part can answer at a 7-bit I2C address.
func AtAddress(addr uint16) []*Driver {
	var out []*Driver
	for _, d := range All() {
		if slices.Contains(d.Addrs, addr) {
			out = append(out, d)
		}
	}
	return out
}

// Serial returns the line settings a sensor of d with options o needs on its UART.
func (d *Driver) Serial(o sensor.Options) serialport.Config {
	if d.SerialFor != nil && o != nil {
		return d.SerialFor(o)
	}
	return serialport.Config{Baud: d.Baud}.Normal()
}

// Options returns the defaults of driver name's options, nil when it takes none or is unknown.
func Options(name string) sensor.Options {
	if d, ok := Lookup(name); ok && d.NewOptions != nil {
		return d.NewOptions()
	}
	return nil
}

// check reports a table entry that is not complete (TestTable runs it on every entry).
func (d *Driver) check() error {
	n := 0
	for _, f := range []bool{d.OpenI2C != nil, d.OpenUART != nil, d.OpenGPIO != nil} {
		if f {
			n++
		}
	}
	want := map[Bus]bool{I2C: d.OpenI2C != nil, UART: d.OpenUART != nil, GPIO: d.OpenGPIO != nil}
	if n != 1 || !want[d.Bus] {
		return fmt.Errorf("registry: driver %s: want exactly one opener, for its bus %s", d.Name, d.Bus)
	}
	if d.Bus == I2C && (len(d.Addrs) == 0 || d.Addrs[0] != d.Addr) {
		return fmt.Errorf("registry: driver %s: Addrs must start with the default address %#x", d.Name, d.Addr)
	}
	if d.Bus == UART && d.Baud <= 0 {
		return fmt.Errorf("registry: driver %s: no baud rate", d.Name)
	}
	return nil
}
