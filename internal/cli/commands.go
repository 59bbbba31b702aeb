package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
	"github.com/wayside-iot/wayside/gateway/localapi/client"
)

// printJSON writes an API answer as indented JSON.
func (a *App) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	if buf.Len() == 0 || buf.Bytes()[buf.Len()-1] != '\n' {
		buf.WriteByte('\n')
	}
	_, err := a.Stdout.Write(buf.Bytes())
	return err
}

// call runs one typed client call (a.cl.Status, or a closure for one that takes arguments) under the
// command's timeout and returns, besides its result, the answer's JSON as the daemon sent it (nil when
// there was no answer), which --json prints.
func call[T any](ctx context.Context, a *App, fn func(context.Context) (T, error)) (v T, raw []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	a.cl.OnAnswer = func(body []byte) { raw = body }
	defer func() { a.cl.OnAnswer = nil }()
	v, err = fn(ctx)
	return v, raw, err
}

// ask is call for a command that either prints the answer's JSON (--json, done=true) or prints v
// itself: with --json the answer is printed as sent, whether or not it decodes.
func ask[T any](ctx context.Context, a *App, fn func(context.Context) (T, error)) (v T, done bool, err error) {
	v, raw, err := call(ctx, a, fn)
	if a.json && raw != nil {
		return v, true, a.printJSON(raw)
	}
	return v, false, err
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments: %s", strings.Join(args, " "))
	}
	return nil
}

// sensorTable prints the health table; full adds the counters the status screen leaves out.
func (a *App) sensorTable(ss []apitype.Sensor, now time.Time, full bool) error {
	t := &table{colour: map[int]func(string) string{}}
	if full {
		t.header = []string{"SENSOR", "DRIVER", "BUS", "ADDR/PIN", "EVERY", "DELAY LAST/MAX", "STATE", "READS", "GOOD", "NO DATA", "ERRORS", "LAST GOOD", "LAST ERROR"}
		t.colour[6] = stateColour
	} else {
		t.header = []string{"SENSOR", "DRIVER", "BUS", "STATE", "READS", "ERRORS", "LAST GOOD", "LAST ERROR"}
		t.colour[3] = stateColour
	}
	for _, s := range ss {
		lastErr := "-"
		if s.LastError != "" {
			lastErr = fmt.Sprintf("%s (%s)", truncate(s.LastError, 60), ago(now, s.LastErrorAt))
		}
		errs := count(s.Errors)
		if len(s.ErrorsByKind) > 0 && full {
			var kinds []string
			for k, n := range s.ErrorsByKind {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
			slices.Sort(kinds)
			errs += " (" + strings.Join(kinds, ", ") + ")"
		}
		if full {
			where := s.Address
			if where == "" {
				where = s.Pin
			}
			every := humanDuration(time.Duration(s.IntervalMs) * time.Millisecond)
			if s.PhaseMs != 0 {
				every += fmt.Sprintf(" %+dms", s.PhaseMs)
			}
			delay := fmt.Sprintf("%s/%s", fmtMs(s.DelayLastMs), fmtMs(s.DelayMaxMs))
			if s.MissedSlots > 0 {
				delay += fmt.Sprintf(" (%s missed)", count(s.MissedSlots))
			}
			t.add(s.Name, s.Driver, s.Bus, orDash(where), every, delay,
				s.State, count(s.Reads), count(s.Good), count(s.NoData), errs, ago(now, s.LastGoodAt), lastErr)
		} else {
			t.add(s.Name, s.Driver, s.Bus, s.State, count(s.Reads), errs, ago(now, s.LastGoodAt), lastErr)
		}
	}
	return t.write(a.Stdout, a.paint)
}

func (a *App) cmdSensors(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	ss, done, err := ask(ctx, a, a.cl.Sensors)
	if done || err != nil {
		return err
	}
	return a.sensorTable(ss, a.now(), true)
}

func (a *App) cmdRead(ctx context.Context, _ *cmdOpts, args []string) error {
	if len(args) != 1 {
		return usagef("read needs one sensor name: wayside read SENSOR (wayside sensors lists them)")
	}
	rd, done, err := ask(ctx, a, func(ctx context.Context) (*apitype.Read, error) { return a.cl.Read(ctx, args[0]) })
	if done || err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Kind != "" {
			return fmt.Errorf("read %s failed (%s error): %s", args[0], ae.Kind, ae.Msg)
		}
		return err
	}
	w := a.Stdout
	fmt.Fprintf(w, "%s (%s), read in %s\n", a.paint.paint(bold, rd.Sensor), rd.Driver, humanDuration(ms(rd.TookMs)))
	if rd.NoData {
		fmt.Fprintln(w, "no new data right now: not a fault (no GPS fix, no radar target, no new count)")
		return nil
	}
	t := &table{header: []string{"MEASUREMENT", "VALUE", "UNIT"}}
	for _, v := range rd.Values {
		t.add(v.Name, reading(v.Value, v.Unit), v.Unit)
	}
	return t.write(w, a.paint)
}

