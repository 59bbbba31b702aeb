package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/command"
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
	// ReconnectMin, ReconnectSpread, ReconnectMax are each gateway's cloud.reconnect (0: the
	// configuration's defaults; Reconnect tells them).
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
	// Ingest runs the reference ingest beside the fleet: a PostgreSQL of its own, two instances in this
	// process each receiving every batch (ingest.go says why not shared), the first restarted after the
	// steady window; at the end every gateway's readings in the database must equal the checker's in
	// count and checksum.
	Ingest bool
	// Commands is how many gateways get a signed ping after Run (default min(N, 50)).
	Commands int
	// OpenParallel bounds the gateways opened at once in each process (default 256).
	OpenParallel int
	// Procs is how many processes hold the gateways (0: one when N fits this process's open-file
	// limit, else the fewest that fit). With more than one, this process keeps the broker, the checker,
	// the storm, the commands and the report, and member processes (this executable started again:
	// see IsMember) run the gateways, each a consecutive range of ids.
	Procs int
	// CheckerClients is how many clients receive the fleet's telemetry for the checker, on one
	// shared subscription when more than one (0: one per 1,000 gateways, at most 8; an external
	// BrokerURL gets one unless set, since not every broker delivers to $share subscriptions).
	CheckerClients int
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
	Procs         int           // processes that held the gateways (1: this one)
	PIDs          []int         // their process ids
	Opened        time.Duration // opening every gateway (New), in parallel
	Connected     time.Duration // from the first Run until every link was connected
	Steady        Window        // the fleet running, before the storm
	Storm         *Storm
	Ingest        *IngestResult // with Options.Ingest
	Batches       int           // spooled by the fleet
	Readings      uint64
	Received      int // telemetry messages at the checker, duplicates included
	Distinct      int // distinct (gateway, seq) received
	Duplicates    int
	CheckerShare  []int    // telemetry messages each of the checker's clients received
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
	PeakRSS       int64 // the fleet's processes' VmHWM, summed
	GoroutinesPer float64
}

