// Command fleet runs the city-scale simulator (internal/fleet) behind `make fleet` and `make
// bench-fleet`: N virtual gateways, each the real pipeline on the sim board's cabinet, in this process
// (or, past its open-file limit or with -procs, in member processes it starts from its own executable)
// against a mosquitto it starts on a free loopback port (or -broker, one an ingest also subscribes to). It prints what one gateway costs in memory and CPU, the broker's load, the
// reconnect storm's per-second series after a broker restart (-storm) and the end-to-end check of
// every batch, and with -write puts that section into BENCHMARKS.md between its fleet markers.
//
// It prints figures and never asserts a time. Every phase is bounded; the run stops by itself.
// Run it from the repository root: go run ./scripts/fleet -n 500 -run 60s.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/internal/fleet"
)

func main() {
	if fleet.IsMember() { // started by fleet.Run to hold a share of the gateways
		os.Exit(fleet.ServeMember())
	}
	os.Exit(run(os.Args[1:]))
}

func parseSizes(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("fleet: -n %q: want positive numbers separated by commas", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func run(args []string) int {
	var o fleet.Options
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	ns := fs.String("n", "500", "virtual gateways; a comma-separated list runs one fleet of each size in turn")
	fs.DurationVar(&o.Run, "run", 60*time.Second, "how long the fleet runs before the storm (and measures)")
	fs.BoolVar(&o.Storm, "storm", false, "restart the broker with the fleet connected and follow the reconnections")
	dMin, dSpread, dMax, err := fleet.Reconnect(fleet.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fs.DurationVar(&o.ReconnectMin, "reconnect-min", 0, fmt.Sprintf("cloud.reconnect.min of every gateway (0: the default, %v)", dMin))
	fs.DurationVar(&o.ReconnectSpread, "reconnect-spread", 0, fmt.Sprintf("cloud.reconnect.spread (0: the default, %v)", dSpread))
	fs.DurationVar(&o.ReconnectMax, "reconnect-max", 0, fmt.Sprintf("cloud.reconnect.max (0: the default, %v)", dMax))
	fs.IntVar(&o.Procs, "procs", 0, "processes that hold the gateways (0: one when -n fits this process's open-file limit, "+
		"else the fewest that fit; more than one: member processes of this executable, this one keeps the broker, "+
		"the checker and the storm)")
	fs.StringVar(&o.BrokerURL, "broker", "", "an already running broker `url` (tcp://host:port); no broker is started and there is no storm")
	fs.StringVar(&o.KeysFile, "keys", "", "write the gateways' public keys as JSON to `file` before they publish (for an ingest)")
	fs.StringVar(&o.Dir, "dir", "", "`directory` for the spools and the broker's files (default a new temp dir)")
	fs.IntVar(&o.CheckerClients, "checker-clients", 0, "clients that receive the telemetry for the checker, on one shared subscription when more than one "+
		"(0: one per 1,000 gateways, at most 8; one with -broker)")
	fs.DurationVar(&o.Poll, "poll", 0, "gateway.Options.Poll of every gateway: the batcher's look at the ring (0: the daemon's 20ms)")
	fs.BoolVar(&o.Synthetic, "synthetic", false, "the sim board's synthetic load part instead of the cabinet's nine drivers (same reading rate)")
	fs.BoolVar(&o.Ingest, "ingest", false, "run the reference ingest beside the fleet: its own PostgreSQL, two instances sharing "+
		"the telemetry, the first restarted after the steady window; every gateway's readings in the database are compared with the checker's")
	timeout := fs.Duration("timeout", 20*time.Minute, "stop everything after this long, whatever the phase")
	fs.IntVar(&o.RingCapacity, "ring", 1024, "buffer.capacity of every gateway")
	write := fs.Bool("write", false, "write the fleet section into -doc")
	doc := fs.String("doc", "BENCHMARKS.md", "the `file` -write updates")
	quiet := fs.Bool("q", false, "no progress lines")
	bench := fs.Bool("bench", false, "make bench-fleet's plan: 500 gateways with the cabinet's real drivers and -ingest, then each -n "+
		"with -synthetic and -poll 250ms (what fits on 2 cores), every fleet with -storm")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the steady window's process to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer log.Sync()
	o.Log = log
	if !*quiet {
		o.Progress = func(s string) { fmt.Fprintln(os.Stderr, s) }
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		o.OnSteady = func(start bool) {
			if start {
				pprof.StartCPUProfile(f)
			} else {
				pprof.StopCPUProfile()
			}
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()
	sizes, err := parseSizes(*ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	type step struct {
		o     fleet.Options
		title string
	}
	var plan []step
	for _, n := range sizes {
		st := step{o: o}
		st.o.N = n
		plan = append(plan, st)
	}
	if *bench {
		cab := o
		cab.N, cab.Storm, cab.Ingest = 500, true, true
		plan = []step{{cab, "500 gateways, the cabinet's real drivers, with the ingest"}}
		for _, n := range sizes {
			syn := o
			syn.N, syn.Storm, syn.Synthetic, syn.Poll = n, true, true, 250*time.Millisecond
			plan = append(plan, step{syn, fmt.Sprintf("%d gateways, the synthetic part and a 250 ms poll", n)})
		}
	}
	var md strings.Builder
	rc := 0
	for _, st := range plan {
		o := st.o
		title := st.title
		if title == "" && len(plan) > 1 {
			title = fmt.Sprintf("%d gateways", o.N)
		}
		res, err := fleet.Run(ctx, o)
		var sec string
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, err)
			sec, rc = fmt.Sprintf("Did not complete: %v\n", err), 1
		case ctx.Err() != nil:
			sec, rc = fleet.Report(o, res)+fmt.Sprintf("\nCut short (%v): the figures above cover what ran.\n", context.Cause(ctx)), 1
		default:
			sec = fleet.Report(o, res)
		}
		if title != "" {
			sec = fmt.Sprintf("### %s\n\n%s\n", title, sec)
		}
		fmt.Print(sec)
		md.WriteString(sec)
		if ctx.Err() != nil {
			break
		}
	}
	// Written even when a step failed or the time ran out, saying so: a run that cannot finish on a
	// loaded machine is a result too.
	if *write {
		if err := fleet.WriteSection(*doc, md.String()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "%s: fleet section written\n", *doc)
	}
	return rc
}