func (a *App) cmdTail(ctx context.Context, o *cmdOpts, args []string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if !a.json {
		which := "all sensors"
		if len(args) > 0 {
			which = strings.Join(args, ", ")
		}
		fmt.Fprintf(a.Stderr, "tailing %s as readings are batched (Ctrl-C stops)\n", which)
	}
	n := 0
	err := a.cl.Tail(ctx, args, func(line apitype.TailLine, raw []byte) error {
		if a.json {
			if _, err := fmt.Fprintf(a.Stdout, "%s\n", raw); err != nil {
				return err
			}
		} else if line.Dropped > 0 {
			fmt.Fprintf(a.Stderr, "(%d readings skipped: this terminal read too slowly)\n", line.Dropped)
			return nil
		} else {
			name := line.Sensor + "/" + line.Name
			if _, err := fmt.Fprintf(a.Stdout, "%s  %-24s %14s %s\n", line.Time.Local().Format("15:04:05.000"), name,
				reading(line.Value.Value, line.Unit), line.Unit); err != nil {
				return err
			}
		}
		if line.Dropped == 0 {
			n++
		}
		if o.n > 0 && n >= o.n {
			return client.ErrStop
		}
		return nil
	})
	if err != nil && client.IsNotFound(err) {
		return fmt.Errorf("tail: %w", err)
	}
	return err
}

func (a *App) cmdCloud(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	c, done, err := ask(ctx, a, a.cl.Cloud)
	if done || err != nil {
		return err
	}
	p := a.paint
	var k kv
	switch {
	case c.Connected:
		k.add("Link", "%s", p.state("connected"))
	case c.Takeover:
		k.add("Link", "%s: another client seems to use client id %s; next try %s", p.state("takeover-hold"), c.ClientID,
			c.NextTry.Local().Format(time.RFC3339))
	case !c.NextTry.IsZero():
		k.add("Link", "%s (%d connections so far), next try %s", p.state("disconnected"), c.Connects, c.NextTry.Local().Format(time.RFC3339))
	default:
		k.add("Link", "%s (%d connections so far)", p.state(orDash(c.State)), c.Connects)
	}
	k.add("Profile", "%s", orDash(c.Profile))
	k.add("Broker", "%s", orDash(c.Broker))
	k.add("Configured", "%s", strings.Join(c.Brokers, ", "))
	k.add("Client id", "%s", c.ClientID)
	k.add("Telemetry", "%s", orDash(c.TelemetryTopic))
	k.add("Status", "%s", orDash(c.StatusTopic))
	k.add("Events", "%s", orDash(c.EventsTopic))
	k.add("Commands on", "%s", orDash(c.CommandFilter))
	k.add("Replies on", "%s", orDash(c.ReplyTopic))
	k.add("Batches", "%s published, %s acked, %s failed", count(c.Published), count(c.Acked), count(c.Failed))
	k.add("In flight", "%d of %d", c.Inflight, c.MaxInflight)
	if c.LastAckRTTMs > 0 {
		k.add("Last ack", "%s round trip", humanDuration(ms(c.LastAckRTTMs)))
	} else {
		k.add("Last ack", "none yet")
	}
	k.add("Connects", "%d", c.Connects)
	k.add("Commands", "%d received", c.Commands)
	k.add("Events sent", "%d published, %d not sent", c.Events, c.EventsLost)
	return k.write(a.Stdout)
}

