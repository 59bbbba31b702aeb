package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/internal/benchsuite"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// results is what the phases measured; a phase that failed leaves its part empty and its error.
type results struct {
	opts    options
	machine string
	took    time.Duration
	errs    map[string]error

	sizes  []binarySize
	daemon string // the host build of waysided the e2e phase runs

	ring, encode []benchsuite.BenchResult
	aggregate    []benchsuite.BenchResult // the drivers' interval aggregation, per input

	wire []wireRow

	idle, load10k, defaults, realSim *daemonRun
	high                             []*daemonRun // one per -batches size
	allocs                           *allocResult
}

type binarySize struct {
	target string // "linux/arm64"
	bytes  int64
}

// daemonRun is one daemon run and what it offered.
type daemonRun struct {
	label   string
	sensors int
	offered float64 // nominal readings/s of a synthetic load, 0 otherwise
	batch   int
	res     e2e.Result
}

// targets are the release builds measured: GOOS, GOARCH, GOARM.
var targets = [][3]string{{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"linux", "arm", "7"}}

// sizePhase builds static, stripped waysided binaries (no devbroker tag) as releases are built, and
// keeps the host's for the e2e phase.
func (r *results) sizePhase(ctx context.Context, dir string) error {
	for _, t := range targets {
		name := "waysided-" + t[1] + t[2]
		path := filepath.Join(dir, name)
		if err := r.build(ctx, path, t[0], t[1], t[2]); err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		label := t[0] + "/" + t[1]
		if t[2] != "" {
			label += "v" + t[2]
		}
		r.sizes = append(r.sizes, binarySize{label, fi.Size()})
		if t[0] == runtime.GOOS && t[1] == runtime.GOARCH {
			r.daemon = path
		}
	}
	return nil
}

func (r *results) build(ctx context.Context, out, goos, goarch, goarm string) error {
	cmd := exec.CommandContext(ctx, r.opts.goCmd, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/waysided")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if goarm != "" {
		cmd.Env = append(cmd.Env, "GOARM="+goarm)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build waysided for %s/%s%s: %w\n%s", goos, goarch, goarm, err, b)
	}
	// Written back to disk, as an installed binary is: the page cache may drop a clean page, never a
	// dirty one, so a binary fresh from the linker keeps all its pages resident whatever the daemon
	// advises (internal/codepages) until the kernel's write-back, half a minute later.
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("sync %s: %w", out, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", out, err)
	}
	return nil
}

// microPhase runs the ring's benchmarks (buffer: ring, channel, go-diodes), the encoder comparison
// (cloudsync/senml BenchmarkCompare) and the drivers' interval aggregation (BenchmarkAggregate).
func (r *results) microPhase(ctx context.Context) error {
	var err error
	if r.ring, err = r.goBench(ctx, "./buffer/", ".", max(1, r.opts.count)); err != nil {
		return err
	}
	if r.encode, err = r.goBench(ctx, "./cloudsync/senml/", "^BenchmarkCompare$", 1); err != nil {
		return err
	}
	r.aggregate, err = r.goBench(ctx, "./drivers/...", "^BenchmarkAggregate$", 1)
	return err
}

// goBench runs the benchmarks of pkg matching pattern count times each; ParseBench keeps the median.
func (r *results) goBench(ctx context.Context, pkg, pattern string, count int) ([]benchsuite.BenchResult, error) {
	progress("go test -run '^$' -bench %s -benchmem -benchtime %s -count %d %s", pattern, r.opts.benchtime, count, pkg)
	cmd := exec.CommandContext(ctx, r.opts.goCmd, "test", "-run", "^$", "-bench", pattern, "-benchmem",
		"-benchtime", r.opts.benchtime, "-count", strconv.Itoa(count), pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w\n%s", pkg, err, out)
	}
	rs := benchsuite.ParseBench(string(out))
	if len(rs) == 0 {
		return nil, fmt.Errorf("go test -bench %s printed no results:\n%s", pkg, out)
	}
	return rs, nil
}

