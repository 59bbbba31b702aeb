package modbus

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// Options configures one slave from sensors[].options; the registry decodes the mapping over a copy
// of DefaultOptions. Every sensor on one bus must give the same baud, parity and stop_bits.
type Options struct {
	// Baud is the bus's line speed: 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200.
	Baud int `yaml:"baud"`
	// Parity is none, even or odd. The serial line spec (2.5.1) makes even the default and asks for
	// 2 stop bits without parity; many devices ship with none and 1 (8N1), as this default does.
	Parity string `yaml:"parity"`
	// StopBits is 1 or 2.
	StopBits int `yaml:"stop_bits"`
	// Slave is the device's address on the bus, 1..247 (serial line spec 2.2).
	Slave int `yaml:"slave"`
	// Timeout is how long the slave may take to answer, on top of the time the request and the
	// answer take on the wire at the bus's baud rate, before the read counts as a timeout. The bus is
	// held meanwhile: keep it short, the device's answer time plus a margin.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRead caps the registers (or, for coils and inputs, 16 times as many bits) one request
	// reads, for devices that take less than the standard's 125.
	MaxRead int `yaml:"max_read"`
	// Registers is the register map: one entry per channel, each {name, unit, function, address,
	// type, word_order, scale, offset} (docs/modbus.md; configs/modbus has maps of real devices).
	// Adjacent entries of one function are read in one request.
	Registers []Register `yaml:"registers"`
}

// Register is one channel of a register map.
type Register struct {
	// Name is the channel's name, the SenML name suffix: "voltage".
	Name string `yaml:"name"`
	// Unit is the SenML unit of the value after scale and offset: "V", "Cel", "%RH", "kWh".
	Unit string `yaml:"unit"`
	// Function is where the value lives: holding (function 03), input (04), coil (01) or discrete
	// (discrete input, 02).
	Function string `yaml:"function"`
	// Address is the 0-based protocol address (register 40001 or 30001 of a manual is address 0).
	Address int `yaml:"address"`
	// Type is u16, i16, u32, i32 or f32 (IEEE 754) for registers; coils and discrete inputs are bit.
	Type string `yaml:"type"`
	// WordOrder of the 32-bit types: high_first (the first register holds the high word) or
	// low_first.
	WordOrder string `yaml:"word_order"`
	// Scale and Offset turn the raw value into the reported one: raw × scale + offset.
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
}

// resolution is the step of the reported value: an integer register's raw step times the scale (a
// temperature register in 0.01 °C with scale 0.01 reports 0.01 °C steps); 0 (undeclared, float32
// precision) for float registers, whose step the device does not say.
func (r *Register) resolution() float64 {
	if strings.HasPrefix(r.Type, "f") {
		return 0
	}
	return math.Abs(r.Scale)
}

// DefaultRegister is what a register map entry leaves out: a holding register read as u16, high
// word first, scale 1, offset 0.
var DefaultRegister = Register{Function: "holding", Type: "u16", WordOrder: "high_first", Scale: 1}

// UnmarshalYAML decodes an entry over DefaultRegister, so a map need not repeat the usual values.
func (r *Register) UnmarshalYAML(n *yaml.Node) error {
	type plain Register
	p := plain(DefaultRegister)
	if isBitFunction(n) {
		p.Type = "bit"
	}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = Register(p)
	return nil
}

// isBitFunction tells whether mapping n says function: coil or discrete.
func isBitFunction(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "function" {
			v := n.Content[i+1].Value
			return v == "coil" || v == "discrete"
		}
	}
	return false
}

// DefaultOptions: 9600 8N1, slave 1, 500 ms time-out, the standard's 125 registers per request,
// and no registers: a configuration must list them.
var DefaultOptions = Options{Baud: 9600, Parity: "none", StopBits: 1, Slave: 1, Timeout: 500 * time.Millisecond,
	MaxRead: MaxRegisters}

// Serial returns the line settings the options ask of the bus.
func (o *Options) Serial() serialport.Config {
	return serialport.Config{Baud: o.Baud, Parity: serialport.Parity(o.Parity), StopBits: o.StopBits}.Normal()
}

var functions = map[string]byte{"holding": FuncReadHolding, "input": FuncReadInput, "coil": FuncReadCoils, "discrete": FuncReadDiscreteInputs}

