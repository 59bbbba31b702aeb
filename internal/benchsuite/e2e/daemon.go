package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
	"github.com/wayside-iot/wayside/gateway/localapi/client"
)

// Run is one measured run of the daemon.
type Run struct {
	Binary string  // the waysided binary
	Dir    string  // a fresh directory for the configuration and the spool
	Broker *Broker // where the daemon syncs and the subscriber listens
	Spec   Spec
	// Warmup is how long the run goes on after the first batch arrives before the window opens.
	Warmup time.Duration
	// Window is how long readings, CPU time and memory are measured.
	Window time.Duration
	// Start bounds the wait for the first batch (default 20 s).
	Start time.Duration
}

// Result is what a run measured. Rates and CPU costs cover the window; totals cover the whole run.
type Result struct {
	Window   time.Duration // measured, from the first to the last snapshot
	Received int64         // readings the subscriber received inside the window
	Bytes    int64         // payload bytes it received inside the window
	Rate     float64       // Received per second
	// DaemonCPU and BrokerCPU are the CPU time (user + system) each process used in the window.
	DaemonCPU, BrokerCPU time.Duration
	// Produced and Spooled are the readings the daemon's samplers took and its batcher spooled in the
	// window; SpoolGrowth is how many more batches waited for an acknowledgement at its end than at its
	// start, RingDropped how many readings the ring evicted (all from the daemon's local API).
	Produced, Spooled int64
	SpoolGrowth       int
	RingDropped       int64
	// Memory is the daemon's VmRSS at the end of the window and VmHWM, its peak over the run;
	// RSSMax is the largest VmRSS sampled in the window (every 100 ms).
	Memory Memory
	RSSMax int64

	// After the daemon stopped: every pack received is decoded with senml.Decode.
	Packs, Readings int64 // packs and readings received over the whole run
	DecodeErrors    int   // packs that did not decode, or whose record count differs from the array's
	Duplicates      int   // packs with a sequence number already received
	BootIDs         int   // distinct boot ids seen (1 for one daemon run)
	Stopped         Stopped
	StopTime        time.Duration // from SIGTERM to the daemon's exit
}

// ProducedRate is the readings per second the daemon's samplers took in the window.
func (r Result) ProducedRate() float64 { return float64(r.Produced) / r.Window.Seconds() }

// CPUPerMillion is the daemon's CPU seconds per million readings in the window.
func (r Result) CPUPerMillion() float64 { return perMillion(r.DaemonCPU, r.Received) }

// BrokerCPUPerMillion is the broker's CPU seconds per million readings in the window.
func (r Result) BrokerCPUPerMillion() float64 { return perMillion(r.BrokerCPU, r.Received) }

// CPUShare is the daemon's CPU use in the window as a fraction of one core.
func (r Result) CPUShare() float64 { return r.DaemonCPU.Seconds() / r.Window.Seconds() }

// BytesPerReading is the mean payload per reading received in the window.
func (r Result) BytesPerReading() float64 {
	if r.Received == 0 {
		return 0
	}
	return float64(r.Bytes) / float64(r.Received)
}

// Unreceived is the readings the daemon spooled that the subscriber did not receive: still in the
// spool when the daemon stopped (Stopped.SpoolBacklog batches; sent after a restart), or lost.
func (r Result) Unreceived() int64 { return int64(r.Stopped.Spooled) - r.Readings }

// Lost is Unreceived when the daemon stopped with an empty spool backlog: readings that were
// acknowledged by the broker but never reached the subscriber. With a backlog it is 0: what is missing
// may all be in the spool.
func (r Result) Lost() int64 {
	if r.Stopped.SpoolBacklog > 0 {
		return 0
	}
	return r.Unreceived()
}

func perMillion(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() / float64(n) * 1e6
}

// Stopped is the daemon's "gateway stopped" log line: its own totals for the run.
type Stopped struct {
	Batches      uint64 `json:"batches"`
	Readings     uint64 `json:"readings"`         // taken by the samplers
	Spooled      uint64 `json:"spooled_readings"` // in batches appended to the spool
	RingDropped  uint64 `json:"ring_dropped"`
	SpoolBacklog int    `json:"spool_backlog"`
}