// wireRow is the cabinet's cost at one batch size, summed over 1000 readings cut into batches.
type wireRow struct {
	n                      int
	readings               int
	cbor, senmlJSON, naive benchsuite.Cost
	// The same packs signed (cosebatch.Signer), and signed then sealed with X25519 (HPKE-4) and with
	// the hybrid MLKEM768-X25519 suite (cosebatch.Sealer; city kid "city-2026a"): issue #17.
	signed, sealed, sealedPQ benchsuite.Cost
}

var batchSizes = []int{1, 10, 100, 1000}

// wirePhase encodes the cabinet's first 1000 readings in batches of 1, 10, 100 and 1000 with the
// real encoder, as SenML-JSON and as naive JSON, and adds the framing of each batch.
func (r *results) wirePhase() error {
	const total = 1000
	rs, err := benchsuite.CabinetReadings(total)
	if err != nil {
		return err
	}
	chans := benchsuite.CabinetChannels()
	table := benchsuite.NewNaiveTable(benchsuite.CabinetGatewayID, chans)
	tr := benchsuite.DefaultTransport
	add := func(c *benchsuite.Cost, payload int) {
		b := tr.Batch(benchsuite.CabinetTopic, payload)
		c.Payload += b.Payload
		c.MQTT += b.MQTT
		c.Wire += b.Wire
	}
	signer, err := cosebatch.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), benchsuite.CabinetBootID, 1<<16)
	if err != nil {
		return err
	}
	var sealers [2]*cosebatch.Sealer
	for i, name := range []string{"x25519-chacha20poly1305", "mlkem768x25519-chacha20poly1305"} {
		suite, err := cosebatch.SuiteByName(name)
		if err != nil {
			return err
		}
		city, err := suite.KEM.GenerateKey()
		if err != nil {
			return err
		}
		if sealers[i], err = cosebatch.NewSealer(suite, "city-2026a", city.PublicKey().Bytes()); err != nil {
			return err
		}
	}
	for _, n := range batchSizes {
		enc, err := senml.NewEncoder(benchsuite.CabinetGatewayID, benchsuite.CabinetBootID, chans, n)
		if err != nil {
			return err
		}
		js := benchsuite.NewJSONEncoder(benchsuite.CabinetGatewayID, benchsuite.CabinetBootID, chans)
		row := wireRow{n: n, readings: total}
		for i, seq := 0, uint64(benchsuite.CabinetSeq); i < total; i, seq = i+n, seq+1 {
			batch := rs[i:min(i+n, total)]
			p, err := enc.Encode(seq, batch)
			if err != nil {
				return err
			}
			add(&row.cbor, len(p))
			signed := signer.Sign(seq, p)
			add(&row.signed, len(signed))
			for i, c := range []*benchsuite.Cost{&row.sealed, &row.sealedPQ} {
				s, err := sealers[i].Seal(signed)
				if err != nil {
					return err
				}
				add(c, len(s))
			}
			if p, err = js.Encode(seq, batch); err != nil {
				return err
			}
			add(&row.senmlJSON, len(p))
			if p, err = json.Marshal(table.Append(nil, batch)); err != nil {
				return err
			}
			add(&row.naive, len(p))
		}
		r.wire = append(r.wire, row)
	}
	return nil
}