// widths are the registers each register type takes.
var widths = map[string]int{"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2}

// validName reports whether s is a register (channel) name: 1 to 48 of a-z, 0-9, '_', '.', '-', starting
// with a letter or digit (^[a-z0-9][a-z0-9_.-]{0,47}$). A plain check: a compiled regexp would stay on
// the heap for the life of the daemon.
func validName(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// Validate checks every field; it returns nil or the joined *sensor.FieldError values.
func (o *Options) Validate() error {
	var errs []error
	add := func(field, format string, a ...any) { errs = append(errs, sensor.Fieldf(field, format, a...)) }
	c := o.Serial()
	if err := c.Check(); err != nil {
		switch {
		case (serialport.Config{Baud: c.Baud}).Check() != nil:
			add("baud", "%v", err)
		case c.StopBits != 1 && c.StopBits != 2:
			add("stop_bits", "%v", err)
		default:
			add("parity", "%v", err)
		}
	}
	if o.Slave < 1 || o.Slave > 247 {
		add("slave", "%d is not a slave address; use 1..247 (0 is broadcast, 248..255 are reserved: serial line spec 2.2)", o.Slave)
	}
	if o.Timeout < 10*time.Millisecond || o.Timeout > 10*time.Second {
		add("timeout", "%v is not valid; use 10ms..10s, the slave's answer time plus a margin (e.g. 500ms)", o.Timeout)
	}
	if o.MaxRead < 1 || o.MaxRead > MaxRegisters {
		add("max_read", "%d is not valid; use 1..125 registers per request (application protocol spec 6.3)", o.MaxRead)
	}
	if len(o.Registers) == 0 {
		add("registers", "none; list the channels to read, e.g. [{name: voltage, unit: V, function: input, address: 0, type: f32}]")
	}
	errs = append(errs, checkRegisters(o.Registers)...)
	return errors.Join(errs...)
}

// checkRegisters checks each entry and that no two of one function overlap.
func checkRegisters(regs []Register) []error {
	var errs []error
	names := map[string]int{}
	type span struct{ i, lo, hi int }
	used := map[byte][]span{}
	for i, r := range regs {
		p := fmt.Sprintf("registers[%d]", i)
		add := func(field, format string, a ...any) { errs = append(errs, sensor.Fieldf(p+"."+field, format, a...)) }
		if !validName(r.Name) {
			add("name", "%q is not valid; use lower-case letters, digits, '_', '.' or '-', e.g. voltage", r.Name)
		} else if j, dup := names[r.Name]; dup {
			add("name", "%q is already the name of registers[%d]", r.Name, j)
		} else {
			names[r.Name] = i
		}
		if !sensor.IsSenMLUnit(r.Unit) {
			add("unit", "%q is not a SenML unit (RFC 8428 12.1, RFC 8798); e.g. V, A, W, kWh, Cel, %%RH, Pa, m, /", r.Unit)
		}
		fn, ok := functions[r.Function]
		if !ok {
			add("function", "%q is not valid; use holding, input, coil or discrete", r.Function)
			continue
		}
		width := 1
		switch {
		case isBits(fn) && r.Type != "bit":
			add("type", "%q is not valid for a %s; coils and discrete inputs are bit", r.Type, r.Function)
			continue
		case !isBits(fn):
			if width, ok = widths[r.Type]; !ok {
				add("type", "%q is not valid; use u16, i16, u32, i32 or f32 (bit is for coils and discrete inputs)", r.Type)
				continue
			}
		}
		if width == 2 && r.WordOrder != "high_first" && r.WordOrder != "low_first" {
			add("word_order", "%q is not valid; use high_first or low_first", r.WordOrder)
		}
		if r.Address < 0 || r.Address+width-1 > 0xFFFF {
			add("address", "%d is out of range: a %s of %d register(s) must lie within 0..65535 (0-based: register 40001 is address 0)", r.Address, r.Type, width)
			continue
		}
		if r.Scale == 0 {
			add("scale", "0 would report 0 whatever the device says; leave it out for 1")
		}
		lo, hi := r.Address, r.Address+width-1
		for _, s := range used[fn] {
			if lo <= s.hi && s.lo <= hi {
				add("address", "%d..%d overlaps registers[%d] (%s %d..%d); give each value its own registers", lo, hi, s.i, r.Function, s.lo, s.hi)
				break
			}
		}
		used[fn] = append(used[fn], span{i, lo, hi})
	}
	return errs
}
