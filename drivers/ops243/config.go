package ops243

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/ascii"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Commands are ASCII, two characters, or two characters and a number for the filters (UM-003-A
// "API Commands"; "Reported Speed/Range/Direction Filter": R>n and R<n "require a return after
// the number"). The driver ends every command with CR LF, which the radar takes as the end of a
// number and otherwise skips, as a terminal sends it.
const eol = "\r\n"

// cmdPause is the pause between two commands at New: the radar parses commands between sample
// buffers, and the pause keeps a burst of commands from overrunning its UART input at 19200 baud.
const cmdPause = 20 * time.Millisecond

// Queries read back (UM-003-A "API Commands"): U? answers {"Units":"mph"} ("Speed Output Units");
// R? reports the speed filter, as {"RequiredMinSpeed":"4.474","RequiredMaxSpeed":"0.000"} (the
// names ?? prints, "Module Information", and OmniPreSense's own OPS241A_NodeInterface reads:
// RequiredMinSpeed, RequiredMaxSpeed, RequiredDirection); ?? prints the module information lines,
// among them {"Product":"OPS243"} and {"SamplingRate":20000, "resolution":0.121}.
const (
	queryUnits    = "U?"
	querySpeed    = "R?"
	queryModule   = "??"
	oneReport     = "O1" // One report per line, the strongest (UM-003-A "Data Output", On).
	jsonOn        = "OJ"
	jsonOff       = "Oj"
	dirBoth       = "R|"
	dirInbound    = "R+"
	dirOutbound   = "R-"
	filterMinPref = "R>"
	filterMaxPref = "R<"
)

// setupCommands returns the write commands of the settings, in order: the unit, one report per
// line, the output form, the sampling rate, the direction filter, the speed filters in the
// radar's unit (R>0 and R<0 clear them).
func (d *Dev) setupCommands() []string {
	out := jsonOff
	if d.json {
		out = jsonOn
	}
	rate, _ := sampleRateCommand(d.opts.SampleRate)
	dir := dirBoth
	switch d.dir {
	case 1:
		dir = dirInbound
	case -1:
		dir = dirOutbound
	}
	return []string{d.unit.Command(), oneReport, out, rate, dir,
		filterMinPref + filterNumber(d.min, d.unit), filterMaxPref + filterNumber(d.max, d.unit)}
}

