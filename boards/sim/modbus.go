package sim

import (
	"hash/fnv"
	"math"
	"net"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/modbus/modbusemu"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// RS485 is an emulated RS-485 line: the driver's end of an in-memory pipe with read deadlines
// (net.Pipe), and a modbusemu.Line serving the emulated slaves on the other end. The sim board makes
// one per UART that Modbus sensors sit on, so they share it as slaves share a real bus.
type RS485 struct {
	name string
	drv  net.Conn
	emu  net.Conn
	line *modbusemu.Line

	mu     sync.Mutex
	refs   int
	closed bool
}

// NewRS485 returns an idle line named name ("uart3").
func NewRS485(name string) *RS485 {
	drv, emu := net.Pipe()
	return &RS485{name: name, drv: drv, emu: emu, line: modbusemu.Serve(emu)}
}

// Slave returns the emulated slave at id, nil when none is on the line.
func (l *RS485) Slave(id byte) *modbusemu.Slave { return l.line.Slave(id) }

func (l *RS485) hold() {
	l.mu.Lock()
	l.refs++
	l.mu.Unlock()
}

// release drops a sensor's hold; the last one closes the pipe, which ends the emulated line.
func (l *RS485) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs--; l.refs == 0 {
		l.drv.Close()
		l.emu.Close()
		l.closed = true
	}
}

// Closed reports whether the last sensor on the line halted: a new sensor needs a new line.
func (l *RS485) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// simModbus is the register map of a Modbus sensor opened without options (the sim's own tests): a
// temperature and humidity transmitter with a barometer, in the shapes field devices use: holding
// registers 0..1 (i16 and u16 in hundredths), input registers 0..1 (an f32 in Pa).
var simModbus = func() modbus.Options {
	o := modbus.DefaultOptions
	r := func(name, unit, fn string, addr int, typ string, scale float64) modbus.Register {
		x := modbus.DefaultRegister
		x.Name, x.Unit, x.Function, x.Address, x.Type, x.Scale = name, unit, fn, addr, typ, scale
		return x
	}
	o.Registers = []modbus.Register{r("temperature", "Cel", "holding", 0, "i16", 0.01), r("humidity", "%RH", "holding", 1, "u16", 0.01),
		r("pressure", "Pa", "input", 0, "f32", 1)}
	return o
}()

func modbusChans(o sensor.Options) []sensor.Channel {
	mo := modbusOptions(o)
	out := make([]sensor.Channel, len(mo.Registers))
	for i, r := range mo.Registers {
		out[i] = ch(r.Name, r.Unit)
	}
	return out
}

// modbusOptions returns the configured options, or simModbus when there are none.
func modbusOptions(o sensor.Options) *modbus.Options {
	if mo, ok := o.(*modbus.Options); ok && mo != nil && len(mo.Registers) > 0 {
		return mo
	}
	d := simModbus
	return &d
}

// modbusPart is a Modbus slave on an emulated RS-485 line: before each Sample its registers are set
// from the model, through the map's scale, offset and type, so the driver's reading is the model's
// value to the register's resolution. Units the model has drive their channels (Cel: temperature,
// %RH and %: humidity, Pa and hPa: pressure); others follow a cabinet supply's daily cycle
// (modbusQuantity).
func modbusPart() *part {
	return &part{
		in:       []Kind{Temperature, Humidity, Pressure},
		chans:    modbusChans(nil),
		chansFor: modbusChans,
		only:     map[string]bool{"temperature": true, "humidity": true, "pressure": true},
		open: func(o *opened) error {
			mo := modbusOptions(o.spec.Options)
			l := o.spec.Line
			if l == nil {
				l = NewRS485(o.spec.Port)
			}
			l.hold()
			s := l.Slave(byte(mo.Slave))
			if s == nil {
				s = modbusemu.NewSlave(byte(mo.Slave))
				l.line.Add(s)
			}
			o.close = l.release
			var items [2]uint16
			fill := func(ms int64, in []float64) {
				for i := range mo.Registers {
					r := &mo.Registers[i]
					n := encode(r, modbusQuantity(r, in, ms), items[:])
					s.Set(r.Func(), uint16(r.Address), items[:n]...)
				}
			}
			fill(0, []float64{20, 50, 101325}) // the registers exist before the first Sample
			d, err := modbus.NewWithOptions(l.drv, o.spec.Port, mo)
			o.dev = d
			o.stim = func(ms int64, in []float64, _ bool) error { fill(ms, in); return nil }
			return err
		},
		expect: func(in, out []float64, ms int64, _ time.Duration) error {
			var items [2]uint16
			for i := range simModbus.Registers {
				r := &simModbus.Registers[i]
				n := encode(r, modbusQuantity(r, in, ms), items[:])
				out[i] = r.Value(items[:n])
			}
			return nil
		},
	}
}

// modbusQuantity is the model's value for register map entry r: temperature, humidity and pressure
// from in by its unit; for the units of a cabinet's energy meter, a 230 V supply, a load following
// the time of day and the energy it adds up, each channel a little apart from its neighbours (by a
// hash of its name: three phases, import and export); otherwise a slow daily wave around 1.
func modbusQuantity(r *modbus.Register, in []float64, ms int64) float64 {
	day := math.Sin(2 * math.Pi * hourOfDay(ms) / 24)
	h := fnv.New32a()
	h.Write([]byte(r.Name))
	k := float64(h.Sum32()%1000) / 1000 // 0..1, fixed per channel name
	volts, amps := 228.5+3*k+2*day, (1+k)*(1.5+0.5*day)
	switch r.Unit {
	case "Cel":
		return in[0]
	case "%RH", "%":
		return in[1]
	case "Pa":
		return in[2]
	case "hPa":
		return in[2] / 100
	case "V":
		return volts
	case "A":
		return amps
	case "W", "VA":
		return volts * amps
	case "Hz":
		return 50 + 0.02*day
	case "kWh":
		return 1000*k + float64(ms%(1<<40))/3.6e9*0.35 // 350 W on average since the epoch's wrap
	}
	return (1 + k) * (1 + 0.5*day)
}

// encode stores v in the items register map entry r takes, as a device would: the raw value
// (v - offset) / scale rounded and clamped to the type. It returns how many items it used.
func encode(r *modbus.Register, v float64, items []uint16) int {
	raw := (v - r.Offset) / r.Scale
	clamp := func(lo, hi float64) float64 { return math.Min(math.Max(math.Round(raw), lo), hi) }
	var u uint32
	switch r.Type {
	case "bit":
		items[0] = 0
		if raw >= 0.5 {
			items[0] = 1
		}
		return 1
	case "u16":
		items[0] = uint16(clamp(0, math.MaxUint16))
		return 1
	case "i16":
		items[0] = uint16(int16(clamp(math.MinInt16, math.MaxInt16)))
		return 1
	case "u32":
		u = uint32(clamp(0, math.MaxUint32))
	case "i32":
		u = uint32(int32(clamp(math.MinInt32, math.MaxInt32)))
	case "f32":
		u = math.Float32bits(float32(raw))
	}
	hi, lo := uint16(u>>16), uint16(u)
	if r.WordOrder == "low_first" {
		hi, lo = lo, hi
	}
	items[0], items[1] = hi, lo
	return 2
}