func (a *App) cmdSpool(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	s, done, err := ask(ctx, a, a.cl.Spool)
	if done || err != nil {
		return err
	}
	p, now := a.paint, a.now()
	var k kv
	dir := p.state("writable")
	if !s.DirWritable {
		dir = p.state("not writable") + ": " + s.DirError
	}
	k.add("State dir", "%s (%s, %s free)", s.StateDir, dir, humanBytes(s.DirFree))
	bound := "quota"
	if s.LimitBytes > 0 && s.LimitBytes < s.QuotaBytes {
		bound = fmt.Sprintf("room on a %s disk (quota %s)", humanBytes(uint64(s.DiskBytes)), humanBytes(uint64(s.QuotaBytes)))
	}
	k.add("Spool", "%s: %d segment file(s), %s of %s %s (%.1f%%)", s.Dir, s.Segments, humanBytes(uint64(s.Bytes)),
		humanBytes(uint64(limitOf(s))), bound, s.Fill*100)
	if s.Backlog > 0 {
		k.add("Waiting", "%s batches not acknowledged (%s not sent yet), oldest seq %d from %s", count(uint64(s.Backlog)),
			count(uint64(s.Unsent)), s.OldestSeq, ago(now, s.OldestAt))
	} else {
		k.add("Waiting", "nothing: every batch is acknowledged")
	}
	k.add("This run", "%s appended, %s acknowledged, %s recovered at start", count(s.Appended), count(s.Acked), count(uint64(s.Recovered)))
	lost := fmt.Sprintf("%s evicted (%s for a full disk), %s not stored", count(s.Evicted), count(s.EvictedDiskFull), count(s.Lost))
	if s.Evicted+s.Lost > 0 {
		lost = p.paint(red, lost)
	}
	k.add("Lost", "%s", lost)
	k.add("Durability", "%s fsyncs, %s fsync errors, durable through seq %d", count(s.Fsyncs), count(s.FsyncErrors), s.DurableSeq)
	if s.TornRecords > 0 || s.SkippedRecords > 0 {
		k.add("Recovery", "%d torn records cut (%s), %d corrupt records skipped (%s)", s.TornRecords,
			humanBytes(uint64(s.CutBytes)), s.SkippedRecords, humanBytes(uint64(s.SkippedBytes)))
	}
	if s.NextSeq > 0 {
		k.add("Sequence", "last %d, next %d, reserved through %d", s.LastSeq, s.NextSeq, s.LeasedThrough)
		k.add("Last batch", "%d readings, %s, %s", s.LastBatchN, humanBytes(uint64(s.LastBatchSize)), ago(now, s.LastBatchAt))
	} else {
		k.add("Sequence", "no batch spooled yet by this run; reserved through %d", s.LeasedThrough)
	}
	k.add("Ring", "%s", ringLine(p, &s.Ring))
	return k.write(a.Stdout)
}

