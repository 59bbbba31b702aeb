// Package ops243emu emulates an OmniPreSense OPS243-A radar on its serial line, for the simulated
// board and for tests: an io.ReadWriter that takes the API commands the ops243 driver sends,
// answers them with the lines UM-003-A documents, and prints speed reports for the targets a test
// or the simulation puts in the beam, in its current unit and output form.
//
// It powers on with the settings a user saved: miles per hour (US), plain output, both
// directions, no speed filter, 10 ksps (UM-003-A "Speed Output Units", "Data Output",
// "Reported Speed/Range/Direction Filter", "Sampling Rate/Buffer Size"). What it emulates:
//
//   - U? and UC/UF/UK/UM/US answer {"Units":"cm-per-sec"|"ft-per-sec"|"km-per-hr"|"m-per-sec"|"mph"};
//   - R? answers {"RequiredMinSpeed":"4.474","RequiredMaxSpeed":"0.000"} and
//     {"RequiredDirection":"both"|"inbound"|"outbound"} (names as OmniPreSense's own node interface
//     reads them; the manual gives no example);
//   - ?? answers the module information lines of UM-003-A "Module Information", with the current
//     sampling rate;
//   - OJ/Oj, OT/Ot, OM/Om, On, SI/SV/SX/S1/S2/SL/SC, R+/R-/R|, R>n/R<n, Fn are taken silently;
//   - anything else is ignored, as the radar ignores what it does not know.
package ops243emu

import (
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/ops243"
)

// ReportPeriod is the time between two speed reports while a target is in the beam: the radar
// processes a 1024-sample buffer at a time, about 100 ms at 10 ksps (UM-003-A "Sampling
// Rate/Buffer Size").
const ReportPeriod = 100 * time.Millisecond

// Emu is one emulated radar. Its methods are safe for concurrent use.
type Emu struct {
	mu       sync.Mutex
	cond     *sync.Cond
	out      []byte // printed, not read yet
	in       []byte // a partial command
	closed   bool
	deadline time.Time
	timer    *time.Timer
	waiting  bool // a Read is waiting with nothing to give: everything printed was taken

	// Settings.
	unit       ops243.Unit
	json       bool
	dir        byte // '|', '+', '-'
	min, max   float64
	rate       int
	timeOn     bool
	magOn      bool
	decimals   int
	clock      time.Duration // since power on
	saved      state
	commands   []string
	ignoreUnit bool
	mute       bool
	override   map[string][]string
}

type state struct {
	unit ops243.Unit
	json bool
}

// New returns a radar just powered on with mph saved as its unit.
func New() *Emu {
	e := &Emu{saved: state{unit: ops243.MilePerHour}}
	e.cond = sync.NewCond(&e.mu)
	e.powerOn()
	return e
}

func (e *Emu) powerOn() {
	e.unit, e.json = e.saved.unit, e.saved.json
	e.dir, e.min, e.max, e.rate = '|', 0, 0, 10000
	e.timeOn, e.magOn, e.decimals = false, false, 2
	e.in = e.in[:0]
}

// PowerCycle reverts the radar to its saved settings (mph, plain output), as a power cut or a
// brown-out does.
func (e *Emu) PowerCycle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.powerOn()
	e.clock = 0
}

// IgnoreUnits makes the radar keep its unit whatever U command it gets (a faulty part, or a
// different product), for tests of the driver's read back.
func (e *Emu) IgnoreUnits(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ignoreUnit = on
}

// Mute makes the radar take commands without answering (a broken TX line).
func (e *Emu) Mute(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mute = on
}

// Override makes the radar answer cmd (as the driver sends it, without line end: "R?", "US")
// with lines instead of its own answer, after running it; no lines makes it silent to cmd. For
// tests of radars that answer unexpectedly.
func (e *Emu) Override(cmd string, lines ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.override == nil {
		e.override = map[string][]string{}
	}
	e.override[cmd] = lines
}

// TimeReport turns the OT time report on or off, as the OT and Ot commands do.
func (e *Emu) TimeReport(on bool) { e.mu.Lock(); e.timeOn = on; e.mu.Unlock() }

// MagnitudeReport turns the OM magnitude report on or off, as the OM and Om commands do.
func (e *Emu) MagnitudeReport(on bool) { e.mu.Lock(); e.magOn = on; e.mu.Unlock() }

// Commands returns the commands received so far, without their line ends.
func (e *Emu) Commands() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.commands...)
}

