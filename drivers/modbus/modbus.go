package modbus

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Dev is one slave on a Bus, read through its register map.
type Dev struct {
	bus     *Bus
	release func() // drops the hold on a shared bus; nil for a bus the caller made
	name    string
	slave   byte
	timeout time.Duration
	reqs    []request
	fields  []field
	chans   []sensor.Channel
	halted  atomic.Bool
}

// New validates o and returns the slave o.Slave on bus, whose line settings must be o's. It sends
// nothing: a slave that is off at the start shows as timeouts in health, and the gateway backs off.
func New(bus *Bus, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if bus == nil {
		return nil, errors.New("modbus: nil bus: pass the Bus of the slave's line")
	}
	if got := bus.Serial(); got != o.Serial() {
		return nil, fmt.Errorf("modbus: %s runs at %s, the options ask for %s", bus, got, o.Serial())
	}
	d := &Dev{bus: bus, name: fmt.Sprintf("modbus(%s#%d)", bus, o.Slave), slave: byte(o.Slave), timeout: o.Timeout}
	d.reqs, d.fields = plan(o.Registers, o.MaxRead)
	for _, r := range o.Registers {
		d.chans = append(d.chans, sensor.Channel{Name: r.Name, Unit: r.Unit, Resolution: r.resolution()})
	}
	return d, nil
}

// NewWithOptions validates o and returns the slave o.Slave on the serial port the board opened with
// o's line settings, named name ("uart1"). Every Dev on one port shares one Bus: one request at a
// time, with the inter-frame gap. It never closes the port.
func NewWithOptions(port io.ReadWriter, name string, o *Options) (*Dev, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bus, release, err := attach(port, name, o.Serial())
	if err != nil {
		return nil, err
	}
	d, err := New(bus, o)
	if err != nil {
		release()
		return nil, err
	}
	d.release = release
	return d, nil
}

// String implements sensor.Sensor: "modbus(uart1#3)", bus and slave address.
func (d *Dev) String() string { return d.name }

// Bus returns the line the slave is on, for a scan of its neighbours.
func (d *Dev) Bus() *Bus { return d.bus }

// Channels implements sensor.Sensor: one per register map entry, in its order.
func (d *Dev) Channels() []sensor.Channel { return d.chans }

// Requests returns how many reads one Sample makes (adjacent registers merged).
func (d *Dev) Requests() int { return len(d.reqs) }

var funcNames = map[byte]string{FuncReadCoils: "coils", FuncReadDiscreteInputs: "discrete inputs", FuncReadHolding: "holding registers", FuncReadInput: "input registers"}

// Sample implements sensor.Sensor: it makes the map's requests in turn and converts the answers. At
// the first failed request it stops, so a silent slave holds the bus for one time-out per Sample,
// not one per request. A 32-bit float that is NaN or infinite (devices use them for "no value") is
// sensor.ErrRange. It does not allocate on success.
func (d *Dev) Sample(_ time.Time, dst []float64) error {
	if d.halted.Load() {
		return fmt.Errorf("%s: halted: %w", d.name, sensor.ErrBus)
	}
	for i := range d.reqs {
		r := &d.reqs[i]
		if err := d.bus.Read(d.slave, r.fn, r.addr, r.count, r.items, d.timeout); err != nil {
			return fmt.Errorf("%s: read %s %d..%d: %w", d.name, funcNames[r.fn], r.addr, int(r.addr)+int(r.count)-1, err)
		}
	}
	for i := range d.fields {
		f := &d.fields[i]
		v := f.value(d.reqs[f.req].items)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: %s is %v: %w", d.name, d.chans[i].Name, v, sensor.ErrRange)
		}
		dst[i] = v
	}
	return nil
}

// Halt implements sensor.Sensor: it drops the Dev's hold on a shared bus. There is no background
// work; the board closes the port.
func (d *Dev) Halt() error {
	if d.halted.Swap(true) {
		return nil
	}
	if d.release != nil {
		d.release()
	}
	return nil
}

var _ sensor.Sensor = (*Dev)(nil)
