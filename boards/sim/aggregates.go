package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/wayside-iot/wayside/drivers/ads1115"
	"github.com/wayside-iot/wayside/drivers/ads1115/ads1115emu"
	"github.com/wayside-iot/wayside/drivers/ops243"
	"github.com/wayside-iot/wayside/drivers/ops243/ops243emu"
	"github.com/wayside-iot/wayside/drivers/pulse"
	"github.com/wayside-iot/wayside/drivers/pulse/pulsesim"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// The parts whose readings sum up an interval: the noise meter (fast samples), the radar (vehicles
// in its beam) and the loop detector (vehicles over its loops).

// optionsOr returns o as *T, or a copy of def when o is nil or another type.
func optionsOr[T any](o sensor.Options, def T) *T {
	if p, ok := any(o).(*T); ok && p != nil {
		return p
	}
	return &def
}

// isDefault reports whether o holds def's values: the sim then uses its own tuning.
func isDefault[T any](o sensor.Options, def T) bool {
	p, ok := any(o).(*T)
	return !ok || p == nil || reflect.DeepEqual(*p, def)
}

// fastSamples is how many fast noise samples one interval holds: at least one.
func fastSamples(interval, fast time.Duration) int {
	return max(1, int(interval/fast))
}

// noisePart is an ADS1115 reading a sound level meter's analog output (kind noise): before each
// Sample the part takes the interval's fast samples, the model's level at each fast tick before the
// sample's time, so the reading's LAeq, extremes and percentiles are exactly those of the model.
// Kind analog reads a voltage that follows the time of day.
func noisePart() *part {
	return &part{
		in:    []Kind{Noise},
		chans: ads1115.NoiseChannels,
		chansFor: func(o sensor.Options) []sensor.Channel {
			if ao := optionsOr(o, ads1115.DefaultOptions); ao.Kind == ads1115.KindAnalog {
				return []sensor.Channel{ch(ao.Name, ao.Unit)}
			}
			return ads1115.NoiseChannels
		},
		open: func(o *opened) error {
			ao := optionsOr(o.spec.Options, ads1115.DefaultOptions)
			e := ads1115emu.New(o.addr)
			if err := o.attach(e); err != nil {
				return err
			}
			pos, neg := ao.Inputs()
			if ao.Kind == ads1115.KindAnalog {
				d, err := ads1115.NewWithOptions(o.bus, o.addr, ao)
				o.dev = d
				o.stim = func(ms int64, _ []float64, _ bool) error {
					h := hourOfDay(ms)
					e.SetPair(pos, neg, ao.Gain*(0.3+0.2*math.Sin(2*math.Pi*h/24)))
					return nil
				}
				return err
			}
			m, err := ads1115.NewStepped(o.bus, o.addr, ao)
			if err != nil {
				return err
			}
			o.dev = m
			n, fast := fastSamples(o.spec.Interval, ao.Fast), ao.Fast.Milliseconds()
			o.stim = func(ms int64, _ []float64, _ bool) error {
				for i := n - 1; i >= 0; i-- {
					level, _ := o.model(Noise, ms-int64(i)*fast)
					e.SetPair(pos, neg, ao.InputVolts(level))
					if err := m.Step(); err != nil {
						return err
					}
				}
				return nil
			}
			return nil
		},
		expectAt: func(k uint64, model func(Kind, int64) (float64, bool), out []float64, ms int64, interval time.Duration) error {
			ao := ads1115.DefaultOptions
			l := ao.NewLevels()
			n, fast := fastSamples(interval, ao.Fast), ao.Fast.Milliseconds()
			pos, neg := ao.Inputs()
			for i := n - 1; i >= 0; i-- {
				level, _ := model(Noise, ms-int64(i)*fast)
				code, err := refADC.convert(pos, neg, ao.InputVolts(level))
				if err != nil {
					return err
				}
				db := ao.Meter.DB(ads1115.Volts(code, ads1115.DefaultNoiseOpts.ADC.Gain)) + ao.CalibrationDB
				if db < ao.Meter.LowDB-ao.Meter.MarginDB || db > ao.Meter.HighDB+ao.Meter.MarginDB {
					continue // the driver leaves an out-of-range fast sample out
				}
				l.Add(db)
			}
			if l.N() == 0 {
				return fmt.Errorf("sim: every fast noise sample out of the meter's range: %w", sensor.ErrRange)
			}
			l.Result(out)
			return nil
		},
	}
}

// refADC converts like the emulated part on the sim board, for Expected.
var refADC = struct {
	mu      sync.Mutex
	emu     *ads1115emu.Emu
	convert func(pos, neg int, volts float64) (int16, error)
}{}