// Unit returns the radar's current speed unit.
func (e *Emu) Unit() ops243.Unit { e.mu.Lock(); defer e.mu.Unlock(); return e.unit }

// Target puts a target moving at speed m/s (positive inbound, approaching; negative outbound) in
// the beam for d: the radar prints one report every ReportPeriod (at least one) that passes its
// direction and speed filters, at once, and its clock advances by d. The reader sees the reports
// when it next reads.
func (e *Emu) Target(speed float64, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := int(d / ReportPeriod)
	if n < 1 {
		n = 1
	}
	v := speed / e.unit.MetresPerSecond()
	for i := 0; i < n; i++ {
		e.clock += ReportPeriod
		e.printSpeed(v)
	}
	if d > time.Duration(n)*ReportPeriod {
		e.clock += d - time.Duration(n)*ReportPeriod
	}
	e.cond.Broadcast()
}

// Pass is what the simulated board calls for one vehicle passing at speed m/s (positive
// approaching): the radar reports it for a second (ten reports), Pass waits until the driver has
// read them, then for gap and a millisecond more, so that the driver's next Sample counts the
// vehicle (its vehicle_gap must be gap). It fails if the driver does not read within 5 s.
func (e *Emu) Pass(speed float64, gap time.Duration) error {
	e.Target(speed, time.Second)
	if !e.Drained(5 * time.Second) {
		return errors.New("ops243emu: the driver did not read the radar's reports")
	}
	time.Sleep(gap + time.Millisecond)
	return nil
}

// Reported is the speed in m/s the driver reports for a vehicle at speed m/s on a radar set to
// unit u: the radar prints |speed| in u with 2 decimals (its F2 default here). A vehicle slower
// than the driver's min_speed is not counted at all.
func Reported(speed float64, u ops243.Unit) float64 {
	m := u.MetresPerSecond()
	return math.Round(math.Abs(speed)/m*100) / 100 * m
}

