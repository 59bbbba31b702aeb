package ads1115

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// decode reads a sensor's options mapping over DefaultOptions the way the registry does: strict,
// unknown keys refused.
func decode(t *testing.T, src string) Options {
	t.Helper()
	o := DefaultOptions
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("decode %q: %v", src, err)
	}
	return o
}

func TestDefaultOptionsValid(t *testing.T) {
	if err := DefaultOptions.Validate(); err != nil {
		t.Fatal(err)
	}
	o := decode(t, "{}")
	if o != DefaultOptions {
		t.Errorf("empty mapping: %+v", o)
	}
	o = decode(t, "{kind: noise, fast: 250ms, calibration_db: 0.7, meter: {low_volts: 0.5, low_db: 35, high_volts: 2.5, high_db: 135}}")
	if o.Fast != 250*time.Millisecond || o.Meter.HighDB != 135 || o.Meter.MarginDB != 3 || o.CalibrationDB != 0.7 {
		t.Errorf("noise mapping: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
}

// fields returns the Field of each *sensor.FieldError in err.
func fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *sensor.FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	return out
}

func TestValidate(t *testing.T) {
	cases := []struct {
		yaml string
		want []string // the fields refused, in order
	}{
		{"{kind: analog, unit: m, in_low: 1.0, in_high: 5.0, out_low: 0, out_high: 10, gain: 6.144, name: level}", nil},
		{"{kind: analog, channel: ain2-ain3, gain: 0.256, rate: 860, unit: A, scale: 10}", nil},
		{"{kind: analog, unit: /100, scale: 20, offset: -25, min: 0, max: 100}", nil},
		{"{kind: digital}", []string{"kind"}},
		{"{channel: ain4}", []string{"channel"}},
		{"{channel: ain1-ain2}", []string{"channel"}}, // not in the MUX table
		{"{gain: 5}", []string{"gain"}},
		{"{rate: 100}", []string{"rate"}},
		{"{stuck_after: -1}", []string{"stuck_after"}},
		// The analog keys without kind: analog: the meter would read the sensor as dB.
		{"{unit: m, scale: 2.5}", []string{"unit", "scale"}},
		{"{kind: analog, fast: 1s}", []string{"fast"}},
		{"{kind: analog, meter: {high_db: 120}}", []string{"meter"}},
		{"{fast: 5ms}", []string{"fast"}},
		{"{fast: 2s}", []string{"fast"}},
		{"{rate: 8}", []string{"fast"}}, // 137.5 ms a conversion > 125 ms
		{"{rate: 8, fast: 200ms}", nil},
		{"{calibration_db: 25}", []string{"calibration_db"}},
		{"{meter: {low_db: 130, high_db: 30}}", []string{"meter.high_db"}},
		{"{meter: {low_volts: 1, high_volts: 1}}", []string{"meter.high_volts"}},
		{"{meter: {margin_db: -1}}", []string{"meter.margin_db"}},
		{"{gain: 2.048, meter: {high_volts: 3.3}}", []string{"meter.high_volts"}},
		{"{kind: analog, unit: dBA}", []string{"unit"}},
		{"{kind: analog, unit: cel}", []string{"unit"}}, // case matters: Cel
		{"{kind: analog, name: ''}", []string{"name"}},
		{"{kind: analog, name: _level}", []string{"name"}},
		{"{kind: analog, name: 'water level'}", []string{"name"}},
		{"{kind: analog, scale: 0}", []string{"scale"}},
		{"{kind: analog, scale: .nan}", []string{"scale"}},
		{"{kind: analog, scale: 2, in_low: 1, in_high: 5, out_low: 0, out_high: 10, gain: 6.144}", []string{"scale"}},
		{"{kind: analog, in_low: 1, in_high: 1, out_low: 0, out_high: 10}", []string{"in_high"}},
		{"{kind: analog, in_low: 1, in_high: 5, out_low: 3, out_high: 3, gain: 6.144}", []string{"out_high"}},
		{"{kind: analog, in_low: 1, in_high: 5, out_low: 0, out_high: 10}", []string{"in_high"}}, // 5 V beyond ±4.096 V
		{"{kind: analog, min: 10, max: 5}", []string{"max"}},
		{"{kind: analog, channel: x, gain: 1, rate: 2, unit: y}", []string{"channel", "gain", "rate", "unit"}},
	}
	for _, c := range cases {
		o := decode(t, c.yaml)
		err := o.Validate()
		got := fields(err)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: refused %v, want %v (%v)", c.yaml, got, c.want, err)
		}
		if err != nil && len(got) == 0 {
			t.Errorf("%s: %v is not a FieldError", c.yaml, err)
		}
	}
}

