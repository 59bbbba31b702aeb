package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/benchsuite"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// Options configures a fleet run. Every duration bounds a phase; a run ends by itself.
type Options struct {
	N int // gateways
	// Run is how long the whole fleet samples and publishes before the storm (and again after it).
	Run time.Duration
	// Storm restarts the broker (SIGTERM, then a start on the same port) after Run with the fleet
	// connected, and follows the reconnections until every gateway is back or 2 × ReconnectMax + 30 s.
	Storm bool
	// ReconnectMin, ReconnectSpread, ReconnectMax are each gateway's cloud.reconnect (0: defaults).
	ReconnectMin, ReconnectSpread, ReconnectMax time.Duration
	// Dir holds the spools and the broker's files (default a new temp dir, removed at the end; the
	// configuration refuses tmpfs under /dev for a spool).
	Dir string
	// BrokerURL, when set, is an already running broker (one an ingest also subscribes to): no broker
	// is started and there is no storm.
	BrokerURL string
	// KeysFile, when set, receives the fleet's gateway keys as JSON once every gateway is open, before
	// any publishes: {"<gateway id>": {"public_key": "<base64>", "kid": "<hex>"}}, what an ingest
	// registers to verify their batches.
	KeysFile string
	// Commands is how many gateways get a signed ping after Run (default min(N, 50)).
	Commands int
	// OpenParallel bounds the gateways opened at once (default 256).
	OpenParallel int
	// Poll is each gateway's gateway.Options.Poll (0: the daemon's 20 ms).
	Poll time.Duration
	// Synthetic replaces the cabinet's nine sensors by the sim board's synthetic load part (one
	// sampler, no emulated bus or driver goroutines) at the cabinet's rate: 100 readings every
	// SyntheticInterval. The rest of the pipeline is the same. It measures what the drivers cost.
	Synthetic bool
	// RingCapacity is buffer.capacity (default 1024: 51 s of the cabinet's 20 readings/s).
	RingCapacity int
	// Log is the fleet's logger; GatewayLog the gateways' (default: Log at error level).
	Log, GatewayLog *zap.Logger
	// OnSteady, when set, is called with true as the steady window begins and false as it ends
	// (a CPU profile of just that window).
	OnSteady func(start bool)
	// Progress, when set, is called once a second during the run with a one-line summary.
	Progress func(string)
}

// The cabinet every virtual gateway runs: benchsuite.Cabinet's nine sensors (configs/sim.yaml but its
// SHT4x), each sampled once a second, 20 readings a second, batched every 5 s (100 readings).
const (
	CabinetMaxReadings = 100
	CabinetMaxAge      = 5 * time.Second
	Prefix             = "wayside/v1"
	// SyntheticInterval is the synthetic part's interval: its 100 channels at about the cabinet's 31
	// readings a second, one batch a sample.
	SyntheticInterval = 3200 * time.Millisecond
)

// Result is what a run measured.
type Result struct {
	N             int
	Channels      int           // channels of one gateway
	Nominal       float64       // readings a second one gateway's sensors are configured for
	Opened        time.Duration // opening every gateway (New), in parallel
	Connected     time.Duration // from the first Run until every link was connected
	Steady        Window        // the fleet running, before the storm
	Storm         *Storm
	Batches       int // spooled by the fleet
	Readings      uint64
	Received      int // telemetry messages at the checker, duplicates included
	Distinct      int // distinct (gateway, seq) received
	Duplicates    int
	Bad           int      // batches that failed a check
	BadSamples    []string // the first few
	Missing       int      // spooled, never received
	StillSpooled  int      // batches left in the gateways' spools at stop
	RingDropped   uint64
	SensorsBad    int // sensors not ok when the gateways stopped, fleet-wide
	CommandsSent  int
	CommandsOK    int // gateways whose ping was answered with 200
	OnlineSeen    int // gateways whose retained status said online
	OfflineClean  int // gateways whose last status was the orderly-stop offline
	BrokerCPU     time.Duration
	PeakRSS       int64 // the fleet process's VmHWM
	GoroutinesPer float64
}

// Window is a measured steady interval.
type Window struct {
	Duration   time.Duration
	CPU        time.Duration // the fleet process (gateways and checker)
	BrokerCPU  time.Duration
	RSS        int64 // the fleet process at the end of the window
	HeapInuse  uint64
	BrokerRSS  int64
	Readings   uint64 // in the batches spooled in the window
	Batches    uint64
	Messages   int // telemetry messages the checker received in the window
	Goroutines int
	RSSBefore  int64 // the process before the gateways were opened
	OpenFDs    int
}

