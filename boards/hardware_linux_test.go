package boards

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/modbus/modbusemu"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// TestHardwareModbusLine: on a real board's code path (the UART opened by device name, in raw mode
// with termios), two Modbus sensors on one UART get the same port and share it as slaves of one
// line; a sensor asking for other line settings, or another kind of part, is refused. The UART is
// the tty end of a pseudo-terminal, the slaves are emulated on the other end.
func TestHardwareModbusLine(t *testing.T) {
	m, tty, err := serialport.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	one, two := modbusemu.NewSlave(1), modbusemu.NewSlave(2)
	one.SetF32(modbus.FuncReadInput, 0, 230.5, false)
	two.Set(modbus.FuncReadHolding, 0, 0x0702) // 17.94 °C in hundredths (Seeed manual 5.3)
	modbusemu.Serve(m, one, two)
	// The board opens the tty by name, as /dev/ttyAMA1. Ours stays open until the end: when the last
	// descriptor of a pty's tty end closes, reads of the other end fail (EIO) and the line stops.
	defer tty.Close()
	p := &Profile{Name: "bench", UART: []Bus{{Name: "uart3", Device: tty.Name()}}}
	b := &hwBoard{p: p, uart: map[string]*os.File{}, serial: map[string]serialport.Config{}}
	defer b.Close()
	reg := func(name, unit, fn, typ string, scale float64) modbus.Register {
		r := modbus.DefaultRegister
		r.Name, r.Unit, r.Function, r.Type, r.Scale = name, unit, fn, typ, scale
		return r
	}
	o1, o2 := modbus.DefaultOptions, modbus.DefaultOptions
	o1.Parity, o2.Parity = "even", "even"
	o1.Registers = []modbus.Register{reg("voltage", "V", "input", "f32", 1)}
	o2.Slave, o2.Registers = 2, []modbus.Register{reg("temperature", "Cel", "holding", "i16", 0.01)}
	s1, err := b.OpenSensor(SensorSpec{Name: "meter", Driver: "modbus", Bus: "uart3", Interval: time.Second, Options: &o1})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.OpenSensor(SensorSpec{Name: "soil", Driver: "modbus", Bus: "uart3", Interval: time.Second, Options: &o2})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := serialport.Get(b.uart["uart3"]); err != nil || got.Baud != 9600 || got.StopBits != 1 {
		t.Fatalf("the UART is at %v (%v), want 9600 baud, 1 stop bit", got, err)
	}
	o3 := o2
	o3.Slave, o3.Baud = 3, 19200
	if _, err := b.OpenSensor(SensorSpec{Name: "x", Driver: "modbus", Bus: "uart3", Interval: time.Second, Options: &o3}); err == nil || !strings.Contains(err.Error(), "9600 8E1") {
		t.Errorf("a 19200 baud slave on the 9600 baud line: %v", err)
	}
	if _, err := b.OpenSensor(SensorSpec{Name: "pm", Driver: "pms5003", Bus: "uart3", Interval: time.Second}); err == nil {
		t.Error("a PMS5003 joined the Modbus line")
	}
	dst := make([]float64, 1)
	if err := s1.Sample(time.Now(), dst); err != nil || dst[0] != 230.5 {
		t.Fatalf("meter: %v %v", dst, err)
	}
	if err := s2.Sample(time.Now(), dst); err != nil || dst[0] < 17.9399 || dst[0] > 17.9401 {
		t.Fatalf("soil: %v %v", dst, err)
	}
	for _, s := range []interface{ Halt() error }{s1, s2} {
		if err := s.Halt(); err != nil {
			t.Error(err)
		}
	}
}