func TestValidateMessages(t *testing.T) {
	o := decode(t, "{unit: m}")
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "unit: applies to kind analog only") || !strings.Contains(err.Error(), "kind: analog") {
		t.Errorf("got %v", err)
	}
	o = decode(t, "{channel: ain5}")
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "ain0-ain1") {
		t.Errorf("got %v", err)
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(&DefaultOptions); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"kind: noise", "channel: ain0", "gain: 4.096", "rate: 128", "fast: 125ms", "low_volts: 0.6"} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("effective options lack %q:\n%s", key, buf.String())
		}
	}
}

// TestFourToTwentyMilliamps: a 4-20 mA level transmitter for 0..10 m across a 250 Ω shunt on AIN1:
// 4 mA · 250 Ω = 1.0 V reads 0 m, 20 mA · 250 Ω = 5.0 V reads 10 m, so 3.0 V (12 mA) is 5.0 m. 5 V
// needs the ±6.144 V range: 187.5 µV per code (table 1), 3.0 V is code 16000 = 0x3E80.
func TestFourToTwentyMilliamps(t *testing.T) {
	noSleep(t)
	o := decode(t, "{kind: analog, channel: ain1, gain: 6.144, name: level, unit: m, in_low: 1.0, in_high: 5.0, out_low: 0, out_high: 10, min: -0.25, max: 10.25}")
	scale, offset := o.ScaleOffset()
	if scale != 2.5 || offset != -2.5 { // (10-0)/(5-1) m/V; 0 - 1·2.5
		t.Errorf("scale %v offset %v, want 2.5, -2.5", scale, offset)
	}
	if v := o.InputVolts(5); v != 3 {
		t.Errorf("InputVolts(5 m) = %v, want 3 V", v)
	}
	conv := func(code uint16) []i2ctest.IO {
		return []i2ctest.IO{
			{Addr: 0x48, W: []byte{0x01, 0xD1, 0x83}},                             // config: OS=1, MUX=101 (AIN1), PGA=000 (±6.144), MODE=1, DR=100 (128), QUE=11
			{Addr: 0x48, W: []byte{0x01}, R: []byte{0xD1, 0x83}},                  // poll: done
			{Addr: 0x48, W: []byte{0x00}, R: []byte{byte(code >> 8), byte(code)}}, // conversion
		}
	}
	ops := append([]i2ctest.IO{probe}, conv(0x3E80)...)
	ops = append(ops, conv(0x1000)...) // 4096 codes = 0.768 V = 3.07 mA: a broken loop
	bus := &i2ctest.Playback{Ops: ops}
	s, err := NewWithOptions(bus, 0x48, &o)
	if err != nil {
		t.Fatal(err)
	}
	if ch := s.Channels(); len(ch) != 1 || ch[0] != (sensor.Channel{Name: "level", Unit: "m"}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 1)
	if err := s.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	near(t, "level at 3.0 V", dst[0], 5.0, 1e-12)
	// 0.768 V · 2.5 - 2.5 = -0.58 m, below min -0.25 m.
	if err := s.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("broken loop: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialConfig: AIN2-AIN3 at ±0.256 V, 860 SPS, a shunt current in A with scale 10
// (0.1 Ω): config OS=1 MUX=011 PGA=101 MODE=1 DR=111 QUE=11 = 0xBBE3 (table 8). 7.8125 µV per
// code; code -1280 (0xFB00) is -10 mV, -0.1 A.
func TestDifferentialConfig(t *testing.T) {
	noSleep(t)
	o := decode(t, "{kind: analog, channel: ain2-ain3, gain: 0.256, rate: 860, name: current, unit: A, scale: 10}")
	if p, n := o.Inputs(); p != 2 || n != 3 {
		t.Errorf("inputs %d, %d", p, n)
	}
	ops := []i2ctest.IO{probe,
		{Addr: 0x48, W: []byte{0x01, 0xBB, 0xE3}},
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0xBB, 0xE3}},
		{Addr: 0x48, W: []byte{0x00}, R: []byte{0xFB, 0x00}},
	}
	bus := &i2ctest.Playback{Ops: ops}
	s, err := NewWithOptions(bus, 0x48, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 1)
	if err := s.Sample(time.Time{}, dst); err != nil {
		t.Fatal(err)
	}
	near(t, "current", dst[0], -0.1, 1e-12)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestChannelMuxTable8(t *testing.T) {
	// Table 8, MUX[2:0]: 000 AIN0-AIN1, 001 AIN0-AIN3, 010 AIN1-AIN3, 011 AIN2-AIN3, 100 AIN0,
	// 101 AIN1, 110 AIN2, 111 AIN3 (against GND).
	want := map[string]uint16{"ain0-ain1": 0, "ain0-ain3": 1, "ain1-ain3": 2, "ain2-ain3": 3, "ain0": 4, "ain1": 5, "ain2": 6, "ain3": 7}
	for ch, mux := range want {
		o := DefaultOptions
		o.Kind, o.Channel = KindAnalog, ch
		adc := o.adcOpts()
		if got := Config(&adc) >> 12 & 7; got != mux {
			t.Errorf("%s: MUX %03b, want %03b", ch, got, mux)
		}
	}
	// PGA[2:0] 000 ±6.144 .. 101 ±0.256; DR[2:0] 000 8 SPS .. 111 860 SPS.
	for i, g := range []float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256} {
		o := DefaultOptions
		o.Gain = g
		adc := o.adcOpts()
		if got := Config(&adc) >> 9 & 7; got != uint16(i) {
			t.Errorf("gain %v: PGA %03b", g, got)
		}
	}
	for i, r := range []int{8, 16, 32, 64, 128, 250, 475, 860} {
		o := DefaultOptions
		o.Rate = r
		adc := o.adcOpts()
		if got := Config(&adc) >> 5 & 7; got != uint16(i) {
			t.Errorf("rate %d: DR %03b", r, got)
		}
	}
}

