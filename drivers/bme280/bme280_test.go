package bme280

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// exampleCal is the calibration of the BMP280 datasheet's worked example (BMP280 section 3.12,
// "Calculating pressure and temperature", table of example values), extended with humidity
// parameters of the usual BME280 magnitude, which no Bosch example gives.
var exampleCal = calibration{
	t1: 27504, t2: 26435, t3: -1000,
	p1: 36477, p2: -10685, p3: 3024, p4: 2855, p5: 140, p6: -7, p7: 15500, p8: -14600, p9: 6000,
	h1: 75, h2: 362, h3: 0, h4: 333, h5: 0, h6: 30,
}

// Raw values of the same example: adc_T = 519888 (0x7EED0), adc_P = 415148 (0x655AC). The datasheet
// gives T = 25.08 °C (t_fine 128422) and p = 100653.27 Pa for them.
var (
	exampleRawBMP = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00}
	exampleRawBME = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x6F, 0xF0} // adc_H = 0x6FF0
)

// encodeCal lays calibration out as the part stores it (BME280 table 16).
func encodeCal(c calibration) (c1, c2 []byte) {
	c1 = make([]byte, lenCalib1)
	le := binary.LittleEndian
	for i, v := range []uint16{c.t1, uint16(c.t2), uint16(c.t3), c.p1, uint16(c.p2), uint16(c.p3),
		uint16(c.p4), uint16(c.p5), uint16(c.p6), uint16(c.p7), uint16(c.p8), uint16(c.p9)} {
		le.PutUint16(c1[2*i:], v)
	}
	c1[25] = c.h1
	c2 = make([]byte, lenCalib2)
	le.PutUint16(c2[0:], uint16(c.h2))
	c2[2] = c.h3
	c2[3] = byte(c.h4 >> 4)
	c2[4] = byte(c.h4&0x0F) | byte(c.h5&0x0F)<<4
	c2[5] = byte(c.h5 >> 4)
	c2[6] = byte(c.h6)
	return c1, c2
}

func noSleep(t *testing.T) *[]time.Duration { return drivertest.RecordSleeps(t, &sleep) }

// initOps is the constructor's traffic for chip id id.
func initOps(addr uint16, id byte, c calibration) []i2ctest.IO {
	c1, c2 := encodeCal(c)
	ops := []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{id}},   // chip id
		{Addr: addr, W: []byte{0xE0, 0xB6}},            // soft reset
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}}, // status: NVM copy done
		{Addr: addr, W: []byte{0x88}, R: c1},           // calibration 0x88..0xA1
	}
	if id == 0x60 {
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0xE1}, R: c2}) // humidity calibration 0xE1..0xE7
	}
	return append(ops, i2ctest.IO{Addr: addr, W: []byte{0xF5, 0x00}}) // config: filter off
}

// sampleOps is one forced measurement with default options.
func sampleOps(addr uint16, bme bool, raw []byte) []i2ctest.IO {
	ctrl := []byte{0xF4, 0x25} // ctrl_meas: osrs_t 001, osrs_p 001, forced
	if bme {
		ctrl = []byte{0xF2, 0x01, 0xF4, 0x25} // ctrl_hum osrs_h 001, then ctrl_meas
	}
	return []i2ctest.IO{
		{Addr: addr, W: ctrl},                          // start forced measurement
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}}, // status: not measuring
		{Addr: addr, W: []byte{0xF7}, R: raw},          // data burst 0xF7..
	}
}