// filterNumber is v m/s in unit u, rounded to the 3 decimals the radar prints its filter with
// ({"RequiredMinSpeed":"0.000"}), without trailing zeros: 2 m/s in mph is "4.474".
func filterNumber(v float64, u Unit) string {
	return strconv.FormatFloat(round3(v/u.metres()), 'f', -1, 64)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// answers is what the radar answered since the last clear: the members of command answers the
// driver reads back. Protected by Dev.mu; record does not allocate.
type answers struct {
	units        Unit
	hasUnits     bool
	badUnits     [24]byte // an unknown unit name, for the error message
	badUnitsLen  int
	minSpeed     float64
	hasMin       bool
	maxSpeed     float64
	hasMax       bool
	direction    [24]byte
	directionLen int
	rate         int
	hasRate      bool
	product      [32]byte
	productLen   int
}

// record takes the members the driver reads back from a JSON object without a speed.
func (a *answers) record(b []byte) {
	s := objScanner{b: b}
	for {
		key, val, ok := s.next()
		if !ok {
			return
		}
		switch string(key) {
		case "Units":
			if a.units, a.hasUnits = unitByName(val); !a.hasUnits {
				a.badUnitsLen = copy(a.badUnits[:], val)
			}
		case "RequiredMinSpeed":
			a.minSpeed, a.hasMin = ascii.ParseDecimal(val, maxDigits)
		case "RequiredMaxSpeed":
			a.maxSpeed, a.hasMax = ascii.ParseDecimal(val, maxDigits)
		case "RequiredDirection":
			a.directionLen = copy(a.direction[:], val)
		case "SamplingRate":
			r, ok := ascii.ParseUint(val, 7)
			a.rate, a.hasRate = int(r), ok
		case "Product":
			a.productLen = copy(a.product[:], val)
		}
	}
}

// configure sets the radar and reads its settings back (see the package documentation).
func (d *Dev) configure() error {
	// The unit first: its answer proves the radar listens, and the filters are in its unit.
	uc := d.unit.Command()
	if err := d.ask(uc, "set speed unit", func(a *answers) bool { return a.hasUnits || a.badUnitsLen > 0 }); err != nil {
		return err
	}
	if err := d.checkUnits(uc); err != nil {
		return err
	}
	// The other settings, answered or not: they are read back below.
	for _, c := range d.setupCommands()[1:] {
		if err := d.write(c); err != nil {
			return err
		}
	}
	// Read back.
	if err := d.ask(queryUnits, "read back speed unit", func(a *answers) bool { return a.hasUnits || a.badUnitsLen > 0 }); err != nil {
		return err
	}
	if err := d.checkUnits(queryUnits); err != nil {
		return err
	}
	// R? answers the minimum, the maximum and the direction on separate lines; firmware that leaves
	// out the direction costs one answer timeout at open.
	if err := d.askUntil(querySpeed, "read back speed filter",
		func(a *answers) bool { return a.hasMin && a.hasMax && a.directionLen > 0 },
		func(a *answers) bool { return a.hasMin && a.hasMax }); err != nil {
		return err
	}
	if err := d.checkFilter(); err != nil {
		return err
	}
	if err := d.ask(queryModule, "read back sampling rate", func(a *answers) bool { return a.hasRate }); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a := &d.ans
	if a.rate != d.opts.SampleRate {
		return fmt.Errorf("ops243: %s: read back sampling rate (%s): the radar samples at %d/s, want %d/s: %w",
			d.name, queryModule, a.rate, d.opts.SampleRate, sensor.ErrFrame)
	}
	d.settings.Product = string(a.product[:a.productLen])
	d.settings.SampleRate = a.rate
	d.configured = true
	return nil
}

func (d *Dev) checkUnits(cmd string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := &d.ans
	if !a.hasUnits {
		return fmt.Errorf("ops243: %s: speed unit (%s): the radar answered unit %q, which the driver does not know: %w",
			d.name, cmd, a.badUnits[:a.badUnitsLen], sensor.ErrFrame)
	}
	if a.units != d.unit {
		return fmt.Errorf("ops243: %s: speed unit (%s): the radar answered {\"Units\":%q}, want %q (%s): %w",
			d.name, cmd, a.units.AnswerName(), d.unit.AnswerName(), d.unit, sensor.ErrFrame)
	}
	d.settings.Unit = a.units
	return nil
}

func (d *Dev) checkFilter() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := &d.ans
	// The radar keeps 3 decimals; allow their rounding.
	const tol = 0.0015
	wantMin, wantMax := round3(d.min/d.unit.metres()), round3(d.max/d.unit.metres())
	if math.Abs(a.minSpeed-wantMin) > tol {
		return fmt.Errorf("ops243: %s: read back speed filter (%s): minimum %g %s, want %g (%s%s): %w",
			d.name, querySpeed, a.minSpeed, d.unit, wantMin, filterMinPref, filterNumber(d.min, d.unit), sensor.ErrFrame)
	}
	// No limit (R<0) may read back as 0 or as a number beyond any measurable speed.
	if wantMax == 0 && a.maxSpeed != 0 && a.maxSpeed*d.unit.metres() < DopplerLimit(100000) {
		return fmt.Errorf("ops243: %s: read back speed filter (%s): maximum %g %s, want none (%s0): %w",
			d.name, querySpeed, a.maxSpeed, d.unit, filterMaxPref, sensor.ErrFrame)
	}
	if wantMax != 0 && math.Abs(a.maxSpeed-wantMax) > tol {
		return fmt.Errorf("ops243: %s: read back speed filter (%s): maximum %g %s, want %g (%s%s): %w",
			d.name, querySpeed, a.maxSpeed, d.unit, wantMax, filterMaxPref, filterNumber(d.max, d.unit), sensor.ErrFrame)
	}
	d.settings.MinSpeed, d.settings.MaxSpeed = a.minSpeed, a.maxSpeed
	if a.directionLen > 0 {
		got := string(a.direction[:a.directionLen])
		d.settings.Direction = got
		if want, known := directionName(got); known && want != d.opts.Direction {
			return fmt.Errorf("ops243: %s: read back direction filter (%s): %q, want %s: %w",
				d.name, querySpeed, got, d.opts.Direction, sensor.ErrFrame)
		}
	}
	return nil
}

// directionName maps a RequiredDirection answer to a direction option, when recognised.
func directionName(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "inbound", "+", "r+":
		return DirectionInbound, true
	case "outbound", "-", "r-":
		return DirectionOutbound, true
	case "both", "|", "r|", "none":
		return DirectionBoth, true
	}
	return "", false
}

// write sends one command.
func (d *Dev) write(cmd string) error {
	if _, err := d.port.Write([]byte(cmd + eol)); err != nil {
		return fmt.Errorf("ops243: %s: send %s: %w: %w", d.name, cmd, sensor.ErrBus, err)
	}
	sleep(cmdPause)
	return nil
}

// ask clears the answers, sends cmd and waits up to AnswerTimeout until done holds.
func (d *Dev) ask(cmd, what string, done func(*answers) bool) error {
	return d.askUntil(cmd, what, done, nil)
}

// askUntil is ask that, when the answer timeout passes, accepts what enough accepts (nil: nothing):
// for answers of several lines whose last ones a radar may not send.
func (d *Dev) askUntil(cmd, what string, done, enough func(*answers) bool) error {
	d.mu.Lock()
	d.ans = answers{}
	d.mu.Unlock()
	select { // drop a stale signal
	case <-d.answered:
	default:
	}
	if err := d.write(cmd); err != nil {
		return err
	}
	timer := time.NewTimer(d.opts.AnswerTimeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		ok, err := done(&d.ans), d.err
		d.mu.Unlock()
		if ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ops243: %s: %s (%s): %w", d.name, what, cmd, err)
		}
		select {
		case <-d.answered:
		case <-timer.C:
			d.mu.Lock()
			ok := enough != nil && enough(&d.ans)
			d.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("ops243: %s: %s (%s): no answer in %s: check the wiring (radar TX to the board's RX and RX to TX, common ground), the baud rate (19200 8N1 unless changed, UM-003-A \"UART Control\") and the radar's power: %w",
				d.name, what, cmd, d.opts.AnswerTimeout, sensor.ErrTimeout)
		}
	}
}