// Measure runs the daemon: it subscribes to the gateway's telemetry, starts the daemon, waits for the
// first batch and the warm-up, measures the window, stops the daemon with SIGTERM (it drains its
// spool to the broker first) and then decodes every pack received.
func Measure(ctx context.Context, r Run) (Result, error) {
	var res Result
	if r.Start == 0 {
		r.Start = 20 * time.Second
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return res, fmt.Errorf("e2e: %w", err)
	}
	spool := filepath.Join(r.Dir, "spool")
	r.Spec.LocalSocket = filepath.Join(r.Dir, "local.sock")
	api := client.New(r.Spec.LocalSocket)
	if err := r.Spec.Check(r.Broker.URL, spool); err != nil {
		return res, err
	}
	cfgPath := filepath.Join(r.Dir, "waysided.yaml")
	if err := os.WriteFile(cfgPath, r.Spec.YAML(r.Broker.URL, spool), 0o600); err != nil {
		return res, fmt.Errorf("e2e: write config: %w", err)
	}
	sub, err := subscribe(r.Broker.URL, profile.PrefixTopics("wayside/v1", r.Spec.GatewayID).Telemetry)
	if err != nil {
		return res, err
	}
	defer sub.close()

	cmd := exec.CommandContext(ctx, r.Binary, "-config", cfgPath, "-log-format", "json")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, fmt.Errorf("e2e: daemon stderr: %w", err)
	}
	log := &daemonLog{}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("e2e: start %s: %w", r.Binary, err)
	}
	logDone := make(chan struct{})
	go func() { defer close(logDone); log.read(stderr) }()
	exited := make(chan error, 1)
	go func() { <-logDone; exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		t := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(45 * time.Second):
			cmd.Process.Kill()
			<-exited
			err = errors.New("did not stop within 45s of SIGTERM; killed")
		}
		res.StopTime = time.Since(t)
		if err != nil {
			return fmt.Errorf("e2e: daemon: %w\n%s", err, log.tail())
		}
		return nil
	}
	defer stop()

	// The first batch: the daemon is up, its sensors open and the broker reachable.
	first := time.NewTimer(r.Start)
	defer first.Stop()
	for sub.packs.Load() == 0 {
		select {
		case err := <-exited:
			stopped = true
			return res, fmt.Errorf("e2e: daemon exited before its first batch (%v):\n%s", err, log.tail())
		case <-first.C:
			return res, fmt.Errorf("e2e: no batch from the daemon within %v:\n%s", r.Start, log.tail())
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case <-time.After(r.Warmup):
	case err := <-exited:
		stopped = true
		return res, fmt.Errorf("e2e: daemon exited in the warm-up (%v):\n%s", err, log.tail())
	case <-ctx.Done():
		return res, ctx.Err()
	}

	st0, err := status(ctx, api)
	if err != nil {
		return res, err
	}
	t0, n0, b0 := time.Now(), sub.readings.Load(), sub.bytes.Load()
	cpu0, err := CPUTime(pid)
	if err != nil {
		return res, err
	}
	bcpu0, err := CPUTime(r.Broker.PID())
	if err != nil {
		return res, err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	end := time.NewTimer(r.Window)
	for done := false; !done; {
		select {
		case <-tick.C:
			if m, err := ReadMemory(pid); err == nil {
				res.RSSMax = max(res.RSSMax, m.RSS)
			}
		case <-end.C:
			done = true
		case err := <-exited:
			tick.Stop()
			stopped = true
			return res, fmt.Errorf("e2e: daemon exited in the window (%v):\n%s", err, log.tail())
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		}
	}
	tick.Stop()
	cpu1, err := CPUTime(pid)
	if err != nil {
		return res, err
	}
	bcpu1, err := CPUTime(r.Broker.PID())
	if err != nil {
		return res, err
	}
	if res.Memory, err = ReadMemory(pid); err != nil {
		return res, err
	}
	res.RSSMax = max(res.RSSMax, res.Memory.RSS)
	res.Window = time.Since(t0)
	res.Received, res.Bytes = sub.readings.Load()-n0, sub.bytes.Load()-b0
	st1, err := status(ctx, api)
	if err != nil {
		return res, err
	}
	res.Produced = int64(st1.Pipeline.Readings - st0.Pipeline.Readings)
	res.Spooled = int64(st1.Pipeline.Spooled - st0.Pipeline.Spooled)
	res.SpoolGrowth = st1.Spool.Backlog - st0.Spool.Backlog
	res.RingDropped = int64(st1.Ring.Dropped - st0.Ring.Dropped)
	res.Rate = float64(res.Received) / res.Window.Seconds()
	res.DaemonCPU, res.BrokerCPU = cpu1-cpu0, bcpu1-bcpu0

	if err := stop(); err != nil {
		return res, err
	}
	st, ok := log.stopped()
	if !ok {
		return res, fmt.Errorf("e2e: the daemon's log has no \"gateway stopped\" line:\n%s", log.tail())
	}
	res.Stopped = st
	// What the daemon handed to the broker before it exited is on its way to the subscriber: wait
	// until it has all arrived, or nothing has arrived for a second (bounded).
	last, lastAt := sub.readings.Load(), time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := sub.readings.Load()
		if uint64(n) >= st.Spooled || (n == last && time.Since(lastAt) > time.Second) {
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		}
	}
	sub.close()
	op, err := opener(st1)
	if err != nil {
		return res, err
	}
	res.check(sub.take(), op)
	return res, nil
}

// status asks the daemon's local API for its status, within 5 s.
func status(ctx context.Context, api *client.Client) (*apitype.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := api.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("e2e: daemon status: %w", err)
	}
	return st, nil
}

// opener opens batches as the city does, with the gateway key the daemon's local API shows.
func opener(st *apitype.Status) (*cityopen.Opener, error) {
	if st.Key == nil {
		return nil, errors.New("e2e: the daemon's status shows no gateway key")
	}
	pub, err := base64.StdEncoding.DecodeString(st.Key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("e2e: gateway key: %w", err)
	}
	return cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}})
}

// check opens (verifies and decodes) every batch (on two goroutines) and fills the totals.
func (res *Result) check(msgs []message, op *cityopen.Opener) {
	type tally struct {
		readings, errs int64
		seqs           map[uint64]int
		boots          map[string]bool
	}
	const workers = 2
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := tally{seqs: map[uint64]int{}, boots: map[string]bool{}}
			for i := w; i < len(msgs); i += workers {
				b, err := op.Open(msgs[i].payload)
				if err != nil || int64(len(b.Pack.Readings)) != msgs[i].readings {
					t.errs++
					continue
				}
				p := b.Pack
				t.readings += int64(len(p.Readings))
				t.seqs[p.Seq]++
				t.boots[p.BootID] = true
			}
			tallies[w] = t
		}()
	}
	wg.Wait()
	seqs, boots := map[uint64]int{}, map[string]bool{}
	res.Packs = int64(len(msgs))
	for _, t := range tallies {
		res.Readings += t.readings
		res.DecodeErrors += int(t.errs)
		for s, n := range t.seqs {
			seqs[s] += n
		}
		for b := range t.boots {
			boots[b] = true
		}
	}
	for _, n := range seqs {
		res.Duplicates += n - 1
	}
	res.BootIDs = len(boots)
}