func TestNewWithOptionsRefuses(t *testing.T) {
	o := DefaultOptions
	o.Gain = 3
	if _, err := NewWithOptions(&i2ctest.Playback{}, 0x48, &o); len(fields(err)) != 1 {
		t.Errorf("got %v", err)
	}
	if _, err := NewStepped(&i2ctest.Playback{}, 0x48, &Options{Kind: KindAnalog}); err == nil {
		t.Error("NewStepped opened an invalid analog")
	}
}

func TestNoiseInputVolts(t *testing.T) {
	o := DefaultOptions
	// SEN0232: 0.6 V at 30 dB, 50 dB per volt: 80 dB is 1.6 V; with calibration_db +2 the driver
	// reports 80 dB from the meter's 78 dB, 1.56 V.
	near(t, "80 dB", o.InputVolts(80), 1.6, 1e-12)
	o.CalibrationDB = 2
	near(t, "80 dB, +2", o.InputVolts(80), 1.56, 1e-12)
}

func TestMeterDB(t *testing.T) {
	// SEN0232: 0.6 V is 30 dB, 2.6 V is 130 dB, 50 dB per volt: 1.6 V is 80 dB.
	for v, want := range map[float64]float64{0.6: 30, 1.6: 80, 2.6: 130} {
		near(t, "SEN0232.DB", SEN0232.DB(v), want, 1e-9)
	}
	o := DefaultOptions
	o.CalibrationDB = 1
	l := o.NewLevels()
	l.Add(134) // 130 + 3 margin + 1 calibration: the top bin
	near(t, "top bin", l.Exceeded(10), 134, 1e-9)
}
