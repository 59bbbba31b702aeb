package modbus

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// validOptions are the defaults with a one-register map.
func validOptions() Options {
	o := DefaultOptions
	o.Registers = []Register{reg("temperature", "Cel", "holding", 0, "i16")}
	return o
}

func reg(name, unit, fn string, addr int, typ string) Register {
	r := DefaultRegister
	r.Name, r.Unit, r.Function, r.Address, r.Type = name, unit, fn, addr, typ
	return r
}

func regs(r ...Register) func(o *Options) { return func(o *Options) { o.Registers = r } }

func TestOptionsValidate(t *testing.T) {
	f32 := reg("power", "W", "input", 12, "f32")
	badOrder := f32
	badOrder.WordOrder = "middle"
	zeroScale := f32
	zeroScale.Scale = 0
	drivertest.ExpectBadOptions(t, validOptions(), []drivertest.BadOption[Options]{
		{Field: "baud", Set: func(o *Options) { o.Baud = 9601 }},
		{Field: "parity", Set: func(o *Options) { o.Parity = "mark" }},
		{Field: "stop_bits", Set: func(o *Options) { o.StopBits = 3 }},
		{Field: "slave", Set: func(o *Options) { o.Slave = 0 }},
		{Field: "slave", Set: func(o *Options) { o.Slave = 248 }},
		{Field: "timeout", Set: func(o *Options) { o.Timeout = 0 }},
		{Field: "max_read", Set: func(o *Options) { o.MaxRead = 126 }},
		{Field: "registers", Set: regs()},
		{Field: "registers[0].name", Set: regs(reg("Bad Name", "V", "input", 0, "u16"))},
		{Field: "registers[1].name", Set: regs(reg("v", "V", "input", 0, "u16"), reg("v", "V", "input", 1, "u16"))},
		{Field: "registers[0].unit", Set: regs(reg("t", "degC", "input", 0, "u16"))},
		{Field: "registers[0].function", Set: regs(reg("t", "Cel", "analog", 0, "u16"))},
		{Field: "registers[0].type", Set: regs(reg("t", "Cel", "input", 0, "f64"))},
		{Field: "registers[0].type", Set: regs(reg("door", "/", "coil", 0, "u16"))},
		{Field: "registers[0].type", Set: regs(reg("t", "Cel", "input", 0, "bit"))},
		{Field: "registers[0].word_order", Set: regs(badOrder)},
		{Field: "registers[0].scale", Set: regs(zeroScale)},
		{Field: "registers[0].address", Set: regs(reg("t", "Cel", "input", -1, "u16"))},
		{Field: "registers[0].address", Set: regs(reg("t", "Cel", "input", 65535, "u32"))}, // 65535..65536
		{Field: "registers[0].address", Set: regs(reg("t", "Cel", "input", 70000, "u16"))},
		// power takes 12..13: a u16 at 13 overlaps it, one at 14 does not (checked below).
		{Field: "registers[1].address", Set: regs(f32, reg("pf", "/", "input", 13, "u16"))},
		{Field: "registers[1].address", Set: regs(reg("pf", "/", "input", 11, "u32"), f32)},
	}, func(o *Options) error {
		_, err := NewWithOptions(nil, "x", o)
		return err
	})
	o := validOptions()
	// Same address in another function, abutting registers and the last register: all fine.
	o.Registers = []Register{f32, reg("pf", "/", "input", 14, "u16"), reg("setpoint", "Cel", "holding", 12, "u16"),
		reg("door", "/", "coil", 12, "bit"), reg("top", "count", "input", 65535, "u16")}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// Several faults are reported together, each with its path.
	o.Registers = []Register{reg("a", "x", "input", 0, "u16"), reg("b", "V", "input", 0, "u16")}
	err := o.Validate()
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *sensor.FieldError
		if errors.As(e, &fe) {
			paths = append(paths, fe.Field)
		}
	}
	if strings.Join(paths, " ") != "registers[0].unit registers[1].address" {
		t.Fatalf("paths %v: %v", paths, err)
	}
}

// TestRegisterYAML: an entry leaves out what DefaultRegister has; a coil or discrete input is a bit.
func TestRegisterYAML(t *testing.T) {
	o := DefaultOptions
	src := `{slave: 3, registers: [{name: t, unit: Cel, address: 1, scale: 0.1}, {name: door, unit: /, function: coil, address: 0},
	  {name: e, unit: kWh, function: input, address: 72, type: f32, word_order: low_first}]}`
	if err := yaml.Unmarshal([]byte(src), &o); err != nil {
		t.Fatal(err)
	}
	want := []Register{
		{Name: "t", Unit: "Cel", Function: "holding", Address: 1, Type: "u16", WordOrder: "high_first", Scale: 0.1},
		{Name: "door", Unit: "/", Function: "coil", Address: 0, Type: "bit", WordOrder: "high_first", Scale: 1},
		{Name: "e", Unit: "kWh", Function: "input", Address: 72, Type: "f32", WordOrder: "low_first", Scale: 1},
	}
	if len(o.Registers) != 3 || o.Registers[0] != want[0] || o.Registers[1] != want[1] || o.Registers[2] != want[2] || o.Slave != 3 || o.Baud != 9600 {
		t.Fatalf("decoded %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}
