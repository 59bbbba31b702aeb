package fleet

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Report renders a run as the markdown section `make bench-fleet` writes into BENCHMARKS.md.
func Report(o Options, r *Result) string {
	var b strings.Builder
	w := r.Steady
	n := float64(r.N)
	secs := w.Duration.Seconds()
	cores := w.CPU.Seconds() / secs
	perGwCPU := w.CPU.Seconds() / secs / n // cores per gateway
	perGwMem := float64(w.RSS-w.RSSBefore) / n
	readRate := float64(w.Readings) / secs
	nominal := n * r.Nominal
	sensors := fmt.Sprintf("sim board cabinet: 9 sensors through their real drivers, each sampled every second: %d channels", r.Channels)
	if o.Synthetic {
		sensors = fmt.Sprintf("sim board synthetic load part instead of the cabinet's drivers: %d channels every %v", r.Channels, SyntheticInterval)
	}
	procs, process, includes := "", "fleet process", "the fleet process includes the checker"
	if r.Procs > 1 {
		procs = fmt.Sprintf(" in %d member processes (and a parent with the broker, the checker, the storm and the "+
			"commands)", r.Procs)
		process = "fleet processes"
		includes = fmt.Sprintf("the fleet's figures are sums over its %d processes, the parent's included, which "+
			"runs the checker", r.Procs+1)
	}
	includes += " (decoding and verifying every batch)"
	what := "gateways + checker"
	if o.Ingest {
		what = "gateways + checker + the two ingests; PostgreSQL not counted"
		includes += ", and the two ingests (the same, and writing every batch into PostgreSQL)"
	}
	fmt.Fprintf(&b, "Run: %d gateways%s (%s, "+
		"batches of %d readings or %v, buffer.capacity %d, batcher poll %v), mosquitto %s on loopback, %d CPUs (%s), %s.\n\n",
		r.N, procs, sensors, CabinetMaxReadings, CabinetMaxAge, o.RingCapacity, pollOf(o), "2.0", runtime.NumCPU(), runtime.GOARCH,
		time.Now().UTC().Format("2006-01-02"))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(la))
		if len(f) >= 3 {
			fmt.Fprintf(&b, "Load average at the end (the machine is shared): %s %s %s. CPU figures are CPU time used, "+
				"from /proc; %s.\n\n", f[0], f[1], f[2], includes)
		}
	}
	b.WriteString("| figure | value |\n|---|---|\n")
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(f, a...)) }
	opening := "opening the fleet (gateway.New, 256 at a time)"
	if r.Procs > 1 {
		opening = "opening the fleet (gateway.New, 256 at a time in each process)"
	}
	row(opening+" / all connected", "%v / %v", r.Opened.Round(100*time.Millisecond), r.Connected.Round(100*time.Millisecond))
	row("steady window", "%.0f s", secs)
	row("readings spooled / configured", "%.0f/s of %.0f/s (%.1f%%; the radar reports only when a vehicle passes)", readRate, nominal, 100*readRate/nominal)
	row(process+" CPU ("+what+")", "%.2f cores", cores)
	row("CPU per gateway", "%.3f%% of a core (%.0f µs per second)", 100*perGwCPU, perGwCPU*1e6)
	row(process+" RSS / per gateway", "%s / %.0f KiB (Go heap in use %s; %d goroutines, %.1f per gateway; %d open files)",
		mib(w.RSS), perGwMem/1024, mib(int64(w.HeapInuse)), w.Goroutines, float64(w.Goroutines)/n, w.OpenFDs)
	if fit := fits(cores, n); fit > 0 && !o.Ingest { // with the ingest the CPU is not the gateways' alone
		row("gateways that fit on this machine's 2 cores (at 80% of them)", "about %d (linear in the measured per-gateway CPU)", fit)
	}
	msgs := float64(w.Messages) / secs
	row("broker: CPU / RSS", "%.2f cores / %s", w.BrokerCPU.Seconds()/secs, mib(w.BrokerRSS))
	row("broker: telemetry messages in (batches) / out to the checker", "%.0f/s / %.0f/s (%.0f readings a batch)",
		float64(w.Batches)/secs, msgs, float64(w.Readings)/max(float64(w.Batches), 1))
	if w.Readings > 0 {
		row("broker CPU per million readings", "%.1f s", w.BrokerCPU.Seconds()/float64(w.Readings)*1e6)
	}
	if s := r.Storm; s != nil {
		total := 0
		for _, a := range s.Attempts {
			total += a
		}
		row("storm: broker down (SIGTERM to listening again)", "%v", s.Down.Round(time.Millisecond))
		row("storm: peak connection attempts (by the second each link began one)", "%d/s = %.1f%% of the fleet (limit 5%%: %.1f/s) %s",
			s.PeakAttempt, 100*float64(s.PeakAttempt)/n, s.Limit, verdict(float64(s.PeakAttempt) <= s.Limit))
		back := "not all"
		if s.AllBack > 0 {
			back = s.AllBack.Round(100 * time.Millisecond).String()
		}
		row("storm: whole fleet back after", "%s (limit 2 × reconnect.max = %v; spread %v) %s", back, s.BackLimit, s.Spread,
			verdict(s.AllBack > 0 && s.AllBack <= s.BackLimit))
		row("storm: attempts in all", "%d for %d gateways", total, r.N)
		if k := min(int(s.Spread/time.Second), len(s.Attempts)); k > 0 {
			first := 0
			for _, a := range s.Attempts[:k] {
				first += a
			}
			row("storm: mean over the first spread", "%.1f/s = %.1f%% of the fleet (1/spread: %.1f%%)",
				float64(first)/float64(k), 100*float64(first)/float64(k)/n, 100/s.Spread.Seconds())
		}
	}
	row("batches spooled / distinct at the checker / still spooled / missing", "%d / %d / %d / **%d** %s",
		r.Batches, r.Distinct, r.StillSpooled, r.Missing, verdict(r.Missing <= r.StillSpooled && r.Bad == 0))
	if g := r.Ingest; g != nil {
		row(fmt.Sprintf("ingest into PostgreSQL (%d instances, each receiving every batch, %d restart after the steady window): "+
			"batches in the database / at the checker", g.Instances, g.Restarts), "%d / %d %s", g.Batches, g.Want, verdict(g.Batches == g.Want))
		row("ingest: gateways whose readings in the database equal the checker's (count and checksum of values and times)",
			"%d of %d (%d readings) %s", g.Matching, g.Gateways, g.Readings, verdict(g.Matching == g.Gateways && len(g.Mismatches) == 0))
		row("ingest: batches written / found already written (by the other instance, or redelivered) / quarantined", "%d / %d / %d (waited %v after the fleet stopped)",
			g.Written, g.Duplicates, g.Quarantine, g.Waited.Round(100*time.Millisecond))
		for _, m := range g.Mismatches {
			row("ingest mismatch", "%s", m)
		}
	}
	if len(r.CheckerShare) > 1 {
		row("checker: clients sharing one subscription / telemetry messages each", "%d / %v", len(r.CheckerShare), r.CheckerShare)
	}
	row("duplicates (redelivered, de-duplicated on gateway and seq) / failed checks", "%d / %d", r.Duplicates, r.Bad)
	row("signed pings answered", "%d of %d", r.CommandsOK, r.CommandsSent)
	row("retained status seen / orderly offline at stop", "%d / %d of %d", r.OnlineSeen, r.OfflineClean, r.N)
	row("ring drops / sensors not ok at the stop", "%d / %d", r.RingDropped, r.SensorsBad)
	for _, s := range r.BadSamples {
		row("failed check", "%s", s)
	}
	if s := r.Storm; s != nil {
		b.WriteString("\nStorm, per second from the broker's stop (second 0 is the first): connection attempts by the links (each in the second it began) / TCP connections " +
			"accepted by the broker (its log) / CONNECTs accepted / gateways back.\n\n```\n")
		for i := range s.Attempts {
			tcp, conn := 0, 0
			if i < len(s.BrokerTCP) {
				tcp, conn = s.BrokerTCP[i], s.BrokerConn[i]
			}
			fmt.Fprintf(&b, "%3d s %5d %5d %5d %6d\n", i, s.Attempts[i], tcp, conn, s.Back[i])
		}
		b.WriteString("```\n")
	}
	return b.String()
}

func pollOf(o Options) time.Duration {
	if o.Poll > 0 {
		return o.Poll
	}
	return 20 * time.Millisecond
}

func verdict(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(**not met**)"
}

// fits is how many gateways 80% of the machine's cores carry at the measured cost.
func fits(cores, n float64) int {
	if cores <= 0 {
		return 0
	}
	return int(0.8 * float64(runtime.NumCPU()) / (cores / n))
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

const (
	beginMark = "<!-- fleet:results:begin (generated by `make bench-fleet` / go run ./scripts/fleet -write; edit outside) -->"
	endMark   = "<!-- fleet:results:end -->"
)

// WriteSection replaces the text between the fleet markers of doc with md, or appends a "Fleet"
// section with the markers when the file has none.
func WriteSection(doc, md string) error {
	b, err := os.ReadFile(doc)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	s := string(b)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		s = strings.TrimRight(s, "\n") + "\n\n## Fleet (make bench-fleet)\n\n" + beginMark + "\n" + md + endMark + "\n"
	} else {
		s = s[:i+len(beginMark)] + "\n" + md + s[j:]
	}
	if err := os.WriteFile(doc, []byte(s), 0o644); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}
