package sht4x

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func noSleep(t *testing.T) *[]time.Duration { return drivertest.RecordSleeps(t, &sleep) }

// reply builds a 6 byte reply with correct CRCs.
func reply(w0, w1 uint16) []byte {
	b := []byte{byte(w0 >> 8), byte(w0), 0, byte(w1 >> 8), byte(w1), 0}
	b[2] = CRC8(b[0:2])
	b[5] = CRC8(b[3:5])
	return b
}

var initOps = []i2ctest.IO{
	{Addr: 0x44, W: []byte{0x94}},                               // soft reset
	{Addr: 0x44, W: []byte{0x89}},                               // read serial number
	{Addr: 0x44, R: []byte{0x0F, 0x2A, 0x00, 0xBE, 0xEF, 0x92}}, // serial words 0x0F2A, 0xBEEF
}

func init() { initOps[2].R[2] = CRC8(initOps[2].R[0:2]) }

func measureOps(w0, w1 uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x44, W: []byte{0xFD}},  // measure T & RH, high repeatability
		{Addr: 0x44, R: reply(w0, w1)}, // 6 byte reply
	}
}

func TestConversion(t *testing.T) {
	// Equations of section 4.6 at the ends of the scale and one mid value.
	for _, c := range []struct {
		raw   uint16
		t, rh float64
	}{
		{0, -45, 0},        // RH formula gives -6, cropped to 0
		{0xFFFF, 130, 100}, // RH formula gives 119, cropped to 100
		{0x6666, -45 + 175*0.4, -6 + 125*0.4},
	} {
		if got := Celsius(c.raw); math.Abs(got-c.t) > 1e-9 {
			t.Errorf("Celsius(%#x) = %v, want %v", c.raw, got, c.t)
		}
		if got := RelativeHumidity(c.raw); math.Abs(got-c.rh) > 1e-9 {
			t.Errorf("RelativeHumidity(%#x) = %v, want %v", c.raw, got, c.rh)
		}
	}
}