// Drained waits up to timeout until the reader has taken everything printed and come back for
// more, that is, has handled it. It reports whether it did.
func (e *Emu) Drained(timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for {
		e.mu.Lock()
		done := len(e.out) == 0 && e.waiting
		closed := e.closed
		e.mu.Unlock()
		if done || closed {
			return done
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// printSpeed prints one report of v in the current unit. mu must be held.
func (e *Emu) printSpeed(v float64) {
	s := math.Abs(v)
	if s == 0 || (e.dir == '+' && v < 0) || (e.dir == '-' && v > 0) || (e.min > 0 && s < e.min) || (e.max > 0 && s > e.max) {
		return
	}
	num := strconv.FormatFloat(v, 'f', e.decimals, 64)
	mag := "1250"
	clock := strconv.FormatFloat(e.clock.Seconds(), 'f', 3, 64)
	if e.json {
		dir := "inbound"
		if v < 0 {
			dir = "outbound"
		}
		b := e.out
		b = append(b, `{"unit":"`+e.unit.ReportName()+`","speed":"`+num+`","direction":"`+dir+`"`...)
		if e.timeOn {
			b = append(b, `,"time":"`+clock+`"`...)
		}
		if e.magOn {
			b = append(b, `,"magnitude":"`+mag+`"`...)
		}
		e.out = append(b, "}\r\n"...)
		return
	}
	if e.timeOn {
		e.out = append(e.out, clock+", "...)
	}
	if e.magOn {
		e.out = append(e.out, mag+", "...)
	}
	e.out = append(e.out, num+"\r\n"...)
}

// Write takes commands. It implements io.Writer.
func (e *Emu) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, os.ErrClosed
	}
	e.in = append(e.in, p...)
	e.parse()
	e.cond.Broadcast()
	return len(p), nil
}

// parse runs the complete commands in e.in. mu must be held.
func (e *Emu) parse() {
	for {
		for len(e.in) > 0 && (e.in[0] == '\r' || e.in[0] == '\n' || e.in[0] == ' ') {
			e.in = e.in[1:]
		}
		if len(e.in) < 2 {
			return
		}
		c := string(e.in[:2])
		n := 2
		arg := ""
		if c == "R>" || c == "R<" {
			// A number up to the return.
			i := 2
			for i < len(e.in) && e.in[i] != '\r' && e.in[i] != '\n' {
				i++
			}
			if i == len(e.in) {
				return // wait for the return
			}
			arg, n = string(e.in[2:i]), i
		}
		e.in = e.in[n:]
		e.commands = append(e.commands, c+arg)
		if lines, ok := e.override[c+arg]; ok {
			mute := e.mute
			e.mute = true
			e.run(c, arg)
			e.mute = mute
			for _, l := range lines {
				e.answer(l)
			}
			continue
		}
		e.run(c, arg)
	}
}

var unitCmds = map[string]ops243.Unit{"UM": ops243.MetrePerSecond, "UK": ops243.KilometrePerHour,
	"US": ops243.MilePerHour, "UF": ops243.FootPerSecond, "UC": ops243.CentimetrePerSecond}

var rateCmds = map[string]int{"SI": 1000, "SV": 5000, "SX": 10000, "S1": 10000, "S2": 20000, "SL": 50000, "SC": 100000}

// run executes one command. mu must be held.
func (e *Emu) run(c, arg string) {
	if u, ok := unitCmds[c]; ok {
		if !e.ignoreUnit {
			e.unit = u
		}
		e.answer(`{"Units":"` + e.unit.AnswerName() + `"}`)
		return
	}
	if r, ok := rateCmds[c]; ok {
		e.rate = r
		return
	}
	switch c {
	case "U?":
		e.answer(`{"Units":"` + e.unit.AnswerName() + `"}`)
	case "OJ", "Oj":
		e.json = c == "OJ"
	case "OT", "Ot":
		e.timeOn = c == "OT"
	case "OM", "Om":
		e.magOn = c == "OM"
	case "R+", "R-", "R|":
		e.dir = c[1]
	case "R>", "R<":
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 {
			return
		}
		if c == "R>" {
			e.min = v
		} else {
			e.max = v
		}
	case "R?":
		e.answer(`{"RequiredMinSpeed":"` + strconv.FormatFloat(e.min, 'f', 3, 64) +
			`","RequiredMaxSpeed":"` + strconv.FormatFloat(e.max, 'f', 3, 64) + `"}`)
		dir := map[byte]string{'|': "both", '+': "inbound", '-': "outbound"}[e.dir]
		e.answer(`{"RequiredDirection":"` + dir + `"}`)
	case "??":
		// UM-003-A "Module Information".
		e.answer(`{"Product":"OPS243"}`)
		e.answer(`{"Version":"1.3.1"}`)
		e.answer(`{"SamplingRate":` + strconv.Itoa(e.rate) + `, "resolution":` +
			strconv.FormatFloat(0.0607*float64(e.rate)/10000, 'f', 4, 64) + `}`)
		e.answer(`{"SampleSize":1024}`)
		e.answer(`{"Clock":"` + strconv.Itoa(int(e.clock.Seconds())) + `"}`)
		e.answer(`{"PowerMode":"Continuous"}`)
		e.answer(`{"RequiredMinSpeed":"` + strconv.FormatFloat(e.min, 'f', 3, 64) + `"}`)
	default:
		if c[0] == 'F' && c[1] >= '0' && c[1] <= '5' {
			e.decimals = int(c[1] - '0')
		}
	}
}

func (e *Emu) answer(s string) {
	if e.mute {
		return
	}
	e.out = append(e.out, s+"\r\n"...)
}

// Read returns what the radar printed, blocking until there is something, the read deadline
// passes (an error whose Timeout() is true) or Close. It implements io.Reader.
func (e *Emu) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.out) == 0 {
		if e.closed {
			return 0, io.EOF
		}
		if !e.deadline.IsZero() && !time.Now().Before(e.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		e.waiting = true
		e.cond.Wait()
	}
	e.waiting = false
	n := copy(p, e.out)
	e.out = e.out[:copy(e.out, e.out[n:])]
	return n, nil
}

// SetReadDeadline implements the deadline a serial port has, so the driver's Halt returns on its
// own.
func (e *Emu) SetReadDeadline(t time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return os.ErrClosed
	}
	e.deadline = t
	if e.timer != nil {
		e.timer.Stop()
	}
	if !t.IsZero() {
		e.timer = time.AfterFunc(time.Until(t), func() {
			e.mu.Lock()
			e.cond.Broadcast()
			e.mu.Unlock()
		})
	}
	return nil
}

// Close ends pending and later reads with io.EOF.
func (e *Emu) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("ops243emu: closed twice")
	}
	e.closed = true
	if e.timer != nil {
		e.timer.Stop()
	}
	e.cond.Broadcast()
	return nil
}