func TestBMP280DatasheetExample(t *testing.T) {
	slept := noSleep(t)
	bus := &i2ctest.Playback{Ops: append(initOps(0x77, 0x58, exampleCal), sampleOps(0x77, false, exampleRawBMP)...)}
	d, err := New(bus, 0x77, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "bmp280(playback@0x77)" || d.IsBME280() {
		t.Fatalf("got %q bme=%v", d, d.IsBME280())
	}
	if got := d.Channels(); len(got) != 2 || got[0].Unit != "Cel" || got[1].Unit != "Pa" {
		t.Fatalf("channels %v", got)
	}
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 25.08 {
		t.Errorf("temperature %v, datasheet says 25.08 °C", dst[0])
	}
	// The datasheet's 100653.27 Pa comes from its double-precision formula; the 64 bit integer one
	// lands within its 1/256 Pa resolution plus rounding (100653.254 here).
	if math.Abs(dst[1]-100653.27) > 0.05 {
		t.Errorf("pressure %v, datasheet says 100653.27 Pa", dst[1])
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// reset wait, then the 1x/1x measurement time: BMP280 table 13 gives 6.4 ms max.
	if want := []time.Duration{2 * time.Millisecond, 6425 * time.Microsecond}; !equalDurations(*slept, want) {
		t.Errorf("slept %v, want %v", *slept, want)
	}
}

// pressureFloat is the datasheet's double-precision pressure formula (BMP280 section 8.1), used to
// confirm the example's 100653.27 Pa independently of the integer code under test.
func pressureFloat(c calibration, adcP, tFine float64) float64 {
	v1 := tFine/2 - 64000
	v2 := v1 * v1 * float64(c.p6) / 32768
	v2 += v1 * float64(c.p5) * 2
	v2 = v2/4 + float64(c.p4)*65536
	v1 = (float64(c.p3)*v1*v1/524288 + float64(c.p2)*v1) / 524288
	v1 = (1 + v1/32768) * float64(c.p1)
	p := 1048576 - adcP
	p = (p - v2/4096) * 6250 / v1
	v1 = float64(c.p9) * p * p / 2147483648
	v2 = p * float64(c.p8) / 32768
	return p + (v1+v2+float64(c.p7))/16
}

// tFineFloat is the datasheet's double-precision temperature formula (BMP280 section 8.1).
func tFineFloat(c calibration, adcT float64) (var1, var2 float64) {
	var1 = (adcT/16384 - float64(c.t1)/1024) * float64(c.t2)
	d := adcT/131072 - float64(c.t1)/8192
	return var1, d * d * float64(c.t3)
}

func TestPressureFormulas(t *testing.T) {
	c := exampleCal
	// The example table lists the intermediate values too: var1 = 128793.1787, var2 = -370.8917.
	v1, v2 := tFineFloat(c, 519888)
	if math.Abs(v1-128793.1787) > 1e-4 || math.Abs(v2+370.8917) > 1e-4 || math.Abs((v1+v2)/5120-25.08) > 0.005 {
		t.Errorf("double temperature: var1=%v var2=%v", v1, v2)
	}
	if p := pressureFloat(c, 415148, v1+v2); math.Abs(p-100653.27) > 0.005 {
		t.Errorf("double formula: %v, datasheet says 100653.27", p)
	}
	if p := float64(c.compensateP(415148, 128422)) / 256; math.Abs(p-100653.27) > 0.05 {
		t.Errorf("int64 formula: %v", p)
	}
}

func TestCompensateTFine(t *testing.T) {
	c := exampleCal
	temp, tFine := c.compensateT(519888)
	if temp != 2508 || tFine != 128422 {
		t.Fatalf("T=%d t_fine=%d, datasheet example: 2508, 128422", temp, tFine)
	}
}

// humidityFloat is the BME280 datasheet's double-precision humidity formula (section 8.1), an
// independent check on the integer formula the driver uses.
func humidityFloat(c calibration, adcH, tFine float64) float64 {
	v := tFine - 76800
	v = (adcH - (float64(c.h4)*64 + float64(c.h5)/16384*v)) *
		(float64(c.h2) / 65536 * (1 + float64(c.h6)/67108864*v*(1+float64(c.h3)/67108864*v)))
	v = v * (1 - float64(c.h1)*v/524288)
	return math.Max(0, math.Min(100, v))
}

func TestBME280Sample(t *testing.T) {
	noSleep(t)
	ops := initOps(0x76, 0x60, exampleCal)
	ops = append(ops[:2], append([]i2ctest.IO{{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x01}}}, ops[2:]...)...) // status: NVM copy still running once
	s := sampleOps(0x76, true, exampleRawBME)
	s = append(s[:1], append([]i2ctest.IO{{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x08}}}, s[1:]...)...) // status: still measuring once
	ops = append(ops, s...)
	ops = append(ops, sampleOps(0x76, true, exampleRawBME)...) // second measurement for Sense
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, 0x76, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "bme280(playback@0x76)" || !d.IsBME280() {
		t.Fatalf("got %q", d)
	}
	ch := d.Channels()
	if len(ch) != 3 || ch[0] != (sensor.Channel{Name: "temperature", Unit: "Cel", Resolution: 0.01}) ||
		ch[1] != (sensor.Channel{Name: "humidity", Unit: "%RH", Resolution: 1.0 / 128}) || ch[2] != (sensor.Channel{Name: "pressure", Unit: "Pa", Resolution: 0.125}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 3)
	if err := d.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	wantH := humidityFloat(exampleCal, 0x6FF0, 128422)
	if dst[0] != 25.08 || math.Abs(dst[1]-wantH) > 0.05 || math.Abs(dst[2]-100653.27) > 0.05 {
		t.Errorf("got %v, want [25.08 %.3f 100653.27]", dst, wantH)
	}
	if dst[1] < 1 || dst[1] > 99 {
		t.Errorf("humidity %v is not a plausible mid-range value", dst[1])
	}
	var env physic.Env
	if err := d.Sense(&env); err != nil {
		t.Fatal(err)
	}
	if env.Temperature != 25080*physic.MilliCelsius+physic.ZeroCelsius {
		t.Errorf("Sense temperature %v", env.Temperature)
	}
	if p := float64(env.Pressure) / float64(physic.Pascal); math.Abs(p-dst[2]) > 1e-6 {
		t.Errorf("Sense pressure %v", env.Pressure)
	}
	if h := float64(env.Humidity) / float64(physic.PercentRH); math.Abs(h-dst[1]) > 0.001 {
		t.Errorf("Sense humidity %v, Sample %v", env.Humidity, dst[1])
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsReachRegisters(t *testing.T) {
	noSleep(t)
	ops := initOps(0x76, 0x60, exampleCal)
	ops[len(ops)-1].W = []byte{0xF5, 0x04 << 2} // config: filter x16
	s := sampleOps(0x76, true, exampleRawBME)
	// ctrl_hum osrs_h=x4 (011); ctrl_meas osrs_t=x2 (010), osrs_p=x16 (101), forced (01).
	s[0].W = []byte{0xF2, 0x03, 0xF4, 0x2<<5 | 0x5<<2 | 0x1}
	bus := &i2ctest.Playback{Ops: append(ops, s...)}
	d, err := New(bus, 0x76, &Opts{Temperature: O2x, Pressure: O16x, Humidity: O4x, Filter: F16})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(time.Time{}, make([]float64, 3)); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxMeasureTime(t *testing.T) {
	// BMP280 table 13 (max measurement time per oversampling preset), rounded to 0.1 ms there.
	for _, c := range []struct {
		t, p int
		ms   float64
	}{{1, 1, 6.4}, {1, 2, 8.7}, {1, 4, 13.3}, {1, 8, 22.5}, {2, 16, 43.2}} {
		got := maxMeasureTime(c.t, c.p, 0).Seconds() * 1000
		if math.Abs(got-c.ms) > 0.05 {
			t.Errorf("T x%d P x%d: %.3f ms, table 13 says %.1f", c.t, c.p, got, c.ms)
		}
	}
	// BME280 section 9.1: 1.25 + 2.3 + 2.875 + 2.875 ms for 1x everywhere.
	if got := maxMeasureTime(1, 1, 1); got != 9300*time.Microsecond {
		t.Errorf("1x/1x/1x: %v", got)
	}
	// Section 9.1 at 16x everywhere: 1.25 + 2.3*16 + (2.3*16 + 0.575) * 2 = 112.8 ms; with humidity
	// skipped (section 3.5.3's indoor navigation takes T 2x, P 16x, H 1x: 1.25 + 4.6 + 37.375 +
	// 2.875 = 46.1 ms).
	if got := maxMeasureTime(16, 16, 16); got != 112800*time.Microsecond {
		t.Errorf("16x/16x/16x: %v", got)
	}
	if got := maxMeasureTime(2, 16, 1); got != 46100*time.Microsecond {
		t.Errorf("2x/16x/1x: %v", got)
	}
}

func TestParseCalibrationSharedNibbles(t *testing.T) {
	c := exampleCal
	c.h4, c.h5 = -349, -30 // negative 12 bit values sharing 0xE5
	c1, c2 := encodeCal(c)
	if got := parseCalibration(c1, c2); got != c {
		t.Fatalf("round trip: got %+v, want %+v", got, c)
	}
	// Hand-made bytes: 0xE4=0x14, 0xE5=0x0D, 0xE6=0x00 -> H4 = 0x14<<4|0xD = 333, H5 = 0.
	got := parseCalibration(c1, []byte{0x6A, 0x01, 0x00, 0x14, 0x0D, 0x00, 0x1E})
	if got.h2 != 362 || got.h4 != 333 || got.h5 != 0 || got.h6 != 30 {
		t.Fatalf("got %+v", got)
	}
}

func TestNewErrors(t *testing.T) {
	noSleep(t)
	if _, err := New(&i2ctest.Playback{}, 0x40, nil); err == nil {
		t.Error("address 0x40 accepted")
	}
	if _, err := New(&i2ctest.Playback{}, 0x76, &Opts{Temperature: Off, Pressure: O1x, Humidity: O1x}); err == nil {
		t.Error("temperature Off accepted")
	}

	// Wrong chip id: a BMP180 answers 0x55.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x55}}}}
	if _, err := New(bus, 0x76, nil); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("chip id 0x55: %v", err)
	}

	// Early BMP280 sample parts answer 0x56 and 0x57: they are BMP280s.
	for _, id := range []byte{0x56, 0x57} {
		bus := &i2ctest.Playback{Ops: initOps(0x76, id, exampleCal), DontPanic: true}
		if d, err := New(bus, 0x76, nil); err != nil || !strings.HasPrefix(d.String(), "bmp280(") {
			t.Errorf("chip id %#x: %v, %v", id, d, err)
		}
	}

	// NACK on the chip id: the script is empty, Playback returns an error.
	bus = &i2ctest.Playback{DontPanic: true}
	if _, err := New(bus, 0x76, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("NACK: %v", err)
	}

	// Calibration read cut short.
	bus = &i2ctest.Playback{Ops: initOps(0x76, 0x60, exampleCal)[:3], DontPanic: true}
	if _, err := New(bus, 0x76, nil); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("cut calibration: %v", err)
	}

	// Blank NVM.
	bus = &i2ctest.Playback{Ops: initOps(0x76, 0x60, calibration{})[:5], DontPanic: true}
	if _, err := New(bus, 0x76, nil); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("blank calibration: %v", err)
	}

	// NVM copy never ends.
	ops := initOps(0x76, 0x58, exampleCal)[:2]
	for i := 0; i <= maxPolls; i++ {
		ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x01}}) // status: im_update
	}
	bus = &i2ctest.Playback{Ops: ops}
	if _, err := New(bus, 0x76, nil); !errors.Is(err, sensor.ErrTimeout) {
		t.Errorf("im_update stuck: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func newBMP(t *testing.T, opts *Opts, more ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	bus := &i2ctest.Playback{Ops: append(initOps(0x76, 0x58, exampleCal), more...), DontPanic: true}
	d, err := New(bus, 0x76, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, bus
}

func TestSampleTimeout(t *testing.T) {
	noSleep(t)
	ops := []i2ctest.IO{{Addr: 0x76, W: []byte{0xF4, 0x25}}} // start forced measurement
	for i := 0; i <= maxPolls; i++ {
		ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x08}}) // status: measuring, forever
	}
	d, bus := newBMP(t, nil, ops...)
	if err := d.Sample(time.Time{}, make([]float64, 2)); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleBusError(t *testing.T) {
	noSleep(t)
	// The script stops after the status read: the data burst is NACKed.
	d, _ := newBMP(t, nil, sampleOps(0x76, false, exampleRawBMP)[:2]...)
	err := d.Sample(time.Time{}, make([]float64, 2))
	if !errors.Is(err, sensor.ErrBus) || sensor.Kind(err) != sensor.ErrBus {
		t.Fatalf("got %v", err)
	}
}