// Window is a measured steady interval.
type Window struct {
	Duration   time.Duration
	CPU        time.Duration // the fleet's processes (gateways and checker), summed
	BrokerCPU  time.Duration
	RSS        int64 // the fleet's processes at the end of the window, summed (so are the next three)
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

// Run runs a fleet as o says and returns what it measured. It fails when a part could not start or a
// member process died or hung; the caller judges the figures.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.N <= 0 {
		return nil, errors.New("fleet: N must be positive")
	}
	if IsMember() {
		return nil, errors.New("fleet: Run in a member process: its main must call fleet.IsMember and fleet.ServeMember first")
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
	if o.CheckerClients <= 0 {
		o.CheckerClients = min(max(o.N/1000, 1), 8)
		if o.BrokerURL != "" {
			o.CheckerClients = 1
		}
	}
	limit, err := raiseFileLimit()
	if err != nil {
		o.Log.Warn("open-file limit not raised", zap.Error(err))
	}
	procs, err := processes(o.N, o.Procs, limit)
	if err != nil {
		return nil, err
	}
	_, spread, maxBackoff, err := Reconnect(o)
	if err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "wayside-fleet-"); err != nil {
			return nil, fmt.Errorf("fleet: temp dir: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	res := &Result{N: o.N, Procs: procs}
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

	t0 := time.Now()
	parts, err := openParts(o, procs, url, dir, sensors, cityPub)
	if err != nil {
		return nil, err
	}
	defer func() { // on every path: a stopped part has nothing left to kill
		for _, p := range parts {
			p.kill()
		}
	}()
	res.Opened = time.Since(t0)
	res.Channels = parts[0].channels()
	res.Nominal = float64(res.Channels) / benchsuite.CabinetInterval.Seconds()
	if o.Synthetic {
		res.Nominal = float64(res.Channels) / SyntheticInterval.Seconds()
	}
	o.Log.Info("fleet opened", zap.Int("gateways", o.N), zap.Int("processes", procs), zap.Duration("took", res.Opened))

	var keys []gatewayKey
	for _, p := range parts {
		keys = append(keys, p.keys()...)
		rssBefore += p.rssBefore()
	}
	pubs := make(map[string]ed25519.PublicKey, o.N)
	for _, k := range keys {
		b, err := base64.StdEncoding.DecodeString(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("fleet: %s key: %w", k.ID, err)
		}
		pubs[k.ID] = ed25519.PublicKey(b)
	}
	if o.KeysFile != "" {
		if err := writeKeys(o.KeysFile, keys); err != nil {
			return nil, err
		}
	}
	chk, err := newChecker(url, Prefix, pubs, o.CheckerClients)
	if err != nil {
		return nil, err
	}
	defer chk.close()
	var ing *ingestPhase
	if o.Ingest {
		if ing, err = startIngest(ctx, url, dir, keys, o.Log); err != nil {
			return nil, err
		}
		defer ing.close()
	}

	t1 := time.Now()
	for _, p := range parts {
		if err := p.run(); err != nil {
			return nil, err
		}
	}
	connectedDeadline := time.Now().Add(60*time.Second + time.Duration(o.N)*10*time.Millisecond)
	for {
		connected := 0
		for _, p := range parts {
			if err := p.failed(); err != nil {
				return nil, err
			}
			connected += p.latest().Connected
		}
		if connected == o.N {
			break
		}
		if time.Now().After(connectedDeadline) || ctx.Err() != nil {
			stopParts(parts)
			return nil, fmt.Errorf("fleet: only %d of %d gateways connected within %v", connected, o.N,
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
	res.Steady, err = measure(ctx, o, parts, broker, chk, o.Run-settle)
	if o.OnSteady != nil {
		o.OnSteady(false)
	}
	if err != nil {
		return nil, err
	}
	res.Steady.RSSBefore = rssBefore
	if ing != nil {
		if err := ing.restart(ctx, 0); err != nil {
			stopParts(parts)
			return nil, err
		}
	}

	if o.Storm && broker != nil && ctx.Err() == nil {
		st, err := storm(ctx, o, parts, broker, spread, maxBackoff)
		if err != nil {
			stopParts(parts)
			return nil, err
		}
		res.Storm = st
		sleepCtx(ctx, min(o.Run/4, 10*time.Second)) // the backlog of the outage drains
	}

	// Commands: a signed ping to the first gateways, all published at once, their PUBACKs awaited
	// for 30 s in all (a checker behind on the storm's backlog would make one at a time take minutes).
	var acks []func(time.Time) error
	for _, k := range keys[:min(o.Commands, o.N)] {
		req := command.Request{ID: "fleet-" + k.ID, Gateway: k.ID, Command: command.CmdPing,
			IssuedAt: time.Now().UnixMilli(), Nonce: nonce()}
		b, err := command.Sign(cityPriv, "city", req)
		if err != nil {
			return nil, fmt.Errorf("fleet: sign command: %w", err)
		}
		res.CommandsSent++
		acks = append(acks, chk.publishCommand(k.ID, command.CmdPing, b))
	}
	ackBy := time.Now().Add(30 * time.Second)
	for _, ack := range acks {
		if err := ack(ackBy); err != nil {
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

	reports, err := stopParts(parts)
	if err != nil {
		return nil, err
	}
	seqs := make(map[string][]uint64, o.N)
	var peak int64
	local := false
	for i, r := range reports {
		if len(r.Errors) > 0 {
			o.Log.Warn("gateways stopped with errors", zap.Int("count", len(r.Errors)), zap.Strings("first", r.Errors[:min(len(r.Errors), 5)]))
		}
		for id, s := range r.Seqs {
			seqs[id] = s
			res.Batches += len(s)
		}
		res.Readings += r.Readings
		res.StillSpooled += r.StillSpooled
		res.RingDropped += r.RingDropped
		res.SensorsBad += r.SensorsBad
		if _, ok := parts[i].(*localPart); ok {
			local = true
			continue
		}
		peak += r.Usage.PeakRSS
		res.PIDs = append(res.PIDs, r.Usage.PID)
	}
	if local { // this process holds the gateways (and then all of them)
		res.PIDs = append(res.PIDs, os.Getpid())
	}
	// Wait for the checker to have everything that left the spools, as long as it makes progress (a
	// checker behind a large fleet works through the broker's queue for minutes), at most 5 minutes.
	want := res.Batches - res.StillSpooled
	last, lastAt := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		_, distinct, _, _ := chk.count()
		if distinct >= want {
			break
		}
		if distinct != last {
			last, lastAt = distinct, time.Now()
		} else if time.Since(lastAt) > 15*time.Second {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // late duplicates and last statuses
	res.Received, res.Distinct, res.Duplicates, res.Bad = chk.count()
	chk.mu.Lock()
	res.BadSamples = append([]string(nil), chk.bad...)
	for i, k := range keys {
		got := chk.seen[k.ID]
		for _, s := range seqs[k.ID] {
			if got[s] == 0 {
				res.Missing++
			}
		}
		if i < res.CommandsSent && chk.replies[k.ID] > 0 {
			res.CommandsOK++
		}
		if chk.statuses[k.ID] == "offline" {
			res.OfflineClean++
		}
	}
	res.OnlineSeen = len(chk.statuses)
	res.CheckerShare = append([]int(nil), chk.byClient...)
	chk.mu.Unlock()
	if ing != nil {
		if res.Ingest, err = ing.finish(ctx, res.Distinct, chk, 1); err != nil {
			return nil, err
		}
	}
	if broker != nil {
		res.BrokerCPU = broker.CPU()
	}
	if m, err := e2e.ReadMemory(os.Getpid()); err == nil {
		res.PeakRSS = peak + m.Peak
	}
	return res, nil
}
