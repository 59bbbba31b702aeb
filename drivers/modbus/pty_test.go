//go:build linux

package modbus_test

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/drivers/modbus/modbusemu"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// line opens a pseudo-terminal pair, sets the driver's end to c with real termios (as the boards
// set a UART) and serves slaves on the other end.
func line(t *testing.T, c serialport.Config, slaves ...*modbusemu.Slave) (*os.File, *modbusemu.Line) {
	t.Helper()
	m, tty, err := serialport.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := serialport.Configure(tty, c); err != nil {
		t.Fatal(err)
	}
	l := modbusemu.Serve(m, slaves...)
	t.Cleanup(func() {
		tty.Close()
		m.Close()
		select {
		case <-l.Done():
		case <-time.After(5 * time.Second):
			t.Error("the emulated line did not stop")
		}
	})
	return tty, l
}

// soilProbe is slave id holding the Seeed S-Temp&VWC&EC-02's first three registers (manual V1.0,
// 5.2, p. 8): temperature i16 /100 °C, VWC u16 /100 %, EC u16 µS/cm; the values are the manual's
// own examples (5.3, p. 10): 0702H is 17.94 °C, 071DH is 18.21 %, 071DH is 1821 µS/cm.
func soilProbe(id byte) *modbusemu.Slave {
	s := modbusemu.NewSlave(id)
	s.Set(modbus.FuncReadHolding, 0, 0x0702, 0x071D, 0x071D)
	return s
}

// soilOptions reads the probe at slave id. The time-out is long: the tests share a loaded machine,
// and only the silent slave's own time-outs should ever expire.
func soilOptions(id int) *modbus.Options {
	o := modbus.DefaultOptions
	o.Slave = id
	o.Timeout = 2 * time.Second
	r := func(name, unit, typ string, addr int, scale float64) modbus.Register {
		x := modbus.DefaultRegister
		x.Name, x.Unit, x.Type, x.Address, x.Scale = name, unit, typ, addr, scale
		return x
	}
	// 1 µS/cm = 1e-4 S/m.
	o.Registers = []modbus.Register{r("temperature", "Cel", "i16", 0, 0.01), r("vwc", "%", "u16", 1, 0.01), r("ec", "S/m", "u16", 2, 1e-4)}
	return &o
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestSampleOverPTY: the driver reads the probe through a tty: one merged request, the readings the
// manual's examples say.
func TestSampleOverPTY(t *testing.T) {
	c := serialport.Config{Baud: 9600, Parity: serialport.Even, StopBits: 1}
	tty, l := line(t, c, soilProbe(1))
	o := soilOptions(1)
	o.Parity = "even"
	d, err := modbus.NewWithOptions(tty, "pty", o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Halt()
	dst := make([]float64, 3)
	if err := d.Sample(time.Now(), dst); err != nil {
		t.Fatal(err)
	}
	if !near(dst[0], 17.94) || !near(dst[1], 18.21) || !near(dst[2], 0.1821) {
		t.Fatalf("read %v, want 17.94 Cel, 18.21 %%, 0.1821 S/m", dst)
	}
	reqs := l.Requests()
	// One request, holding registers 0..2 of slave 1: 01 03 00 00 00 03 and the CRC.
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Frame[:6], []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x03}) {
		t.Fatalf("requests %v", reqs)
	}
	if d.String() != "modbus(pty#1)" {
		t.Errorf("String %q", d.String())
	}
}

