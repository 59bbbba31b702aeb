package pulse

import (
	"errors"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Mode is what the detector's pulses mean.
type Mode string

const (
	// ModePresence: one loop detector output, active while a vehicle is over the loop.
	ModePresence Mode = "presence"
	// ModeSpeedTrap: two loop detector outputs a known distance apart in one lane.
	ModeSpeedTrap Mode = "speed-trap"
	// ModeAxle: one pulse per axle (pneumatic tube switch, piezo strip with a comparator).
	ModeAxle Mode = "axle"
	// ModeCount: a plain pulse counter (a detector card in pulse mode, a reed contact).
	ModeCount Mode = "count"
)

// Options is the driver's configuration as sensors[].options writes it. See the package doc for
// what each option means and why its default is what it is.
type Options struct {
	// Mode: presence, speed-trap, axle or count.
	Mode Mode `yaml:"mode"`
	// Active is the line's level while the detector detects: low (open collector or relay to
	// ground with a pull-up, most detector cards) or high.
	Active string `yaml:"active"`
	// Pull is the input's pull resistor: up, down or none.
	Pull string `yaml:"pull"`
	// MinOn is the shortest presence that is a vehicle (presence, speed-trap).
	MinOn time.Duration `yaml:"min_on"`
	// MinOff is the shortest absence that separates two vehicles; shorter dropouts are bridged
	// (presence, speed-trap).
	MinOff time.Duration `yaml:"min_off"`
	// Debounce drops activating edges closer than this to the last counted one (axle, count).
	Debounce time.Duration `yaml:"debounce"`
	// Rate adds the "rate" channel, pulses per minute (count).
	Rate bool `yaml:"rate"`
	// Trap is the speed trap's geometry and plausible speeds (speed-trap).
	Trap TrapOptions `yaml:"trap"`
	// Axle groups axles into vehicles (axle).
	Axle AxleOptions `yaml:"axle"`
}

// TrapOptions describes a two-loop speed trap.
type TrapOptions struct {
	// Spacing is the distance from the upstream loop's leading edge to the downstream loop's
	// leading edge, metres. Required: there is no usual value to assume.
	Spacing float64 `yaml:"spacing"`
	// LoopLength is the effective length of one loop's detection zone along the lane, metres.
	LoopLength float64 `yaml:"loop_length"`
	// MinSpeed and MaxSpeed bound the plausible speeds, m/s: a downstream actuation is paired with
	// an upstream one only when their time apart is between Spacing/MaxSpeed and Spacing/MinSpeed.
	// MaxSpeed also bounds the 85th-percentile histogram.
	MinSpeed float64 `yaml:"min_speed"`
	MaxSpeed float64 `yaml:"max_speed"`
}

// AxleOptions groups axle pulses into vehicles.
type AxleOptions struct {
	// Gap: an axle less than Gap after the previous one belongs to the same vehicle.
	Gap time.Duration `yaml:"gap"`
}

// DefaultOptions holds every default; the package doc justifies each.
var DefaultOptions = Options{
	Mode:     ModePresence,
	Active:   "low",
	Pull:     "up",
	MinOn:    20 * time.Millisecond,
	MinOff:   100 * time.Millisecond,
	Debounce: 10 * time.Millisecond,
	Trap:     TrapOptions{LoopLength: 1.8, MinSpeed: 2, MaxSpeed: 70},
	Axle:     AxleOptions{Gap: 400 * time.Millisecond},
}

// Limits the options are checked against.
const (
	maxSpeedLimit = 150.0 // m/s (540 km/h): bounds the histogram at 1501 bins.
	maxDuration   = 10 * time.Second
)

// Validate checks every field and the rules between them; the error joins one *sensor.FieldError
// per bad field.
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, sensor.Fieldf(field, format, args...)) }
	switch o.Mode {
	case ModePresence, ModeSpeedTrap, ModeAxle, ModeCount:
	default:
		bad("mode", "%q is not a mode; valid: presence, speed-trap, axle, count", o.Mode)
	}
	if o.Active != "low" && o.Active != "high" {
		bad("active", "%q is not a level; valid: low, high", o.Active)
	}
	if _, ok := pulls[o.Pull]; !ok {
		bad("pull", "%q is not a pull; valid: up, down, none", o.Pull)
	}
	durations := []struct {
		key string
		d   time.Duration
	}{{"min_on", o.MinOn}, {"min_off", o.MinOff}, {"debounce", o.Debounce}}
	for _, f := range durations {
		if f.d < 0 || f.d > maxDuration {
			bad(f.key, "%s is out of range; valid: 0s to %s", f.d, maxDuration)
		}
	}
	t := &o.Trap
	if t.Spacing < 0 || t.Spacing > 100 {
		bad("trap.spacing", "%g m is out of range; valid: above 0 up to 100 m", t.Spacing)
	} else if o.Mode == ModeSpeedTrap && t.Spacing == 0 {
		bad("trap.spacing", "required in speed-trap mode: metres from the upstream loop's leading edge to the downstream loop's, e.g. 4.0")
	}
	if t.LoopLength < 0 || t.LoopLength > 30 {
		bad("trap.loop_length", "%g m is out of range; valid: 0 to 30 m", t.LoopLength)
	}
	if t.MaxSpeed <= 0 || t.MaxSpeed > maxSpeedLimit {
		bad("trap.max_speed", "%g m/s is out of range; valid: above 0 up to %g m/s", t.MaxSpeed, maxSpeedLimit)
	}
	if t.MinSpeed <= 0 || t.MinSpeed > maxSpeedLimit {
		bad("trap.min_speed", "%g m/s is out of range; valid: above 0 up to %g m/s", t.MinSpeed, maxSpeedLimit)
	} else if t.MaxSpeed > 0 && t.MinSpeed >= t.MaxSpeed {
		bad("trap.min_speed", "%g m/s must be below trap.max_speed (%g m/s)", t.MinSpeed, t.MaxSpeed)
	}
	if o.Axle.Gap <= 0 || o.Axle.Gap > maxDuration {
		bad("axle.gap", "%s is out of range; valid: above 0s, up to %s", o.Axle.Gap, maxDuration)
	} else if o.Mode == ModeAxle && o.Axle.Gap <= o.Debounce {
		bad("axle.gap", "%s must be longer than debounce (%s)", o.Axle.Gap, o.Debounce)
	}
	return errors.Join(errs...)
}