func init() {
	refADC.emu = ads1115emu.New(0x48)
	refADC.convert = func(pos, neg int, volts float64) (int16, error) {
		refADC.mu.Lock()
		defer refADC.mu.Unlock()
		e := refADC.emu
		e.SetPair(pos, neg, volts)
		cfg := ads1115.Config(&ads1115.DefaultNoiseOpts.ADC)
		if err := e.Tx(0x48, []byte{0x01, byte(cfg >> 8), byte(cfg)}, nil); err != nil { // start a conversion
			return 0, err
		}
		var b [2]byte
		if err := e.Tx(0x48, []byte{0x00}, b[:]); err != nil { // conversion register
			return 0, err
		}
		return int16(binary.BigEndian.Uint16(b[:])), nil
	}
}

// radarGap is the sim radar's vehicle_gap when the sensor keeps the default options: each Sample
// with a vehicle in the beam waits it out, so a short one keeps sampling quick.
const radarGap = 10 * time.Millisecond

// radarPart is an OPS243 on its emulated serial line (ops243emu): the emulator powers on in mph and
// the driver configures it at open. When the model has a vehicle in the beam at a sample, the part
// passes one vehicle at the model's speed before the Sample, which counts it: count 1 and its speed
// as the radar prints it, else count 0.
func radarPart() *part {
	return &part{
		in:    []Kind{Speed},
		chans: []sensor.Channel{ch("count", "count"), ch("speed", "m/s"), ch("speed_p85", "m/s"), ch("speed_max", "m/s")},
		open: func(o *opened) error {
			ro := optionsOr(o.spec.Options, ops243.DefaultOptions)
			if isDefault(o.spec.Options, ops243.DefaultOptions) {
				ro.VehicleGap = radarGap
			}
			e := ops243emu.New()
			d, err := ops243.New(e, o.spec.Port, ro)
			o.dev, o.close = d, func() { e.Close() }
			o.stim = func(_ int64, in []float64, ok bool) error {
				if !ok {
					return nil // nothing in the beam: the radar stays silent
				}
				return e.Pass(in[0], ro.VehicleGap)
			}
			return err
		},
		expectAt: func(_ uint64, model func(Kind, int64) (float64, bool), out []float64, ms int64, _ time.Duration) error {
			clear(out)
			speed, ok := model(Speed, ms)
			if r := ops243emu.Reported(speed, ops243.MetrePerSecond); ok && r >= ops243.DefaultOptions.MinSpeed {
				out[0], out[1], out[2], out[3] = 1, r, r, r
			}
			return nil
		},
	}
}

// The loop detector's site: loops 1.8 m long, a speed trap's 4.5 m apart; a vehicle may arrive in
// each slot of loopSlot, early in it.
const (
	loopLength  = 1.8
	trapSpacing = 4.5
	loopSlot    = 1500 * time.Millisecond
)

