// Command fleet runs the city-scale simulator (internal/fleet) behind `make fleet` and `make
// bench-fleet`: N virtual gateways, each the real pipeline on the sim board's cabinet, in this one
// process against a mosquitto it starts on a free loopback port (or -broker, one an ingest also
// subscribes to). It prints what one gateway costs in memory and CPU, the broker's load, the
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
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/internal/fleet"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	var o fleet.Options
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.IntVar(&o.N, "n", 500, "virtual gateways")
	fs.DurationVar(&o.Run, "run", 60*time.Second, "how long the fleet runs before the storm (and measures)")
	fs.BoolVar(&o.Storm, "storm", false, "restart the broker with the fleet connected and follow the reconnections")
	fs.DurationVar(&o.ReconnectMin, "reconnect-min", 0, "cloud.reconnect.min of every gateway (0: the default, 1s)")
	fs.DurationVar(&o.ReconnectSpread, "reconnect-spread", 0, "cloud.reconnect.spread (0: the default, 30s)")
	fs.DurationVar(&o.ReconnectMax, "reconnect-max", 0, "cloud.reconnect.max (0: the default, 2m)")
	fs.StringVar(&o.BrokerURL, "broker", "", "an already running broker `url` (tcp://host:port); no broker is started and there is no storm")
	fs.StringVar(&o.Dir, "dir", "", "`directory` for the spools and the broker's files (default a new temp dir)")
	fs.IntVar(&o.RingCapacity, "ring", 1024, "buffer.capacity of every gateway")
	write := fs.Bool("write", false, "write the fleet section into -doc")
	doc := fs.String("doc", "BENCHMARKS.md", "the `file` -write updates")
	quiet := fs.Bool("q", false, "no progress lines")
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
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	res, err := fleet.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	md := fleet.Report(o, res)
	fmt.Print(md)
	if *write {
		if err := fleet.WriteSection(*doc, md); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "%s: fleet section written\n", *doc)
	}
	return 0
}
