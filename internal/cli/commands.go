package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway/config"
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

// fetch calls endpoint name and either prints its JSON (--json, done=true) or decodes it into v.
func (a *App) fetch(ctx context.Context, method, name string, q url.Values, v any) (done bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	raw, err := a.cl.Do(ctx, method, name, q)
	if err != nil {
		return false, err
	}
	if a.json {
		return true, a.printJSON(raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s answer from waysided: %w", name, err)
	}
	return false, nil
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments: %s", strings.Join(args, " "))
	}
	return nil
}

func (a *App) cmdStatus(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	raw, err := a.cl.Do(ctx, http.MethodGet, "status", nil)
	if err != nil {
		return err
	}
	var st apitype.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("decode status answer from waysided: %w", err)
	}
	if a.json {
		err = a.printJSON(raw)
	} else {
		err = a.printStatus(&st)
	}
	if err == nil && len(st.Problems) > 0 {
		return &exitError{ExitFailure} // monitoring scripts: 0 healthy, 1 with problems listed
	}
	return err
}

func (a *App) printStatus(st *apitype.Status) error {
	p, w, now := a.paint, a.Stdout, a.now()
	model := st.Board
	if st.BoardModel != "" {
		model = fmt.Sprintf("%s (%s)", st.Board, st.BoardModel)
	}
	id := p.paint(bold, st.Gateway)
	if st.GatewayIDFrom != "" {
		id += " (auto, from " + st.GatewayIDFrom + ")"
	}
	fmt.Fprintf(w, "%s  %s, waysided %s\n", id, model, st.Version)
	if len(st.Problems) == 0 {
		fmt.Fprintf(w, "%s no problems found\n", p.paint(green, "OK"))
	} else {
		fmt.Fprintf(w, "%s\n", p.paint(red, fmt.Sprintf("PROBLEMS (%d)", len(st.Problems))))
		for _, pr := range st.Problems {
			fmt.Fprintf(w, "  %s %s\n", p.paint(red, "!"), pr)
		}
	}
	fmt.Fprintln(w)
	var k kv
	k.add("Uptime", "%s (since %s), boot %s", humanDuration(time.Duration(st.UptimeS*float64(time.Second))),
		st.Started.UTC().Format("2006-01-02 15:04:05 MST"), short(st.BootID))
	k.add("Clock", "%s, %s", clockLine(p, &st.Clock), st.Clock.Now.UTC().Format("2006-01-02 15:04:05 MST"))
	k.add("Cloud", "%s", cloudLine(p, &st.Cloud))
	k.add("Readings", "%s taken, %s spooled in %s batches", count(st.Pipeline.Readings), count(st.Pipeline.Spooled), count(st.Pipeline.Batches))
	k.add("Ring", "%s", ringLine(p, &st.Ring))
	k.add("Spool", "%s", spoolLine(p, &st.Spool))
	k.add("Log level", "%s", st.LogLevel)
	k.add("Config", "%s", st.ConfigHash)
	if st.Key != nil {
		k.add("Gateway key", "%s (kid %s; register it with the city)", st.Key.PublicKey, st.Key.KeyID)
	}
	if st.SealKID != "" {
		k.add("Sealing", "to city key %s", st.SealKID)
	} else {
		k.add("Sealing", "off (batches signed, readable by the broker; see cloud.seal)")
	}
	if err := k.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return a.sensorTable(st.Sensors, now, false)
}