// Storm is the reconnect storm's series, one entry per second from the broker's stop.
type Storm struct {
	Down        time.Duration // SIGTERM to the new broker listening
	Attempts    []int         // connection attempts the links made (their counters), per second
	BrokerTCP   []int         // TCP connections the broker accepted (its log), per second
	BrokerConn  []int         // CONNECTs it accepted, per second
	Back        []int         // gateways connected at the end of each second
	AllBack     time.Duration // from the stop until every gateway was connected again; 0: not all
	PeakAttempt int
	Limit       float64       // 5% of the fleet, attempts a second
	BackLimit   time.Duration // 2 × reconnect.max
	Spread, Max time.Duration
}

// Run runs a fleet as o says and returns what it measured. It fails when a part could not start; the
// caller judges the figures.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.N <= 0 {
		return nil, errors.New("fleet: N must be positive")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.GatewayLog == nil {
		o.GatewayLog = o.Log.WithOptions(zap.IncreaseLevel(zap.ErrorLevel))
	}
	if o.OpenParallel <= 0 {
		o.OpenParallel = 256
	}
	if o.RingCapacity <= 0 {
		o.RingCapacity = 1024
	}
	if o.Commands == 0 {
		o.Commands = min(o.N, 50)
	}
	limit, err := raiseFileLimit()
	if err != nil {
		o.Log.Warn("open-file limit not raised", zap.Error(err))
	}
	if need := uint64(o.N)*FilesPerGateway + 256; limit > 0 && need > limit {
		return nil, fmt.Errorf("fleet: %d gateways need about %d open files (%d each: the MQTT socket, the state "+
			"directory's lock, the spool's segment and acknowledgements, the command replay cache), and this "+
			"process may open %d (RLIMIT_NOFILE, hard limit); run at most %d, or raise the hard limit (ulimit -Hn as root)",
			o.N, need, FilesPerGateway, limit, (limit-256)/FilesPerGateway)
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "wayside-fleet-"); err != nil {
			return nil, fmt.Errorf("fleet: temp dir: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	res := &Result{N: o.N}
	var broker *Broker
	url := o.BrokerURL
	if url == "" {
		var err error
		if broker, err = StartBroker(dir); err != nil {
			return nil, err
		}
		defer broker.Stop()
		url = broker.URL
	}
	sensors := fmt.Sprintf("  - {name: syn, driver: synthetic, bus: sim, interval: %s}\n", SyntheticInterval)
	if !o.Synthetic {
		var err error
		if sensors, err = cabinetSensors(); err != nil {
			return nil, err
		}
	}
	cityPub, cityPriv, err := command.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("fleet: city command key: %w", err)
	}
	rssBefore := selfRSS()

	// Open every gateway, OpenParallel at a time.
	members := make([]*member, o.N)
	t0 := time.Now()
	sem := make(chan struct{}, o.OpenParallel)
	var wg sync.WaitGroup
	var openErr atomic.Pointer[error]
	for i := range members {
		m := &member{id: fmt.Sprintf("fleet-%05d", i+1), done: make(chan error, 1)}
		members[i] = m
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := m.open(o, i, url, dir, sensors, cityPub); err != nil {
				openErr.CompareAndSwap(nil, &err)
			}
		}()
		if openErr.Load() != nil {
			break
		}
	}
	wg.Wait()
	if e := openErr.Load(); e != nil {
		for _, m := range members {
			if m != nil && m.g != nil {
				m.g.Close()
			}
		}
		return nil, *e
	}
	res.Opened = time.Since(t0)
	res.Channels = len(members[0].g.Channels())
	res.Nominal = float64(res.Channels) / benchsuite.CabinetInterval.Seconds()
	if o.Synthetic {
		res.Nominal = float64(res.Channels) / SyntheticInterval.Seconds()
	}
	o.Log.Info("fleet opened", zap.Int("gateways", o.N), zap.Duration("took", res.Opened))

	keys := make(map[string]ed25519.PublicKey, o.N)
	for _, m := range members {
		b, err := base64.StdEncoding.DecodeString(m.g.Identity().PublicKey)
		if err != nil {
			return nil, fmt.Errorf("fleet: %s key: %w", m.id, err)
		}
		keys[m.id] = ed25519.PublicKey(b)
	}
	if o.KeysFile != "" {
		if err := writeKeys(o.KeysFile, members); err != nil {
			for _, m := range members {
				m.g.Close()
			}
			return nil, err
		}
	}
	chk, err := newChecker(url, Prefix, keys)
	if err != nil {
		for _, m := range members {
			m.g.Close()
		}
		return nil, err
	}
	defer chk.close()

	runCtx, stopFleet := context.WithCancel(context.Background())
	defer stopFleet()
	t1 := time.Now()
	for _, m := range members {
		go func() { m.done <- m.g.Run(runCtx) }()
	}
	stopAll := func() error {
		stopFleet()
		var errs []error
		for _, m := range members {
			if err := <-m.done; err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m.id, err))
			}
			m.stopped = m.g.Stats()
		}
		return errors.Join(errs...)
	}
	connectedDeadline := time.Now().Add(60*time.Second + time.Duration(o.N)*10*time.Millisecond)
	for connectedCount(members) < o.N {
		if time.Now().After(connectedDeadline) || ctx.Err() != nil {
			stopAll()
			return nil, fmt.Errorf("fleet: only %d of %d gateways connected within %v", connectedCount(members), o.N,
				time.Since(t1).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.Connected = time.Since(t1)
	o.Log.Info("fleet connected", zap.Duration("took", res.Connected))

	// Steady state: let the first batches go out, then measure a window.
	settle := min(o.Run/4, 10*time.Second)
	sleepCtx(ctx, settle)
	if o.OnSteady != nil {
		o.OnSteady(true)
	}
	res.Steady = measure(ctx, o, members, broker, chk, o.Run-settle)
	if o.OnSteady != nil {
		o.OnSteady(false)
	}
	res.Steady.RSSBefore = rssBefore

	if o.Storm && broker != nil && ctx.Err() == nil {
		st, err := storm(ctx, o, members, broker)
		if err != nil {
			stopAll()
			return nil, err
		}
		res.Storm = st
		sleepCtx(ctx, min(o.Run/4, 10*time.Second)) // the backlog of the outage drains
	}

	// Commands: a signed ping to the first gateways.
	for _, m := range members[:min(o.Commands, o.N)] {
		req := command.Request{ID: "fleet-" + m.id, Gateway: m.id, Command: command.CmdPing,
			IssuedAt: time.Now().UnixMilli(), Nonce: nonce()}
		b, err := command.Sign(cityPriv, "city", req)
		if err != nil {
			return nil, fmt.Errorf("fleet: sign command: %w", err)
		}
		res.CommandsSent++
		if err := chk.publishCommand(m.id, command.CmdPing, b); err != nil {
			// Counted as unanswered, not fatal: the rest of the run's figures still stand.
			o.Log.Warn("command not published", zap.Error(err))
		}
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		chk.mu.Lock()
		n := len(chk.replies)
		chk.mu.Unlock()
		if n >= res.CommandsSent {
			break
		}
	}

	stopErr := stopAll()
	if stopErr != nil {
		o.Log.Warn("gateways stopped with errors", zap.Error(stopErr))
	}
	for _, m := range members {
		res.Batches += len(m.seqs)
		res.Readings += m.stopped.Readings
		res.StillSpooled += m.stopped.Spool.Backlog
		res.RingDropped += m.stopped.Ring.Dropped
		for _, s := range m.stopped.Sensors {
			if s.Health.State != sensor.StateOK {
				res.SensorsBad++
			}
		}
	}
	// Wait for the checker to have everything that left the spools (bounded).
	want := res.Batches - res.StillSpooled
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, distinct, _, _ := chk.count(); distinct >= want {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // late duplicates and last statuses
	res.Received, res.Distinct, res.Duplicates, res.Bad = chk.count()
	chk.mu.Lock()
	res.BadSamples = append([]string(nil), chk.bad...)
	for _, m := range members {
		got := chk.seen[m.id]
		for _, s := range m.seqs {
			if got[s] == 0 {
				res.Missing++
			}
		}
		if chk.replies[m.id] > 0 {
			res.CommandsOK++
		}
		if chk.statuses[m.id] == "offline" {
			res.OfflineClean++
		}
	}
	res.OnlineSeen = len(chk.statuses)
	chk.mu.Unlock()
	if broker != nil {
		res.BrokerCPU = broker.CPU()
	}
	if m, err := e2e.ReadMemory(os.Getpid()); err == nil {
		res.PeakRSS = m.Peak
	}
	return res, nil
}
