package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/internal/benchsuite"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// The targets of issue #9.
const (
	targetRingRatio     = 0.5    // ring ns/op at most half a channel's, push and pop in one goroutine
	targetCrossRatio    = 1.0    // across goroutines: no slower than the channel
	targetRate          = 1e6    // readings/s end to end
	targetBytes         = 12.0   // payload bytes per reading, cabinet batch of 100
	targetSealBytes     = 1.5    // bytes per reading added by signing and sealing with X25519, batch of 100 (#17)
	targetRSS           = 20     // MiB under load
	targetARM64         = 15     // MiB
	sparkplugPerReading = "≈ 23" // the figures, not measured here
	telegrafPerReading  = "≈ 71"
)

// report renders the results: a header with the machine and the command, and one table.
func (r *results) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s.  \n", r.machine)
	bs := make([]string, len(r.opts.batches))
	for i, n := range r.opts.batches {
		bs[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(&b, "Run: %s, `go run ./scripts/bench -benchtime %s -count %d -rate %s -batches %s -window %v`, %v in all.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), r.opts.benchtime, r.opts.count, strconv.FormatFloat(r.opts.rate, 'f', -1, 64), strings.Join(bs, ","), r.opts.window,
		r.took.Round(time.Second))
	t := benchsuite.Table{Header: []string{"Measure", "Wayside", "Peers / comparison", "Target", "Met"}}
	r.ringRows(&t)
	r.encodeRows(&t)
	r.aggregateRows(&t)
	r.e2eRows(&t)
	r.allocRows(&t)
	r.sizeRows(&t)
	r.wireRows(&t)
	b.WriteString(t.Markdown())
	if len(r.errs) > 0 {
		b.WriteString("\nFailed phases (their rows are missing or marked):\n\n")
		for _, p := range allPhases {
			if err, ok := r.errs[p]; ok {
				fmt.Fprintf(&b, "- %s: %s\n", p, firstLine(err.Error()))
			}
		}
	}
	return b.String()
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// failed adds a row saying a phase produced no result.
func (r *results) failed(t *benchsuite.Table, phase, measure string) bool {
	if !r.opts.phases[phase] {
		return true
	}
	if err, ok := r.errs[phase]; ok {
		t.Add(measure, "failed: "+firstLine(err.Error()), "", "", "")
		return true
	}
	return false
}

func met(ok bool, detail string) string {
	s := "no"
	if ok {
		s = "yes"
	}
	if detail != "" {
		s += " (" + detail + ")"
	}
	return s
}

// ns prints a duration in ns, µs or ms with three significant digits.
func ns(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3g ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3g µs", v/1e3)
	}
	return fmt.Sprintf("%.3g ns", v)
}

func allocs(v float64) string {
	if v == 1 {
		return "1 alloc"
	}
	return fmt.Sprintf("%.0f allocs", v)
}

// benchCell is "12.3 ns, 0 allocs" plus a dropped or full count when there is one, and whether the
// result exists and allocates nothing.
func benchCell(rs []benchsuite.BenchResult, name string) (cell string, nsOp float64, zeroAllocs bool) {
	b, ok := benchsuite.Find(rs, name)
	if !ok {
		return "no result", 0, false
	}
	s := ns(b.Metrics["ns/op"]) + ", " + allocs(b.Metrics["allocs/op"])
	if d := b.Metrics["dropped"]; d > 0 {
		s += fmt.Sprintf(", %.0f dropped of %d", d, b.N)
	}
	if f := b.Metrics["full"]; f > 0 {
		s += fmt.Sprintf(", found full %.0f times", f)
	}
	return s, b.Metrics["ns/op"], b.Metrics["allocs/op"] == 0
}

// ringRows compares the ring with the channel in the three shapes. In one goroutine the target is half
// the channel's time for Push+Pop. Across goroutines it is the channel's time, and the like-for-like
// variant is ring_lossless (TryPush retried when full, as a blocking send waits): Push overwrites
// instead and drops values the channel would have kept. Both ratios are shown; the verdict takes the
// lossless one when there is one.
func (r *results) ringRows(t *benchsuite.Table) {
	shapes := []struct {
		bench, label string
		target       float64
	}{
		{"SameGoroutine", "same goroutine", targetRingRatio},
		{"SPSC", "1 producer → 1 consumer goroutine", targetCrossRatio},
		{"MPSC4", "4 producers → 1 consumer goroutine", targetCrossRatio},
	}
	runs := ""
	if b, ok := benchsuite.Find(r.ring, "SameGoroutine/ring"); ok && b.Runs > 1 {
		runs = fmt.Sprintf(" (median of %d runs)", b.Runs)
	}
	for _, s := range shapes {
		measure := "Ring push+pop per reading, " + s.label + runs
		if r.failed(t, "micro", measure) {
			return
		}
		ring, ringNS, ringOK := benchCell(r.ring, s.bench+"/ring")
		ch, chanNS, _ := benchCell(r.ring, s.bench+"/chan")
		diodes, _, _ := benchCell(r.ring, s.bench+"/diodes")
		cell := "ring " + ring
		judged, judgedNS, judgedOK := "", ringNS, ringOK
		if lossless, lNS, lOK := benchCell(r.ring, s.bench+"/ring_lossless"); lNS > 0 {
			cell += "; lossless (TryPush, retry when full) " + lossless
			judged, judgedNS, judgedOK = "lossless ", lNS, lOK
		}
		target := fmt.Sprintf("≤ %s chan's ns, 0 allocs", map[bool]string{true: "½", false: "1×"}[s.target == 0.5])
		verdict := "n/a"
		if ringNS > 0 && judgedNS > 0 && chanNS > 0 {
			note := fmt.Sprintf("%s%.2f× chan", judged, judgedNS/chanNS)
			if judged != "" {
				note += fmt.Sprintf("; ring %.2f×", ringNS/chanNS)
			}
			verdict = met(judgedNS/chanNS <= s.target && judgedOK && ringOK, note)
		}
		t.Add(measure, cell, "buffered chan "+ch+"; go-diodes "+diodes, target, verdict)
	}
}

func (r *results) encodeRows(t *benchsuite.Table) {
	measure := "Encode a 100-reading cabinet batch"
	if r.failed(t, "micro", measure) {
		return
	}
	cell := func(name string) (string, benchsuite.BenchResult) {
		b, ok := benchsuite.Find(r.encode, "Compare/"+name)
		if !ok {
			return "no result", b
		}
		return fmt.Sprintf("%s, %s, %.1f B/reading", ns(b.Metrics["ns/op"]), allocs(b.Metrics["allocs/op"]), b.Metrics["bytes/reading"]), b
	}
	ours, b := cell("senml_cbor")
	sj, _ := cell("senml_json")
	nj, _ := cell("json_naive")
	nc, _ := cell("cbor_naive")
	t.Add(measure, "SenML-CBOR (senml.Encoder) "+ours,
		"SenML-JSON of the same pack (encoding/json) "+sj+"; encoding/json of naive {name,unit,value,time} "+nj+
			"; fxamacker/cbor Marshal of the naive struct "+nc,
		"0 allocs on the hot path", met(b.Metrics != nil && b.Metrics["allocs/op"] == 0, ""))
}

// aggregateRows: what the drivers that sum up an interval spend per input (a fast noise sample, a
// vehicle through a speed trap, a radar report line), which must not allocate.
func (r *results) aggregateRows(t *benchsuite.Table) {
	measure := "Interval aggregation per input"
	if r.failed(t, "micro", measure) {
		return
	}
	for _, c := range []struct{ name, what string }{
		{"noise_fast_sample", "ads1115 noise: one 125 ms level into LAeq, extremes and the L10/L90 histogram"},
		{"speed_trap_vehicle", "pulse speed trap: one vehicle's 4 edges, pairing, speed histogram"},
		{"radar_report", "ops243: one JSON report parsed, filtered, grouped into a vehicle"},
	} {
		b, ok := benchsuite.Find(r.aggregate, "Aggregate/"+c.name)
		cell := "no result"
		if ok {
			cell = fmt.Sprintf("%s, %s", ns(b.Metrics["ns/op"]), allocs(b.Metrics["allocs/op"]))
		}
		t.Add(measure+": "+c.what, cell, "", "0 allocs per input", met(ok && b.Metrics["allocs/op"] == 0, ""))
	}
}

func (r *results) e2eRows(t *benchsuite.Table) {
	if r.failed(t, "e2e", "End to end (daemon → mosquitto QoS 1 → subscriber)") {
		return
	}
	for _, x := range r.high {
		if x == nil {
			continue
		}
		res := x.res
		t.Add(fmt.Sprintf("End to end, synthetic load → mosquitto QoS 1 → subscriber, batches ≤ %d", x.batch),
			fmt.Sprintf("%s readings/s received (%.1f B/reading); the samplers produced %s/s (%s/s nominal: %d synthetic sensors × 100 channels at 10 ms; "+
				"spool.replay_rate %g); spool backlog %+d batches over the window; %s",
				si(res.Rate), res.BytesPerReading(), si(res.ProducedRate()), si(x.offered), x.sensors, r.opts.replay, res.SpoolGrowth, checks(&x.res)),
			"", "≥ 1M readings/s on loopback", met(res.Rate >= targetRate, ""))
		t.Add(fmt.Sprintf("Daemon CPU per million readings, same run (batches ≤ %d)", x.batch),
			fmt.Sprintf("%.2f CPU-s (%.0f%% of a core); broker %.2f CPU-s; RSS %s, max %s in the window",
				res.CPUPerMillion(), 100*res.CPUShare(), res.BrokerCPUPerMillion(), e2e.MiB(res.Memory.RSS), e2e.MiB(res.RSSMax)),
			"", "", "")
	}
	if x := r.realSim; x != nil {
		res := x.res
		t.Add(fmt.Sprintf("End to end with the real sim drivers (configs/sim.yaml's %d sensors, all at 10 ms)", x.sensors),
			fmt.Sprintf("%s/s received; %.2f CPU-s per million; %s", si(res.Rate), res.CPUPerMillion(), checks(&x.res)),
			"", "— (bounded by the drivers' bus work and measurement waits, not by the pipeline)", "")
	}
	if x := r.load10k; x != nil {
		res := x.res
		t.Add("Daemon under 10k readings/s (synthetic load, batches of 100)",
			fmt.Sprintf("%s/s received (spool.replay_rate %g); %.2f CPU-s per million (%.1f%% of a core); VmRSS %s, max %s in the window, VmHWM %s",
				si(res.Rate), r.opts.replay, res.CPUPerMillion(), 100*res.CPUShare(), e2e.MiB(res.Memory.RSS), e2e.MiB(res.RSSMax), e2e.MiB(res.Memory.Peak)),
			"", fmt.Sprintf("RSS ≤ %d MiB", targetRSS), met(float64(res.RSSMax) <= targetRSS*(1<<20), "max in the window"))
	}
	if x := r.defaults; x != nil {
		res := x.res
		t.Add("Sender at the default spool.replay_rate (20 batches/s), 10k readings/s in batches of 100",
			fmt.Sprintf("%s/s received of %s/s produced; spool backlog %+d batches over the window; %s",
				si(res.Rate), si(res.ProducedRate()), res.SpoolGrowth, checks(&x.res)),
			"", "every batch sent as it is spooled", met(res.SpoolGrowth <= 1 && res.Stopped.SpoolBacklog == 0, ""))
	}
	if x := r.idle; x != nil {
		res := x.res
		t.Add(fmt.Sprintf("Daemon idle (configs/sim.yaml: its %d real sim sensors at their intervals; RSS from %v to %v after start)", x.sensors, max(r.opts.settle, r.opts.warmup), max(r.opts.settle, r.opts.warmup)+max(r.opts.idleWin, r.opts.window)),
			fmt.Sprintf("VmRSS %s, max %s in the window, VmHWM %s (at start-up); %.1f%% of a core; %.1f readings/s, %.1f B/reading in its real batches (≤ 100 readings or 2 s)",
				e2e.MiB(res.Memory.RSS), e2e.MiB(res.RSSMax), e2e.MiB(res.Memory.Peak), 100*res.CPUShare(), res.ProducedRate(), res.BytesPerReading()),
			"", "RSS ≤ 10 MiB", met(res.RSSMax <= 10<<20, ""))
	}
}

func (r *results) allocRows(t *benchsuite.Table) {
	measure := "Heap allocations per reading, whole pipeline in-process"
	if r.failed(t, "allocs", measure) || r.allocs == nil {
		return
	}
	a := r.allocs
	t.Add(measure,
		fmt.Sprintf("%.3f per reading = %.1f per batch (%d readings in %d batches of ≤ %d, %s/s synthetic load)",
			a.perReading(), a.perBatch(), a.readings, a.batches, a.batch, si(a.offered)),
		"", "0 per reading on the hot path (sampler → ring → encoder; the rows above)",
		met(a.perReading() < 1, "nothing per reading; the rest is per sample or per batch: spool append, MQTT publish and ack"))
}

func (r *results) sizeRows(t *benchsuite.Table) {
	if r.failed(t, "size", "waysided binary size") {
		return
	}
	for _, s := range r.sizes {
		target, verdict := "", ""
		if s.target == "linux/arm64" {
			target = fmt.Sprintf("≤ %d MiB", targetARM64)
			verdict = met(s.bytes <= targetARM64<<20, "")
		}
		t.Add("waysided binary, "+s.target+" (static, -trimpath -s -w)",
			fmt.Sprintf("%s (%d bytes)", e2e.MiB(s.bytes), s.bytes), "", target, verdict)
	}
}

func (r *results) wireRows(t *benchsuite.Table) {
	if r.failed(t, "wire", "Bytes per reading on the wire") {
		return
	}
	per := func(c benchsuite.Cost, n int) (float64, float64, float64) {
		f := float64(n)
		return float64(c.Payload) / f, float64(c.MQTT) / f, float64(c.Wire) / f
	}
	for _, w := range r.wire {
		p, m, wire := per(w.cbor, w.readings)
		jp, _, jw := per(w.senmlJSON, w.readings)
		np, _, nw := per(w.naive, w.readings)
		target, verdict := "", ""
		if w.n == 100 {
			target = fmt.Sprintf("≤ %.0f B payload (Sparkplug B %s, Telegraf line protocol %s, per the issue)", targetBytes, sparkplugPerReading, telegrafPerReading)
			verdict = met(p <= targetBytes, fmt.Sprintf("%.1f B", p))
		}
		t.Add(fmt.Sprintf("Bytes per reading, cabinet batches of %d", w.n),
			fmt.Sprintf("SenML-CBOR %.1f B payload, %.1f B with MQTT, %.1f B on the wire (TLS 1.3, TCP/IP, both ways)", p, m, wire),
			fmt.Sprintf("SenML-JSON %.1f B payload, %.1f B on the wire; naive JSON %.1f B, %.1f B", jp, jw, np, nw),
			target, verdict)
	}
	for _, w := range r.wire {
		added := func(c benchsuite.Cost) float64 { return float64(c.Payload-w.cbor.Payload) / float64(w.readings) }
		target, verdict := "", ""
		if w.n == 100 {
			target = fmt.Sprintf("sign + seal with X25519 ≤ %.1f B/reading (issue #17)", targetSealBytes)
			verdict = met(added(w.sealed) <= targetSealBytes, fmt.Sprintf("%.2f B", added(w.sealed)))
		}
		t.Add(fmt.Sprintf("Bytes per reading added by signing and sealing, cabinet batches of %d", w.n),
			fmt.Sprintf("signed +%.2f B; signed and sealed, X25519 +%.2f B, MLKEM768-X25519 +%.2f B (payload)",
				added(w.signed), added(w.sealed), added(w.sealedPQ)),
			"", target, verdict)
	}
	for _, w := range r.wire {
		if w.n != 100 && w.n != 1000 {
			continue
		}
		rate := benchsuite.CabinetReadingsPerSecond()
		month := func(c benchsuite.Cost) (string, string) {
			return benchsuite.FormatBytes(benchsuite.MonthlyBytes(float64(c.Payload)/float64(w.readings), rate)),
				benchsuite.FormatBytes(benchsuite.MonthlyBytes(float64(c.Wire)/float64(w.readings), rate))
		}
		cp, cw := month(w.cbor)
		jp, jw := month(w.senmlJSON)
		np, nw := month(w.naive)
		t.Add(fmt.Sprintf("Monthly volume of the cabinet (%d readings/s, 30 days), batches of %d", rate, w.n),
			fmt.Sprintf("SenML-CBOR %s payload, %s on the wire", cp, cw),
			fmt.Sprintf("SenML-JSON %s, %s; naive JSON %s, %s (%.1f× ours on the wire)", jp, jw, np, nw,
				float64(w.naive.Wire)/math.Max(1, float64(w.cbor.Wire))),
			"", "")
	}
}
