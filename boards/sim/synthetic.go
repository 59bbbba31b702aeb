package sim

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Load parts are sim-only drivers with no hardware behind them: benchmark loads that exercise the
// gateway's pipeline at rates no emulated part reaches (every emulated part pays its real driver's
// bus work and measurement waits). They are not stand-ins for a real driver, so Drivers does not list
// them; gateway/config lists them in SimOnlyDrivers and refuses them on any board but sim.
//
// The synthetic part is a string of SyntheticChannels temperature probes read in one go: one model
// temperature per sample (the sensor's own stream, as for any part) plus a fixed offset per probe,
// so a sample costs one model evaluation and a copy, whatever the channel count. Channels are "t00"
// to "t99" in Cel; the bus kind is "sim" (configure it as `bus: sim`, no address).
var loads = map[string]*part{
	"synthetic": syntheticPart(),
}

// SyntheticChannels is the number of channels of the synthetic load part.
const SyntheticChannels = 100

// Loads lists the sim board's load parts (see loads), sorted.
func Loads() []string {
	names := make([]string, 0, len(loads))
	for n := range loads {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookup finds a driver's simulated part, a stand-in or a load.
func lookup(driver string) (*part, bool) {
	if p, ok := parts[driver]; ok {
		return p, true
	}
	p, ok := loads[driver]
	return p, ok
}

// probeOffsets are the synthetic probes' fixed offsets from the model temperature, within ±2 °C in
// steps of 0.01 °C (probes along a cabinet: near the fans, behind the electronics, by the door).
var probeOffsets = func() [SyntheticChannels]float64 {
	var off [SyntheticChannels]float64
	for i := range off {
		off[i] = quantize(2*math.Sin(float64(i)*2.399963), 0.01) // golden angle: spread, never repeating
	}
	return off
}()

func syntheticPart() *part {
	chans := make([]sensor.Channel, SyntheticChannels)
	for i := range chans {
		chans[i] = ch(fmt.Sprintf("t%02d", i), "Cel")
	}
	return &part{
		bus: "sim", in: []Kind{Temperature}, chans: chans,
		open: func(o *opened) error {
			d := &synthetic{name: o.spec.Name, chans: chans}
			o.dev = d
			o.stim = func(_ int64, in []float64, _ bool) error { d.celsius = in[0]; return nil }
			return nil
		},
		expect: func(in, out []float64, _ int64, _ time.Duration) error {
			probes(in[0], out)
			return nil
		},
	}
}

// probes stores each probe's reading for the model temperature celsius in dst.
func probes(celsius float64, dst []float64) {
	for i := range dst {
		dst[i] = celsius + probeOffsets[i]
	}
}

// synthetic is the load part's driver: it reports what stim last set.
type synthetic struct {
	name    string
	chans   []sensor.Channel
	celsius float64
	halted  bool
}

func (d *synthetic) String() string             { return "synthetic(" + d.name + ")" }
func (d *synthetic) Channels() []sensor.Channel { return d.chans }

func (d *synthetic) Sample(_ time.Time, dst []float64) error {
	if d.halted {
		return fmt.Errorf("sim: %s: sample after halt: %w", d, sensor.ErrBus)
	}
	if len(dst) != len(d.chans) {
		return fmt.Errorf("sim: %s: %d values for %d channels", d, len(dst), len(d.chans))
	}
	probes(d.celsius, dst)
	return nil
}

func (d *synthetic) Halt() error {
	d.halted = true
	return nil
}

var _ sensor.Sensor = (*synthetic)(nil)