func (a *App) cmdScan(ctx context.Context, _ *cmdOpts, args []string) error {
	if len(args) > 0 && args[0] == "modbus" {
		return a.cmdScanModbus(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "i2c" || len(args) > 2 {
		return usagef("usage: wayside scan i2c [BUS] | wayside scan modbus BUS [FIRST-LAST]")
	}
	bus := ""
	if len(args) == 2 {
		bus = args[1]
	}
	sc, done, err := ask(ctx, a, func(ctx context.Context) (*apitype.ScanI2C, error) { return a.cl.ScanI2C(ctx, bus) })
	if done || err != nil {
		return err
	}
	w := a.Stdout
	for i, b := range sc.Buses {
		if i > 0 {
			fmt.Fprintln(w)
		}
		note := b.Device
		if sc.Simulated {
			note = "simulated: the addresses of the configured sensors"
		}
		fmt.Fprintf(w, "%s (%s): %d device(s)\n", a.paint.paint(bold, b.Bus), note, len(b.Devices))
		if len(b.Devices) == 0 {
			continue
		}
		t := &table{header: []string{"ADDRESS", "LIKELY PART", "CONFIGURED"}}
		for _, d := range b.Devices {
			likely := strings.Join(d.Likely, " or ")
			if likely == "" {
				likely = "unknown part"
			}
			conf := "-"
			if d.Sensor != "" {
				conf = fmt.Sprintf("%s (%s)", d.Sensor, d.Driver)
				if len(d.Likely) > 0 && !slices.Contains(d.Likely, d.Driver) {
					conf += ": unusual address for a " + d.Driver
				}
			}
			t.add(d.Address, likely, conf)
		}
		if err := t.write(w, a.paint); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) cmdSelfTest(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	a.timeout = time.Minute // every sensor is read once, each bounded by the daemon
	res, raw, err := call(ctx, a, a.cl.SelfTest)
	if err != nil {
		return err
	}
	if a.json {
		if err := a.printJSON(raw); err != nil {
			return err
		}
	} else {
		t := &table{header: []string{"RESULT", "CHECK", "DETAIL"}, colour: map[int]func(string) string{0: stateColour}}
		failed := 0
		for _, c := range res.Checks {
			r := "OK"
			if !c.OK {
				r = "FAIL"
				failed++
			}
			t.add(r, c.Name, c.Detail)
		}
		if err := t.write(a.Stdout, a.paint); err != nil {
			return err
		}
		verdict := a.paint.paint(green, "selftest passed")
		if failed > 0 {
			verdict = a.paint.paint(red, "selftest FAILED")
		}
		fmt.Fprintf(a.Stdout, "%s: %d of %d checks ok (took %s)\n", verdict, len(res.Checks)-failed, len(res.Checks), humanDuration(ms(res.TookMs)))
	}
	if !res.OK {
		return &exitError{ExitFailure}
	}
	return nil
}

func (a *App) cmdLogLevel(ctx context.Context, _ *cmdOpts, args []string) error {
	if len(args) > 1 {
		return usagef("usage: wayside log-level [debug|info|warn|error]")
	}
	if len(args) == 0 {
		lv, done, err := ask(ctx, a, a.cl.LogLevel)
		if done || err != nil {
			return err
		}
		fmt.Fprintln(a.Stdout, lv.Level)
		return nil
	}
	lv, done, err := ask(ctx, a, func(ctx context.Context) (*apitype.LogLevel, error) { return a.cl.SetLogLevel(ctx, args[0]) })
	if done || err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "log level %s (was %s) until waysided restarts\n", lv.Level, lv.Previous)
	return nil
}

func (a *App) cmdVersion(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, raw, err := call(ctx, a, a.cl.Version)
	if a.json {
		out := struct {
			Client string          `json:"client"`
			Daemon json.RawMessage `json:"daemon,omitempty"`
		}{Client: a.Version, Daemon: raw}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(a.Stdout, "%s\n", b)
		return err
	}
	fmt.Fprintln(a.Stdout, a.clientVersion())
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "waysided %s (%s, %s/%s) on gateway %s\n", v.Version, v.GoVersion, v.OS, v.Arch, v.Gateway)
	return nil
}

// fmtMs prints a delay in ms: "0.42ms", "12ms", "1.5s".
func fmtMs(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	case ms >= 10:
		return strconv.FormatFloat(math.Round(ms), 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}