// loopPart is a loop detector card (or an axle sensor) on emulated lines (pulsesim): vehicles
// arrive on a grid of slots of absolute time, one per slot at most, with the model's traffic
// (Vehicles per minute), speeds and lengths, and each Sample first feeds the edges up to its time.
// Every measure depends on when the previous sample really was (and headway on history), so
// Expected gives them for the nominal interval and they are not Checked: package pulse's tests
// check the detector against known answers.
func loopPart() *part {
	chans := func(o sensor.Options) []sensor.Channel {
		po := optionsOr(o, pulse.DefaultOptions)
		switch po.Mode {
		case pulse.ModeSpeedTrap:
			return []sensor.Channel{ch("volume", "count"), ch("occupancy", "%"), ch("headway", "s"), ch("gap", "s"),
				ch("matched", "count"), ch("speed", "m/s"), ch("speed_p85", "m/s"), ch("length", "m"), ch("unmatched", "count")}
		case pulse.ModeAxle:
			return []sensor.Channel{ch("vehicles", "count"), ch("axles", "count")}
		case pulse.ModeCount:
			if po.Rate {
				return []sensor.Channel{ch("count", "count"), ch("rate", "1/min")}
			}
			return []sensor.Channel{ch("count", "count")}
		}
		return []sensor.Channel{ch("volume", "count"), ch("occupancy", "%"), ch("headway", "s"), ch("gap", "s")}
	}
	return &part{
		in:       []Kind{Vehicles},
		chans:    chans(nil),
		chansFor: chans,
		// Every loop measure sums up the real time since the previous sample, which the model does
		// not know: Expected gives the nominal interval's values (the cabinet model uses them).
		unchecked: map[string]bool{"volume": true, "occupancy": true, "headway": true, "gap": true, "matched": true,
			"speed": true, "speed_p85": true, "length": true, "unmatched": true, "vehicles": true, "axles": true,
			"count": true, "rate": true},
		open: func(o *opened) error {
			po := optionsOr(o.spec.Options, pulse.DefaultOptions)
			names := o.spec.Pins
			if len(names) == 0 {
				names = []string{o.spec.Port}
			}
			idle := gpio.High
			if po.Active == "high" {
				idle = gpio.Low
			}
			pins := make([]*pulsesim.Pin, len(names))
			in := make([]gpio.PinIn, len(names))
			for i, n := range names {
				pins[i] = pulsesim.NewPin(n, idle)
				in[i] = pins[i]
			}
			d, err := pulse.NewWithOptions(in, po)
			if err != nil {
				return err
			}
			o.dev = d
			o.close = func() {
				for _, p := range pins {
					p.Halt()
				}
			}
			lines := make([]pulsesim.Line, len(pins))
			for i := range lines {
				lines[i] = pulsesim.Line{Offset: float64(i) * trapSpacing, LoopLength: loopLength,
					ActiveLow: po.Active != "high", AxlePulse: 10 * time.Millisecond}
			}
			if po.Mode == pulse.ModeSpeedTrap && po.Trap.Spacing > 0 {
				lines[1].Offset = po.Trap.Spacing
			}
			key := key(o.spec.Seed, o.spec.Name)
			var fedTo time.Time // edges up to here have been fed
			var vs []pulsesim.Vehicle
			timelines := make([][]pulse.Edge, len(pins))
			o.stim = func(ms int64, _ []float64, _ bool) error {
				now := time.UnixMilli(ms)
				// Vehicles before the first sample are not seen, nor those across a jump of the
				// clock (a correction once it is trusted, either way): the road did not replay them.
				if fedTo.IsZero() || now.Before(fedTo) || now.Sub(fedTo) > 2*o.spec.Interval+time.Minute {
					fedTo = now
				}
				// The vehicles whose edges may fall in (fedTo, now]: a vehicle takes at most a few
				// seconds to clear the loops.
				vs = vehiclesIn(vs[:0], key, fedTo.Add(-10*time.Second), now)
				for i := range timelines {
					var all []pulse.Edge
					if po.Mode == pulse.ModeAxle || po.Mode == pulse.ModeCount {
						all = pulsesim.Axles(timelines[i][:0], vs, lines[i])
					} else {
						all = pulsesim.Presence(timelines[i][:0], vs, lines[i])
					}
					timelines[i] = all
				}
				window := make([][]pulse.Edge, len(timelines))
				for i, tl := range timelines {
					for _, e := range tl {
						if e.At.After(fedTo) && !e.At.After(now) {
							window[i] = append(window[i], e)
						}
					}
				}
				fedTo = now
				return pulsesim.FeedLines(pins, window)
			}
			return nil
		},
		expectAt: func(k uint64, model func(Kind, int64) (float64, bool), out []float64, ms int64, interval time.Duration) error {
			// Presence with the default options: volume counts the vehicles confirmed (front plus
			// min_on) in the nominal interval; occupancy, headway and gap as defined in package
			// pulse, over those vehicles.
			po := pulse.DefaultOptions
			end := time.UnixMilli(ms)
			start := end.Add(-interval)
			vs := vehiclesIn(nil, k, start.Add(-2*loopSlot), end)
			var n, busy float64
			var headway, gap float64
			var prev *pulsesim.Vehicle
			for i := range vs {
				v := &vs[i]
				on := time.Duration((v.Length + loopLength) / v.Speed * float64(time.Second))
				confirm := v.Front.Add(po.MinOn)
				if confirm.After(start) && !confirm.After(end) {
					n++
					if prev != nil {
						h := v.Front.Sub(prev.Front).Seconds()
						headway += h
						gap += h - (prev.Length+loopLength)/prev.Speed
					}
				}
				from, to := v.Front, v.Front.Add(on)
				if from.Before(start) {
					from = start
				}
				if to.After(end) {
					to = end
				}
				if to.After(from) {
					busy += to.Sub(from).Seconds()
				}
				prev = v
			}
			clear(out)
			out[0] = n
			out[1] = min(100, 100*busy/interval.Seconds())
			if n > 0 {
				out[2], out[3] = headway/n, gap/n
			}
			return nil
		},
	}
}

// vehiclesIn appends the vehicles of sensor stream k whose front is in [from, to), in time order:
// slot j (of loopSlot) holds one with the probability the model's traffic gives at its time, at a
// hashed moment in the slot's first half, with a speed of 8..16 m/s and a length of 4..5 m (one in
// ten a 12 m truck).
func vehiclesIn(dst []pulsesim.Vehicle, k uint64, from, to time.Time) []pulsesim.Vehicle {
	slot := loopSlot.Milliseconds()
	for j := from.UnixMilli() / slot; j*slot < to.UnixMilli(); j++ {
		ms := j * slot
		perMin := 4 + 36*rush(hourOfDay(ms))
		if unit(k, Vehicles, j) >= perMin*loopSlot.Minutes() {
			continue
		}
		front := time.UnixMilli(ms + int64(unit(k, Vehicles+100, j)*float64(slot)/2))
		if front.Before(from) || !front.Before(to) {
			continue
		}
		length := 4 + unit(k, Vehicles+101, j)
		if unit(k, Vehicles+102, j) < 0.1 {
			length = 12
		}
		dst = append(dst, pulsesim.Vehicle{Front: front, Speed: 8 + 8*unit(k, Vehicles+103, j), Length: length})
	}
	return dst
}
