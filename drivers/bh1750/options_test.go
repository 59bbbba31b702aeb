package bh1750

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

func TestOptionsValidate(t *testing.T) {
	drivertest.ExpectBadOptions(t, DefaultOptions, []drivertest.BadOption[Options]{
		{Field: "mode", Set: func(o *Options) { o.Mode = "H" }},
		{Field: "mt", Set: func(o *Options) { o.MT = 30 }},
		{Field: "mt", Set: func(o *Options) { o.MT = 255 }},
		{Field: "mt", Set: func(o *Options) { o.Mode, o.MT = "l", 31 }},
		{Field: "range", Set: func(o *Options) { o.Range = "sun" }},
		{Field: "range", Set: func(o *Options) { o.Range, o.MT = "sunlight", 100 }},
		{Field: "range", Set: func(o *Options) { o.Range, o.Mode = "sunlight", "h2" }},
		{Field: "stuck_after", Set: func(o *Options) { o.StuckAfter = -1 }},
	}, func(o *Options) error {
		_, err := NewWithOptions(&i2ctest.Playback{}, 0x23, o)
		return err
	})
}

// mtOps is New's script for MTreg opcodes hi, lo (01000_MT[7:5], 011_MT[4:0]).
func mtOps(hi, lo byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x23, W: []byte{0x01}}, // power on
		{Addr: 0x23, W: []byte{0x07}}, // reset data register
		{Addr: 0x23, W: []byte{hi}},
		{Addr: 0x23, W: []byte{lo}},
	}
}

// TestMeasurementTime checks the known answers of the datasheet's formulas ("adjust measurement
// result for influence of optical window"): MTreg opcodes, lux = count / 1.2 * 69 / MTreg (and / 2 in
// H-resolution mode 2), measurement time 180 ms * MTreg / 69.
func TestMeasurementTime(t *testing.T) {
	for _, c := range []struct {
		name    string
		o       Options
		hi, lo  byte // MTreg opcodes
		mode    byte
		count   uint16
		lux     float64
		maxWait time.Duration
	}{
		// The datasheet's own example: MTreg 138 = 1000_1010 -> 0100_0100, 0110_1010, twice the
		// sensitivity. 0x8390 = 33680 counts: 33680 / 1.2 * 69 / 138 = 14033.33 lx, in 360 ms.
		{"mt 138", Options{Mode: "h", MT: 138}, 0x44, 0x6A, 0x20, 0x8390, 14033.333, 360 * time.Millisecond},
		// Sunlight: MTreg 31 = 0001_1111 -> 0x40, 0x7F; 65534 / 1.2 * 69 / 31 = 54611.667 * 69 / 31 = 121555.00 lx, the
		// scale's top below saturation; 180 * 31 / 69 = 80.87 ms, rounded up to 81 ms.
		{"sunlight", Options{Mode: "h", MT: 69, Range: "sunlight"}, 0x40, 0x7F, 0x20, 0xFFFE, 121555.0, 81 * time.Millisecond},
		// MTreg 254 = 1111_1110 -> 0x47, 0x7E in mode h2: 1000 / 1.2 / 2 * 69 / 254 = 113.19 lx;
		// 180 * 254 / 69 = 662.6 ms -> 663 ms.
		{"h2 mt 254", Options{Mode: "h2", MT: 254}, 0x47, 0x7E, 0x21, 1000, 113.1890, 663 * time.Millisecond},
		// Defaults: 0x42, 0x65 (69); L-resolution waits its 24 ms maximum; 120 / 1.2 = 100 lx.
		{"l", Options{Mode: "l", MT: 69}, 0x42, 0x65, 0x23, 120, 100, 24 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			slept := noSleep(t)
			ops := append(mtOps(c.hi, c.lo), measureOps(c.mode, byte(c.count>>8), byte(c.count))...)
			bus := &i2ctest.Playback{Ops: ops}
			d, err := NewWithOptions(bus, 0x23, &c.o)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]float64, 1)
			if err := d.Sample(time.Time{}, dst); err != nil {
				t.Fatal(err)
			}
			if math.Abs(dst[0]-c.lux) > 0.001 {
				t.Errorf("%d counts: %v lx, want %v", c.count, dst[0], c.lux)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			if len(*slept) != 1 || (*slept)[0] != c.maxWait {
				t.Errorf("slept %v, want %v", *slept, c.maxWait)
			}
		})
	}
}