func TestSample(t *testing.T) {
	slept := noSleep(t)
	// 0x6666 is 0.4 of full scale: T = 25 °C, RH = 44 %RH.
	bus := &i2ctest.Playback{Ops: append(append(initOps, measureOps(0x6666, 0x6666)...), measureOps(0x6666, 0x6667)...)}
	d, err := New(bus, 0x44, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Serial() != 0x0F2ABEEF || d.String() != "sht4x(playback@0x44)" {
		t.Fatalf("serial %#x name %q", d.Serial(), d)
	}
	if ch := d.Channels(); len(ch) != 2 || ch[0] != (sensor.Channel{Name: "temperature", Unit: "Cel", Resolution: 0.01}) || ch[1] != (sensor.Channel{Name: "humidity", Unit: "%RH", Resolution: 0.01}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	if math.Abs(dst[0]-25) > 1e-9 || math.Abs(dst[1]-44) > 1e-9 {
		t.Errorf("got %v, want [25 44]", dst)
	}
	var env physic.Env
	if err := d.Sense(&env); err != nil {
		t.Fatal(err)
	}
	if got := env.Temperature.Celsius(); math.Abs(got-25) > 1e-6 {
		t.Errorf("Sense temperature %v", env.Temperature)
	}
	if got := float64(env.Humidity) / float64(physic.PercentRH); math.Abs(got-(-6+125*float64(0x6667)/65535)) > 1e-4 {
		t.Errorf("Sense humidity %v", env.Humidity)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Millisecond, 10 * time.Millisecond, 8300 * time.Microsecond, 8300 * time.Microsecond}
	if len(*slept) != len(want) {
		t.Fatalf("slept %v", *slept)
	}
	for i := range want {
		if (*slept)[i] != want[i] {
			t.Fatalf("slept %v, want %v", *slept, want)
		}
	}
}

func TestSenseCropsHumidity(t *testing.T) {
	noSleep(t)
	bus := &i2ctest.Playback{Ops: append(append(initOps, measureOps(0x6666, 0xFFFF)...), measureOps(0x6666, 0x0000)...)}
	d, err := New(bus, 0x44, nil)
	if err != nil {
		t.Fatal(err)
	}
	var env physic.Env
	if err := d.Sense(&env); err != nil || env.Humidity != 100*physic.PercentRH {
		t.Errorf("high: %v %v", env.Humidity, err)
	}
	if err := d.Sense(&env); err != nil || env.Humidity != 0 {
		t.Errorf("low: %v %v", env.Humidity, err)
	}
}

func TestRepeatabilityCommand(t *testing.T) {
	slept := noSleep(t)
	ops := append([]i2ctest.IO{}, initOps...)
	ops = append(ops, i2ctest.IO{Addr: 0x45, W: []byte{0xE0}}, i2ctest.IO{Addr: 0x45, R: reply(0x6666, 0x6666)}) // low repeatability
	for i := range initOps {
		ops[i].Addr = 0x45
	}
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, 0x45, &Opts{Repeatability: Low})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(time.Time{}, make([]float64, 2)); err != nil {
		t.Fatal(err)
	}
	if got := (*slept)[len(*slept)-1]; got != 1600*time.Microsecond {
		t.Errorf("waited %v, datasheet max for low repeatability is 1.6 ms", got)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	noSleep(t)
	if _, err := New(&i2ctest.Playback{}, 0x40, nil); err == nil {
		t.Error("address 0x40 accepted")
	}
	// NACK on the soft reset.
	if _, err := New(&i2ctest.Playback{DontPanic: true}, 0x44, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}
	// Serial number with a bad CRC.
	bad := append([]i2ctest.IO{}, initOps[:2]...)
	bad = append(bad, i2ctest.IO{Addr: 0x44, R: []byte{0x0F, 0x2A, 0x00, 0xBE, 0xEF, 0x93}})
	if _, err := New(&i2ctest.Playback{Ops: bad}, 0x44, nil); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("bad serial CRC: %v", err)
	}
	// Script cut before the serial reply.
	if _, err := New(&i2ctest.Playback{Ops: initOps[:2], DontPanic: true}, 0x44, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("cut: %v", err)
	}
}

func newDev(t *testing.T, opts *Opts, more ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: append(append([]i2ctest.IO{}, initOps...), more...), DontPanic: true}
	d, err := New(bus, 0x44, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func TestSampleCRC(t *testing.T) {
	noSleep(t)
	for i := range 6 {
		if i == 2 || i == 5 {
			continue
		}
		ops := measureOps(0x6666, 0x6666)
		ops[1].R[i] ^= 0x01 // one flipped data bit
		d, _ := newDev(t, nil, ops...)
		if err := d.Sample(time.Time{}, make([]float64, 2)); !errors.Is(err, sensor.ErrCRC) {
			t.Errorf("flipped byte %d: %v", i, err)
		}
	}
}

func TestSampleTimeout(t *testing.T) {
	noSleep(t)
	// The measure command is acknowledged, every read is NACKed (script ends): data never ready.
	d, _ := newDev(t, nil, measureOps(0x6666, 0x6666)[:1]...)
	err := d.Sample(time.Time{}, make([]float64, 2))
	if !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleLateReply(t *testing.T) {
	noSleep(t)
	// First read NACKed (wrong length stands in for a NACK), second one answers.
	ops := []i2ctest.IO{{Addr: 0x44, W: []byte{0xFD}}, {Addr: 0x44, R: reply(0x6666, 0x6666)}}
	bus := &i2ctest.Playback{Ops: append(append([]i2ctest.IO{}, initOps...), ops...), DontPanic: true}
	d, err := New(bus, 0x44, nil)
	if err != nil {
		t.Fatal(err)
	}
	flaky := &nackOnce{Playback: bus}
	d.d.Bus = flaky
	if err := d.Sample(time.Time{}, make([]float64, 2)); err != nil {
		t.Fatal(err)
	}
	if !flaky.nacked {
		t.Fatal("no NACK injected")
	}
}

// nackOnce fails the first read.
type nackOnce struct {
	*i2ctest.Playback
	nacked bool
}

func (n *nackOnce) Tx(addr uint16, w, r []byte) error {
	if len(r) > 0 && !n.nacked {
		n.nacked = true
		return errors.New("nack")
	}
	return n.Playback.Tx(addr, w, r)
}

func TestSampleBusError(t *testing.T) {
	noSleep(t)
	d, _ := newDev(t, nil) // measure command NACKed
	if err := d.Sample(time.Time{}, make([]float64, 2)); !errors.Is(err, sensor.ErrBus) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleStuck(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, measureOps(0x6666, 0x7000)...)
	}
	ops = append(ops, measureOps(0x6667, 0x7000)...)
	d, bus := newDev(t, &Opts{StuckAfter: 3}, ops...)
	drivertest.ExpectStuck(t, d, 3)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleOutOfRange(t *testing.T) {
	noSleep(t)
	// 0x0400 is -45 + 175*1024/65535 = -42.3 °C; 0xFF00 is 129.3 °C: both beyond -40..125 °C.
	d, _ := newDev(t, nil, append(measureOps(0x0400, 0x6666), measureOps(0xFF00, 0x6666)...)...)
	dst := make([]float64, 2)
	for _, name := range []string{"cold", "hot"} {
		if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := range 101 {
		ops = append(ops, measureOps(0x6666+uint16(i), 0x6666)...)
	}
	d, _ := newDev(t, nil, ops...)
	sleep = func(time.Duration) {}
	dst := make([]float64, 2)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
}