// clockLine is the gateway's clock trust as the MQTT status carries it.
func clockLine(p painter, c *apitype.Clock) string {
	if !c.Trusted {
		return p.paint(red, "not trusted") + " (stamping from the monotonic clock; policy " + c.Trust + ")"
	}
	s := p.state("trusted") + " (policy " + c.Trust
	if c.CorrectionMs != 0 {
		s += "; earlier readings corrected by " + ms(c.CorrectionMs).String()
	}
	return s + ")"
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func cloudLine(p painter, c *apitype.Cloud) string {
	broker := c.Broker
	if broker == "" {
		broker = strings.Join(c.Brokers, ", ")
	}
	state := p.state("connected")
	if !c.Connected {
		state = p.state("disconnected")
	}
	s := fmt.Sprintf("%s %s; %s batches published, %s acked, %s failed, %d in flight",
		state, broker, count(c.Published), count(c.Acked), count(c.Failed), c.Inflight)
	if c.LastAckRTTMs > 0 {
		s += ", last ack " + humanDuration(ms(c.LastAckRTTMs))
	}
	return s
}

func ringLine(p painter, r *apitype.Ring) string {
	dropped := count(r.Dropped) + " dropped"
	if r.Dropped > 0 {
		dropped = p.paint(red, dropped)
	}
	return fmt.Sprintf("%s of %s readings (%.1f%%), %s", count(uint64(r.Len)), count(uint64(r.Cap)), r.Fill*100, dropped)
}

// limitOf is what the spool may hold: the disk's room when less than the quota (older daemons send
// no limit).
func limitOf(s *apitype.Spool) int64 {
	if s.LimitBytes > 0 {
		return s.LimitBytes
	}
	return s.QuotaBytes
}

func spoolLine(p painter, s *apitype.Spool) string {
	waiting := "nothing waiting"
	if s.Backlog > 0 {
		waiting = fmt.Sprintf("%s batches waiting (%s not sent yet)", count(uint64(s.Backlog)), count(uint64(s.Unsent)))
	}
	line := fmt.Sprintf("%s, %s of %s on disk (%.1f%%)", waiting, humanBytes(uint64(s.Bytes)),
		humanBytes(uint64(limitOf(s))), s.Fill*100)
	if s.LimitBytes > 0 && s.LimitBytes < s.QuotaBytes {
		line += " (the disk's room, below the " + humanBytes(uint64(s.QuotaBytes)) + " quota)"
	}
	if lost := s.Evicted + s.Lost; lost > 0 {
		line += ", " + p.paint(red, count(lost)+" batches lost")
	}
	if !s.DirWritable {
		line += "; state dir " + p.state("not writable")
	}
	if s.NextSeq > 0 {
		line += ", next seq " + strconv.FormatUint(s.NextSeq, 10)
	}
	return line
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
	var ss []apitype.Sensor
	if done, err := a.fetch(ctx, http.MethodGet, "sensors", nil, &ss); done || err != nil {
		return err
	}
	return a.sensorTable(ss, a.now(), true)
}

func (a *App) cmdRead(ctx context.Context, _ *cmdOpts, args []string) error {
	if len(args) != 1 {
		return usagef("read needs one sensor name: wayside read SENSOR (wayside sensors lists them)")
	}
	var rd apitype.Read
	done, err := a.fetch(ctx, http.MethodPost, "read", url.Values{"sensor": {args[0]}}, &rd)
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
	var c apitype.Cloud
	if done, err := a.fetch(ctx, http.MethodGet, "cloud", nil, &c); done || err != nil {
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
	var s apitype.Spool
	if done, err := a.fetch(ctx, http.MethodGet, "spool", nil, &s); done || err != nil {
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
		humanBytes(uint64(limitOf(&s))), bound, s.Fill*100)
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
	var q url.Values
	if len(args) == 2 {
		q = url.Values{"bus": {args[1]}}
	}
	var sc apitype.ScanI2C
	if done, err := a.fetch(ctx, http.MethodPost, "scan-i2c", q, &sc); done || err != nil {
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
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	raw, err := a.cl.Do(ctx, http.MethodPost, "selftest", nil)
	if err != nil {
		return err
	}
	var res apitype.SelfTest
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode selftest answer from waysided: %w", err)
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
	var lv apitype.LogLevel
	if len(args) == 0 {
		if done, err := a.fetch(ctx, http.MethodGet, "log-level", nil, &lv); done || err != nil {
			return err
		}
		fmt.Fprintln(a.Stdout, lv.Level)
		return nil
	}
	if done, err := a.fetch(ctx, http.MethodPost, "log-level", url.Values{"level": {args[0]}}, &lv); done || err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "log level %s (was %s) until waysided restarts\n", lv.Level, lv.Previous)
	return nil
}

// configCheck is config check --json.
type configCheck struct {
	File    string          `json:"file"`
	Valid   bool            `json:"valid"`
	Errors  []*config.Error `json:"errors,omitempty"`
	Gateway string          `json:"gateway,omitempty"`
	IDFrom  string          `json:"gateway_id_from,omitempty"` // the machine id file of an auto id
	Board   string          `json:"board,omitempty"`
	Sensors int             `json:"sensors,omitempty"`
	Hash    string          `json:"config_hash,omitempty"`
}

func (a *App) cmdConfig(_ context.Context, _ *cmdOpts, args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return usagef("usage: wayside config check FILE")
	}
	path := args[1]
	cfg, err := config.Load(path, boards.Check)
	if a.json {
		out := configCheck{File: path, Valid: err == nil}
		if err != nil {
			var es config.Errors
			if errors.As(err, &es) {
				out.Errors = es
			} else {
				out.Errors = []*config.Error{{Path: "(file)", Msg: err.Error()}}
			}
		} else {
			out.Gateway, out.IDFrom, out.Board, out.Sensors, out.Hash = cfg.Gateway.ID, cfg.Gateway.IDSource, cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(a.Stdout, "%s\n", b)
		if err != nil {
			return &exitError{ExitFailure}
		}
		return nil
	}
	if err != nil {
		fmt.Fprintln(a.Stderr, err)
		return &exitError{ExitFailure}
	}
	fmt.Fprintf(a.Stdout, "%s: valid (gateway %s, board %s, %d sensors, config hash %s)\n",
		path, cfg.Gateway.IDText(), cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash)
	return nil
}

func (a *App) cmdVersion(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	raw, err := a.cl.Do(ctx, http.MethodGet, "version", nil)
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
	var v apitype.Version
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode version answer from waysided: %w", err)
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