// TestSampleSkipped: the reset pattern in every data register is refused, but one channel at the
// mid-scale value a skipped measurement would show is a real reading (here about 80 kPa).
func TestSampleSkipped(t *testing.T) {
	noSleep(t)
	ops := sampleOps(0x76, false, []byte{0x80, 0, 0, 0x80, 0, 0})                                                          // reset values
	ops = append(ops, sampleOps(0x76, false, []byte{0x80, 0, 0, exampleRawBMP[3], exampleRawBMP[4], exampleRawBMP[5]})...) // pressure 0x80000 only
	d, _ := newBMP(t, nil, ops...)
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrFrame) {
		t.Fatalf("reset pattern: got %v", err)
	}
	if err := d.Sample(time.Time{}, dst); err != nil || dst[1] < 70000 || dst[1] > 90000 {
		t.Fatalf("raw pressure 0x80000: %v Pa, %v; want a reading near 80 kPa", dst, err)
	}
}

func TestSampleStuck(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := 0; i < 3; i++ {
		ops = append(ops, sampleOps(0x76, false, exampleRawBMP)...)
	}
	other := []byte{0x65, 0x5A, 0xD0, 0x7E, 0xED, 0x10} // one LSB of jitter on each
	ops = append(ops, sampleOps(0x76, false, other)...)
	d, bus := newBMP(t, &Opts{Temperature: O1x, Pressure: O1x, Humidity: O1x, StuckAfter: 3}, ops...)
	drivertest.ExpectStuck(t, d, 3)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleOutOfRange(t *testing.T) {
	noSleep(t)
	// adc_T = 0xB0000 gives about 87.6 °C with the example calibration: above the 85 °C limit.
	hot := []byte{0x65, 0x5A, 0xC0, 0xB0, 0x00, 0x00}
	// adc_P = 0xFFFF0 is the lowest pressure the ADC can show: far below 300 hPa.
	thin := []byte{0xFF, 0xFF, 0x00, 0x7E, 0xED, 0x00}
	d, bus := newBMP(t, nil, append(sampleOps(0x76, false, hot), sampleOps(0x76, false, thin)...)...)
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("hot: %v", err)
	}
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("thin: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	noSleep(t)
	var ops []i2ctest.IO
	for i := 0; i < 101; i++ { // AllocsPerRun runs once more than asked
		ops = append(ops, sampleOps(0x76, true, exampleRawBME)...)
	}
	bus := &i2ctest.Playback{Ops: append(initOps(0x76, 0x60, exampleCal), ops...)}
	d, err := New(bus, 0x76, nil)
	if err != nil {
		t.Fatal(err)
	}
	sleep = func(time.Duration) {}
	dst := make([]float64, 3)
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Time{}, dst); err != nil && !errors.Is(err, sensor.ErrStuck) {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
