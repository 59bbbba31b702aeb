package bme280

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

func TestOptionsValidate(t *testing.T) {
	if got := DefaultOptions.Opts(); got != DefaultOpts {
		t.Fatalf("DefaultOptions are %+v, DefaultOpts %+v", got, DefaultOpts)
	}
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "oversampling.temperature", Set: func(o *Options) { o.Oversampling.Temperature = "skip" }},
		{Field: "oversampling.temperature", Set: func(o *Options) { o.Oversampling.Temperature = "3" }},
		{Field: "oversampling.pressure", Set: func(o *Options) { o.Oversampling.Pressure = "32" }},
		{Field: "oversampling.humidity", Set: func(o *Options) { o.Oversampling.Humidity = "" }},
		{Field: "filter", Set: func(o *Options) { o.Filter = "1" }},
		{Field: "stuck_after", Set: func(o *Options) { o.StuckAfter = -1 }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&i2ctest.Playback{}, 0x76, o)
		return err
	})
}

// TestOptionsOnTheWire: register values from BME280 section 5.4 (ctrl_hum 0xF2 osrs_h[2:0]; ctrl_meas
// 0xF4 osrs_t[7:5] osrs_p[4:2] mode[1:0], forced = 01; config 0xF5 filter[4:2]; codes 000 skip,
// 001 1x, 010 2x, 011 4x, 100 8x, 101 16x; filter 000 off .. 100 16), ctrl_hum written before ctrl_meas
// (5.4.3), the wait t_measure,max of section 9.1, and the channels of the quantities measured. Values
// from the BMP280 worked example (25.08 °C, 100653.27 Pa).
func TestOptionsOnTheWire(t *testing.T) {
	for _, c := range []struct {
		name          string
		t, p, h, filt string
		config        byte
		ctrl          []byte
		wait          time.Duration
		channels      []string
		want          []float64
	}{
		// Humidity skipped, pressure 16x, filter 4: ctrl_hum 000, ctrl_meas 001 101 01 = 0x35,
		// config 010 << 2 = 0x08; 1.25 + 2.3 + 36.8 + 0.575 = 40.925 ms.
		{"no humidity", "1", "16", "skip", "4", 0x08, []byte{0xF2, 0x00, 0xF4, 0x35}, 40925 * time.Microsecond,
			[]string{"temperature", "pressure"}, []float64{25.08, 100653.27}},
		// Pressure skipped, temperature 2x, humidity 8x, filter 16: ctrl_hum 100, ctrl_meas 010 000
		// 01 = 0x41, config 100 << 2 = 0x10; 1.25 + 4.6 + 18.4 + 0.575 = 24.825 ms.
		{"no pressure", "2", "skip", "8", "16", 0x10, []byte{0xF2, 0x04, 0xF4, 0x41}, 24825 * time.Microsecond,
			[]string{"temperature", "humidity"}, []float64{25.08, -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			slept := noSleep(t)
			ops := initOps(0x76, 0x60, exampleCal)
			ops[len(ops)-1].W = []byte{0xF5, c.config}
			s := sampleOps(0x76, true, exampleRawBME)
			s[0].W = c.ctrl
			bus := &i2ctest.Playback{Ops: append(ops, s...)}
			o := DefaultOptions
			o.Oversampling.Temperature, o.Oversampling.Pressure, o.Oversampling.Humidity, o.Filter = c.t, c.p, c.h, c.filt
			d, err := NewWithOptions(bus, 0x76, &o)
			if err != nil {
				t.Fatal(err)
			}
			ch := d.Channels()
			if len(ch) != len(c.channels) {
				t.Fatalf("channels %v, want %v", ch, c.channels)
			}
			for i := range ch {
				if ch[i].Name != c.channels[i] {
					t.Errorf("channel %d %v, want %s", i, ch[i], c.channels[i])
				}
			}
			dst := make([]float64, len(ch))
			if err := d.Sample(time.Time{}, dst); err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if w >= 0 && math.Abs(dst[i]-w) > 0.05 {
					t.Errorf("%s %v, want %v", ch[i].Name, dst[i], w)
				}
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			if d.MeasureTime() != c.wait || len(*slept) != 2 || (*slept)[1] != c.wait {
				t.Errorf("waited %v (MeasureTime %v), want %v", *slept, d.MeasureTime(), c.wait)
			}
		})
	}
}

// TestSkippedReadsNotAFault: a skipped quantity reads 0x80000 (section 4.2.2); the measured ones
// decide, so a skipped pressure does not trip the reset-pattern check or the pressure range.
func TestSkippedReadsNotAFault(t *testing.T) {
	noSleep(t)
	raw := []byte{0x80, 0x00, 0x00, 0x7E, 0xED, 0x00, 0x6F, 0xF0} // pressure skipped
	s := sampleOps(0x76, true, raw)
	s[0].W = []byte{0xF2, 0x01, 0xF4, 0x21} // ctrl_meas 001 000 01
	bus := &i2ctest.Playback{Ops: append(initOps(0x76, 0x60, exampleCal), s...)}
	o := DefaultOptions
	o.Oversampling.Pressure = "skip"
	d, err := NewWithOptions(bus, 0x76, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 25.08 {
		t.Fatalf("%v %v", dst, err)
	}
}