// TestFaultsOverPTY: each kind of bad answer is an error of its own kind, counted apart in health;
// the bus recovers for the next Sample.
func TestFaultsOverPTY(t *testing.T) {
	s := soilProbe(5)
	tty, _ := line(t, serialport.Config{Baud: 19200}, s)
	o := soilOptions(5)
	o.Baud = 19200
	o.Timeout = 300 * time.Millisecond // one Silent case waits it out
	d, err := modbus.NewWithOptions(tty, "pty", o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Halt()
	var h sensor.Health
	dst := make([]float64, 3)
	for _, c := range []struct {
		fault modbusemu.Fault
		kind  error
	}{
		{modbusemu.Silent, sensor.ErrTimeout},
		{modbusemu.BadCRC, sensor.ErrCRC},
		{modbusemu.Truncated, sensor.ErrFrame},
		{modbusemu.WrongSlave, sensor.ErrFrame},
		{modbusemu.WrongFunction, sensor.ErrFrame},
		{modbusemu.Exception, sensor.ErrException},
	} {
		s.SetFault(c.fault, 0x06) // server device busy
		err := d.Sample(time.Now(), dst)
		if sensor.Kind(err) != c.kind {
			t.Errorf("fault %d: %v, want kind %v", c.fault, err, c.kind)
		}
		h.Record(err, time.Now())
		s.SetFault(modbusemu.OK, 0)
		if err := d.Sample(time.Now(), dst); err != nil || !near(dst[0], 17.94) {
			t.Errorf("after fault %d: %v %v", c.fault, dst, err)
		}
	}
	var ex *modbus.ExceptionError
	s.SetFault(modbusemu.Exception, 0x02)
	if err := d.Sample(time.Now(), dst); !errors.As(err, &ex) || ex.Code != 2 {
		t.Errorf("exception 02: %v", err)
	}
	snap := h.Snapshot()
	byName := map[string]uint64{}
	for i, n := range snap.ErrorsByKind {
		byName[sensor.ErrorKindNames[i]] = n
	}
	if byName["timeout"] != 1 || byName["crc"] != 1 || byName["frame"] != 3 || byName["exception"] != 1 || byName["other"] != 0 {
		t.Fatalf("health by kind %v", byName)
	}
	st := d.Bus().Stats()
	if st.Timeouts != 1 || st.CRCErrors != 1 || st.FrameErrors != 3 || st.Exceptions != 2 {
		t.Fatalf("bus stats %+v", st)
	}
}

const (
	rounds        = 8
	silentTimeout = 250 * time.Millisecond
)

// TestSilentSlaveDoesNotStall: two slaves share a line; one stops answering. The other's samples
// keep succeeding, each waiting at most one of the silent slave's time-outs; the silent slave's
// Sample gives up at its first time-out instead of trying every request.
func TestSilentSlaveDoesNotStall(t *testing.T) {
	quiet := soilProbe(2)
	quiet.Set(modbus.FuncReadInput, 0, 1, 2, 3, 4)
	quiet.SetFault(modbusemu.Silent, 0)
	tty, l := line(t, serialport.Config{Baud: 38400}, soilProbe(1), quiet)
	o1, o2 := soilOptions(1), soilOptions(2)
	o1.Baud, o2.Baud = 38400, 38400
	o2.Timeout = silentTimeout
	extra := modbus.DefaultRegister
	extra.Name, extra.Unit, extra.Function, extra.Address, extra.Type = "far", "count", "input", 3, "u16"
	o2.Registers = append(o2.Registers, extra) // a second request
	d1, err := modbus.NewWithOptions(tty, "pty", o1)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := modbus.NewWithOptions(tty, "pty", o2)
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Halt()
	defer d2.Halt()
	if d1.Bus() != d2.Bus() {
		t.Fatal("two sensors on one port got two buses")
	}
	var wg sync.WaitGroup
	var worst time.Duration
	var failed []error
	var mu sync.Mutex
	wg.Add(2)
	go func() {
		defer wg.Done()
		dst := make([]float64, 4)
		for range rounds {
			if err := d2.Sample(time.Now(), dst); sensor.Kind(err) != sensor.ErrTimeout {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		dst := make([]float64, 3)
		for range rounds {
			start := time.Now()
			err := d1.Sample(time.Now(), dst)
			el := time.Since(start)
			mu.Lock()
			worst = max(worst, el)
			if err != nil {
				failed = append(failed, err)
			}
			mu.Unlock()
		}
	}()
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("errors: %v", failed)
	}
	// At most one of the silent slave's time-outs, the drain after it (a t3.5 of silence) and our own
	// exchange; the bound leaves room for a loaded machine (4 time-outs) but not for waiting out the
	// silent slave's samples one after another (8 of them).
	if worst > 4*silentTimeout {
		t.Errorf("slave 1 waited up to %v for the bus", worst)
	}
	n := 0
	for _, r := range l.Requests() {
		if r.Frame[0] == 2 {
			n++
		}
	}
	if n != rounds {
		t.Errorf("the silent slave got %d requests in %d samples, want one per sample", n, rounds)
	}
	// Another sensor on the same port with other line settings is refused.
	o3 := soilOptions(3)
	if _, err := modbus.NewWithOptions(tty, "pty", o3); err == nil {
		t.Error("a 9600 baud slave joined a 38400 baud bus")
	}
}

// TestFrameGapOnWire: between the end of an answer and the next request the line is silent for at
// least t3.5 (serial line spec 2.5.1.1): 3.5 × 11 bits at 9600 baud is 4.01 ms.
func TestFrameGapOnWire(t *testing.T) {
	tty, l := line(t, serialport.Config{Baud: 9600}, soilProbe(1))
	o := soilOptions(1)
	o.MaxRead = 1 // three requests per Sample
	d, err := modbus.NewWithOptions(tty, "pty", o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Halt()
	dst := make([]float64, 3)
	for range 3 {
		if err := d.Sample(time.Now(), dst); err != nil {
			t.Fatal(err)
		}
	}
	reqs := l.Requests()
	if len(reqs) != 9 {
		t.Fatalf("%d requests, want 9", len(reqs))
	}
	const t35 = 4010 * time.Microsecond
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].Answered); gap < t35 {
			t.Errorf("request %d came %v after the answer before it, want at least %v", i, gap, t35)
		}
	}
}

// TestScanOverPTY: slaves 3 and 7 answer a scan of 1..10; 7 has no register 0 and answers with
// exception 02, which still means a device is there.
func TestScanOverPTY(t *testing.T) {
	seven := modbusemu.NewSlave(7)
	seven.Set(modbus.FuncReadInput, 0, 1)
	tty, _ := line(t, serialport.Config{Baud: 115200}, soilProbe(3), seven)
	bus, err := modbus.NewBus(tty, "pty", serialport.Config{Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	got := bus.Scan(1, 10, 300*time.Millisecond, nil)
	if len(got) != 2 || got[0].Slave != 3 || got[0].Note != "" || got[1].Slave != 7 || got[1].Note == "" {
		t.Fatalf("scan %+v", got)
	}
}
