// Command bench is Wayside's performance suite, run by `make bench`: it builds waysided the way
// releases are built and notes its size for amd64, arm64 and armv7, runs the ring and encoder
// benchmarks next to their peers (a buffered channel and go-diodes; encoding/json and fxamacker/cbor),
// computes the bytes per reading on the wire of the typical cabinet (internal/benchsuite), runs the
// daemon as a separate process against a real local mosquitto (idle, at 10k readings/s, with the real
// sim drivers, and on the synthetic load at -rate), measures the pipeline's allocations in-process,
// and prints one markdown table. With -write it regenerates the results section of BENCHMARKS.md.
//
// It prints and never asserts a time: the target column says what we aim for and the last column
// whether this run met it. Each phase is bounded in time; on 2 cores the whole suite takes about two
// minutes with -benchtime 1s. Run it from the repository root: go run ./scripts/bench [-write].
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/internal/benchsuite"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// phases in the order they run.
var allPhases = []string{"size", "micro", "wire", "e2e", "allocs"}

type options struct {
	goCmd     string
	benchtime string
	count     int
	write     bool
	doc       string
	rate      float64
	batches   []int
	replay    float64
	warmup    time.Duration
	settle    time.Duration
	idleWin   time.Duration
	window    time.Duration
	phases    map[string]bool
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	benchtime := os.Getenv("BENCHTIME")
	if benchtime == "" {
		benchtime = "1s"
	}
	fs.StringVar(&o.benchtime, "benchtime", benchtime, "`duration` (or Nx) per micro-benchmark, go test's -benchtime (env BENCHTIME)")
	fs.IntVar(&o.count, "count", 3, "runs of each ring benchmark; the report shows the median (go test's -count)")
	fs.BoolVar(&o.write, "write", false, "regenerate the results section of -doc")
	fs.StringVar(&o.doc, "doc", "BENCHMARKS.md", "the `file` -write updates")
	fs.Float64Var(&o.rate, "rate", 1.2e6, "nominal readings per second the synthetic load offers in the end-to-end run (timer slack makes the real rate a little lower)")
	batches := fs.String("batches", "1000,5000", "comma-separated batch.max_readings of the synthetic end-to-end runs, one run each")
	fs.Float64Var(&o.replay, "replay-rate", 10000, "spool.replay_rate of the synthetic runs (see BENCHMARKS.md: the default 20 caps the sender)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long each daemon run goes on before its measurement window")
	fs.DurationVar(&o.settle, "idle-settle", 40*time.Second, "how long the idle daemon run goes on before its window: past the daemon's last code-page trim, 30 s after ready (internal/codepages), so its RSS is the settled one")
	fs.DurationVar(&o.idleWin, "idle-window", 5*time.Minute, "measurement window of the idle daemon run: its RSS settles over minutes (the heap reaches its goal, periodic code runs), and the report gives the largest VmRSS in it")
	fs.DurationVar(&o.window, "window", 6*time.Second, "measurement window of each daemon run (the synthetic run gets 1.5 times this)")
	phases := fs.String("phases", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			fmt.Fprintf(os.Stderr, "bench: unknown phase %q in -phases; use some of %s\n", p, strings.Join(allPhases, ", "))
			return 2
		}
		o.phases[p] = true
	}
	for _, f := range strings.Split(*batches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			fmt.Fprintf(os.Stderr, "bench: -batches: %q is not a batch size; use numbers 1..10000 such as 1000,5000\n", f)
			return 2
		}
		o.batches = append(o.batches, n)
	}
	if o.rate < 1000 || o.window < time.Second || o.warmup < 0 || o.replay <= 0 || o.replay > 10000 {
		fmt.Fprintln(os.Stderr, "bench: -rate must be at least 1000, -window at least 1s, -warmup not negative, -replay-rate 0 < r <= 10000")
		return 2
	}
	o.goCmd = os.Getenv("GO")
	if o.goCmd == "" {
		o.goCmd = "go"
	}
	root, err := moduleRoot(o.goCmd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err := os.Chdir(root); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "wayside-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	idle := max(o.settle, o.warmup) + max(o.idleWin, o.window)                    // the idle run's settle and window
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+idle) // a hard stop far past the budget
	defer cancel()
	start := time.Now()
	res := &results{errs: map[string]error{}, opts: o}
	mosquitto, _ := e2e.MosquittoBinary()
	res.machine = benchsuite.Machine(mosquitto)
	suite := []struct {
		name  string
		limit time.Duration
		run   func(context.Context) error
	}{
		{"size", 3 * time.Minute, func(ctx context.Context) error { return res.sizePhase(ctx, tmp) }},
		{"micro", 3 * time.Minute, res.microPhase},
		{"wire", time.Minute, func(context.Context) error { return res.wirePhase() }},
		{"e2e", 4*time.Minute + idle, func(ctx context.Context) error { return res.e2ePhase(ctx, tmp) }},
		{"allocs", time.Minute, func(ctx context.Context) error { return res.allocsPhase(ctx, tmp) }},
	}
	for _, p := range suite {
		if !o.phases[p.name] {
			continue
		}
		t := time.Now()
		progress("phase %s", p.name)
		pctx, pcancel := context.WithTimeout(ctx, p.limit)
		err := p.run(pctx)
		pcancel()
		if err != nil {
			res.errs[p.name] = err
			fmt.Fprintf(os.Stderr, "bench: phase %s: %v\n", p.name, err)
		}
		progress("phase %s done in %v", p.name, time.Since(t).Round(100*time.Millisecond))
	}
	res.took = time.Since(start)
	out := res.report()
	fmt.Print(out)
	if o.write {
		if err := writeDoc(o.doc, out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		progress("wrote the results into %s", o.doc)
	}
	if len(res.errs) > 0 {
		return 1
	}
	return 0
}

// writeDoc replaces the results section of the document at path.
func writeDoc(path, results string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	out, err := benchsuite.ReplaceResults(string(doc), results)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(goCmd string) (string, error) {
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the suite inside the Wayside module: go run ./scripts/bench")
	}
	return filepath.Dir(mod), nil
}

// progress reports what the suite is doing on stderr; stdout carries only the table.
func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}
