package ads1115

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

var probe = i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}} // config: reset value

// convOps is one conversion with DefaultOpts (AIN0, ±4.096 V, 128 SPS): config 0xC383.
func convOps(code uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x01, 0xC3, 0x83}},                             // config: OS=1, MUX=100, PGA=001, MODE=1, DR=100, QUE=11
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0xC3, 0x83}},                  // poll config: OS=1, done
		{Addr: 0x48, W: []byte{0x00}, R: []byte{byte(code >> 8), byte(code)}}, // conversion register
	}
}

func newTestDev(t *testing.T, opts *Opts, more ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{probe}, more...), DontPanic: true}
	d, err := New(bus, 0x48, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func TestConfigTable8(t *testing.T) {
	// The reset value of the config register (table 8) is what Config gives for its fields.
	if got := Config(&Opts{Mux: Diff01, Gain: FS2048, Rate: SPS128}); got != 0x8583 {
		t.Errorf("reset fields: %#04x, want 0x8583", got)
	}
	// OS | MUX 111 | PGA 101 | MODE | DR 111 | COMP_QUE 11.
	if got := Config(&Opts{Mux: AIN3, Gain: FS256, Rate: SPS860}); got != 0xFBE3 {
		t.Errorf("AIN3 ±0.256 V 860 SPS: %#04x, want 0xFBE3", got)
	}
}

func TestVoltsTables(t *testing.T) {
	// Table 1: LSB size per full-scale range.
	lsb := map[Gain]float64{FS6144: 187.5e-6, FS4096: 125e-6, FS2048: 62.5e-6, FS1024: 31.25e-6, FS512: 15.625e-6, FS256: 7.8125e-6}
	for g, want := range lsb {
		if got := Volts(1, g); math.Abs(got-want) > 1e-15 {
			t.Errorf("gain %d: LSB %v V, want %v", g, got, want)
		}
	}
	// Table 3: 0x7FFF is +FS(2^15-1)/2^15, 0xFFFF is -FS/2^15, 0x8000 is -FS.
	if got := Volts(0x7FFF, FS2048); math.Abs(got-2.048*32767/32768) > 1e-12 {
		t.Errorf("0x7FFF: %v", got)
	}
	if got := Volts(-1, FS2048); math.Abs(got+62.5e-6) > 1e-15 {
		t.Errorf("0xFFFF: %v", got)
	}
	if got := Volts(-0x8000, FS2048); got != -2.048 {
		t.Errorf("0x8000: %v", got)
	}
}

func TestSample(t *testing.T) {
	slept := noSleep(t)
	ops := convOps(12000)
	// One busy poll first: OS reads 0 while converting.
	ops = append(ops[:1], append([]i2ctest.IO{{Addr: 0x48, W: []byte{0x01}, R: []byte{0x43, 0x83}}}, ops[1:]...)...)
	ops = append(ops, convOps(12001)...)
	d, bus := newTestDev(t, nil, ops...)
	if d.String() != "ads1115(playback@0x48)" {
		t.Errorf("name %q", d)
	}
	if ch := d.Channels(); len(ch) != 1 || ch[0] != (sensor.Channel{Name: "voltage", Unit: "V"}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 1)
	if err := d.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 1.5 { // 12000 * 125 µV
		t.Errorf("got %v V, want 1.5", dst[0])
	}
	v, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	if v != 1500125*physic.MicroVolt {
		t.Errorf("Read %v, want 1.500125 V", v)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// 1/128 s + 10 %, then one poll interval of a tenth of a period.
	if (*slept)[0] != 8593750*time.Nanosecond || (*slept)[1] != 781250*time.Nanosecond {
		t.Errorf("slept %v", *slept)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&i2ctest.Playback{}, 0x47, nil); err == nil {
		t.Error("address 0x47 accepted")
	}
	if _, err := New(&i2ctest.Playback{}, 0x48, &Opts{Gain: 6}); err == nil {
		t.Error("gain 6 accepted")
	}
	if _, err := New(&i2ctest.Playback{DontPanic: true}, 0x49, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}
}

func TestSampleTimeout(t *testing.T) {
	noSleep(t)
	ops := convOps(0)[:1]
	for i := 0; i <= maxPolls; i++ {
		ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x43, 0x83}}) // still converting
	}
	d, bus := newTestDev(t, nil, ops...)
	if err := d.Sample(time.Time{}, make([]float64, 1)); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleBusError(t *testing.T) {
	noSleep(t)
	d, _ := newTestDev(t, nil, convOps(0)[:2]...) // conversion register read NACKed
	if err := d.Sample(time.Time{}, make([]float64, 1)); !errors.Is(err, sensor.ErrBus) {
		t.Fatalf("got %v", err)
	}
}

func TestSampleClipped(t *testing.T) {
	noSleep(t)
	d, _ := newTestDev(t, nil, append(convOps(0x7FFF), convOps(0x8000)...)...)
	for _, name := range []string{"+FS", "-FS"} {
		if err := d.Sample(time.Time{}, make([]float64, 1)); !errors.Is(err, sensor.ErrRange) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSampleStuck(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for range 3 {
		ops = append(ops, convOps(12000)...)
	}
	ops = append(ops, convOps(12001)...) // one LSB of noise again
	opts := DefaultOpts
	opts.StuckAfter = 3
	d, bus := newTestDev(t, &opts, ops...)
	drivertest.ExpectStuck(t, d, 3)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := range 202 {
		ops = append(ops, convOps(12000+uint16(i))...)
	}
	bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{probe}, ops...)}
	d, err := New(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	sleep = func(time.Duration) {}
	dst := make([]float64, 1)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Dev.Sample allocates %v times", n)
	}
}