var pulls = map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float}

// pinCount is how many lines a mode reads.
func (m Mode) pinCount() int {
	if m == ModeSpeedTrap {
		return 2
	}
	return 1
}

// Channels lists what Sample reports in mode m, with Rate for the count mode.
func channelsFor(m Mode, rate bool) []sensor.Channel {
	// Resolutions: counts are integers; edges are timed to the millisecond at best (the kernel's
	// line events carry ns, but loop detector cards debounce by milliseconds), so headway and gap go
	// at 0.001 s, occupancy at 0.1 %, speeds at 0.01 m/s, lengths at 0.01 m and rates at 0.01/min.
	presence := []sensor.Channel{
		{Name: "volume", Unit: "count", Resolution: 1},
		{Name: "occupancy", Unit: "%", Resolution: 0.1},
		{Name: "headway", Unit: "s", Resolution: 0.001},
		{Name: "gap", Unit: "s", Resolution: 0.001},
	}
	switch m {
	case ModeSpeedTrap:
		return append(presence,
			sensor.Channel{Name: "matched", Unit: "count", Resolution: 1},
			sensor.Channel{Name: "speed", Unit: "m/s", Resolution: 0.01},
			sensor.Channel{Name: "speed_p85", Unit: "m/s", Resolution: 0.01},
			sensor.Channel{Name: "length", Unit: "m", Resolution: 0.01},
			sensor.Channel{Name: "unmatched", Unit: "count", Resolution: 1})
	case ModeAxle:
		return []sensor.Channel{{Name: "vehicles", Unit: "count", Resolution: 1}, {Name: "axles", Unit: "count", Resolution: 1}}
	case ModeCount:
		c := []sensor.Channel{{Name: "count", Unit: "count", Resolution: 1}}
		if rate {
			// RFC 8798 registers "1/min", events per minute.
			c = append(c, sensor.Channel{Name: "rate", Unit: "1/min", Resolution: 0.01})
		}
		return c
	}
	return presence
}

// config is what the device runs with, from Options or the older Opts.
type config struct {
	mode                Mode
	activeLow           bool
	pull                gpio.Pull
	edge                gpio.Edge // what the pins are configured to report
	minOn, minOff       time.Duration
	debounce, axleGap   time.Duration
	spacing, loopLength float64
	minSpeed, maxSpeed  float64
	rate                bool
	minGap, reArm, poll time.Duration // See Opts.
}

func (o *Options) config() config {
	c := config{
		mode: o.Mode, activeLow: o.Active == "low", pull: pulls[o.Pull],
		minOn: o.MinOn, minOff: o.MinOff, debounce: o.Debounce, axleGap: o.Axle.Gap,
		spacing: o.Trap.Spacing, loopLength: o.Trap.LoopLength,
		minSpeed: o.Trap.MinSpeed, maxSpeed: o.Trap.MaxSpeed, rate: o.Rate,
		reArm: DefaultOpts.ReArm, poll: DefaultOpts.Poll,
	}
	switch {
	case c.mode == ModePresence || c.mode == ModeSpeedTrap:
		c.edge = gpio.BothEdges // Both edges, the level read after each.
	case c.activeLow:
		c.edge = gpio.FallingEdge
	default:
		c.edge = gpio.RisingEdge
	}
	return c
}