// e2ePhase starts mosquitto and runs the daemon four times: idle on configs/sim.yaml, 10k readings/s
// of synthetic load, the real sim drivers at the 10 ms minimum interval, and the synthetic load at
// -rate.
func (r *results) e2ePhase(ctx context.Context, dir string) error {
	if r.daemon == "" {
		r.daemon = filepath.Join(dir, "waysided-host")
		if err := r.build(ctx, r.daemon, runtime.GOOS, runtime.GOARCH, ""); err != nil {
			return err
		}
	}
	broker, err := e2e.StartBroker(dir)
	if err != nil {
		return err
	}
	defer broker.Stop()
	simYAML := filepath.Join("configs", "sim.yaml")
	idle, err := e2e.SensorsOf(simYAML, 0)
	if err != nil {
		return err
	}
	fast, err := e2e.SensorsOf(simYAML, e2e.MinInterval)
	if err != nil {
		return err
	}
	o := r.opts
	runs := []struct {
		dst    **daemonRun
		label  string
		spec   e2e.Spec
		window time.Duration
		warmup time.Duration
	}{
		{&r.idle, "idle: configs/sim.yaml sensors at their intervals",
			e2e.Spec{GatewayID: "bench-idle", Seed: 42, Sensors: idle, MaxReadings: 100, MaxAge: 2 * time.Second}, max(o.idleWin, o.window), max(o.settle, o.warmup)},
		{&r.load10k, "synthetic load at 10k readings/s",
			e2e.Spec{GatewayID: "bench-10k", Seed: 42, Sensors: e2e.Synthetic(1e4), ReplayRate: o.replay}, o.window, o.warmup},
		{&r.defaults, "synthetic load at 10k readings/s, default spool.replay_rate",
			e2e.Spec{GatewayID: "bench-defaults", Seed: 42, Sensors: e2e.Synthetic(1e4)}, o.window, o.warmup},
		{&r.realSim, "real sim drivers at 10 ms",
			e2e.Spec{GatewayID: "bench-sim", Seed: 42, Sensors: fast, MaxAge: 200 * time.Millisecond}, o.window, o.warmup},
	}
	r.high = make([]*daemonRun, len(o.batches))
	for i, n := range o.batches {
		runs = append(runs, struct {
			dst    **daemonRun
			label  string
			spec   e2e.Spec
			window time.Duration
			warmup time.Duration
		}{&r.high[i], fmt.Sprintf("synthetic load at %s readings/s, batches of %d", si(o.rate), n),
			e2e.Spec{GatewayID: fmt.Sprintf("bench-max-%d", n), Seed: 42, Sensors: e2e.Synthetic(o.rate), MaxReadings: n,
				MaxAge: 200 * time.Millisecond, BufferCapacity: ringFor(o.rate), ReplayRate: o.replay}, o.window, o.warmup})
	}
	for i, x := range runs {
		progress("daemon run: %s (%d sensors)", x.label, len(x.spec.Sensors))
		res, err := e2e.Measure(ctx, e2e.Run{Binary: r.daemon, Dir: filepath.Join(dir, fmt.Sprintf("run%d", i)),
			Broker: broker, Spec: x.spec, Warmup: x.warmup, Window: x.window})
		if err != nil {
			return fmt.Errorf("%s: %w", x.label, err)
		}
		batch := x.spec.MaxReadings
		if batch == 0 {
			batch = 100
		}
		*x.dst = &daemonRun{label: x.label, sensors: len(x.spec.Sensors), offered: e2e.OfferedRate(x.spec.Sensors), batch: batch, res: res}
		progress("  %.0f readings/s received, %.0f/s produced, spool backlog %+d batches in the window; %.2f CPU-s per million, RSS %s (max %s); %s",
			res.Rate, res.ProducedRate(), res.SpoolGrowth, res.CPUPerMillion(), e2e.MiB(res.Memory.RSS), e2e.MiB(res.RSSMax), checks(&res))
	}
	return nil
}

// checks summarises a run's delivery checks.
func checks(res *e2e.Result) string {
	s := res.Stopped
	spool := fmt.Sprintf("%d lost", res.Lost())
	if s.SpoolBacklog > 0 {
		spool = fmt.Sprintf("%d readings in %d batches still spooled at stop", res.Unreceived(), s.SpoolBacklog)
	}
	return fmt.Sprintf("%s, %d duplicate batches, %d decode errors, %d dropped by the ring",
		spool, res.Duplicates, res.DecodeErrors, s.RingDropped)
}

// ringFor is a ring capacity (a power of two) holding at least 100 ms of readings at rate: the
// batcher looks at the ring every 20 ms and must not find it overflowing.
func ringFor(rate float64) int {
	c := 16384
	for float64(c) < rate/10 && c < 1<<24 {
		c <<= 1
	}
	return c
}

// si prints a rate as 10k or 1.2M.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case v >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func trimZero(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
