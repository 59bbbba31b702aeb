package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/buffer/spool"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway/config"
)

// Options configures a Gateway.
type Options struct {
	Config  *config.Config
	Version string
	Log     *zap.Logger
	// DrainTimeout bounds how long a stop waits for the broker to acknowledge what is left.
	DrainTimeout time.Duration
	// OnBatch, when set, is called by the batcher after each batch is spooled.
	OnBatch func(seq uint64, readings int, bytes int)
	// TrustClock and Wall replace the clock-trust check (config clock.trust) and the wall clock;
	// tests use them to simulate a board that boots with a wrong clock.
	TrustClock func() bool
	Wall       func() time.Time
	// OnReloadRequest, when set, is how the reload-config command asks the daemon to reload its
	// configuration file (why names the trigger). It must not block.
	OnReloadRequest func(why string)
	// Level, when set, is the daemon logger's level, which the set-log-level command changes.
	Level *zap.AtomicLevel
	// Poll, when not zero, is how often the batcher looks at the ring (default 20 ms), and the
	// sender's longest idle wait is max(Poll, 50 ms). Readings wait at most batch.max_age plus Poll.
	// The two loops' wake-ups are most of an idle gateway's CPU at cabinet rates; the fleet simulator
	// measures a longer poll (BENCHMARKS.md, "Fleet").
	Poll time.Duration
}

// sensorState is one opened sensor and its sampler's bookkeeping.
type sensorState struct {
	name      string
	driver    string
	dev       sensor.Sensor
	interval  atomic.Int64  // ns; set-interval changes it while the sampler runs
	phase     time.Duration // when the sample is taken relative to its grid slot (config sensors[].phase)
	delay     delayStats    // how late samples start after slot + phase
	retimed   chan struct{} // wakes the sampler to re-arm its timer with a new interval
	firstChan uint32
	health    sensor.Health
	mu        sync.Mutex // serialises Sample between the sampler and ReadNow (the driver contract)
	// sampling is when the Sample call in progress began (unix ns), 0 between calls: the watchdog
	// tells a driver hung on its bus from one that is merely slow.
	sampling atomic.Int64
	// feeds pass this sensor's readings to sensors that compensate with them (pressure_from).
	feeds []pressureFeed
}

// Gateway is the running pipeline.
type Gateway struct {
	opts    Options
	cfg     *config.Config
	log     *zap.Logger
	board   boards.Board
	sensors []*sensorState
	chans   []senml.Channel
	ring    *buffer.Ring
	enc     *senml.Encoder
	signer  *cosebatch.Signer // the batcher's
	resign  *cosebatch.Signer // the sender's, for batches whose times it corrects
	sealer  *cosebatch.Sealer // cloud.seal; nil: batches are signed, not sealed
	ident   Identity
	link    *cloudsync.Link
	spool   *spool.Spool
	seq     *seqStore
	replay  *command.ReplayCache // accepted command nonces; nil when commands are off
	lock    *os.File             // holds the state directory's lock until the gateway is done
	// appended wakes the sender when the batcher has spooled a batch.
	appended chan struct{}
	sendIdle time.Duration // the sender's longest wait between turns
	clock    *wallClock
	// Batches bootSeq..lastUntrusted were stamped before the wall clock was trusted.
	bootSeq       uint64
	lastUntrusted atomic.Uint64
	bootID        string
	started       time.Time

	taps  atomic.Pointer[[]*tap] // readings streamed to technicians (wayside tail); copy-on-write
	tapMu sync.Mutex             // serialises tap list updates (rare); feedTaps loads the pointer

	// Heartbeats of the batcher and sender loops (unix ns of their last turn), for Alive.
	batcherBeat atomic.Int64
	senderBeat  atomic.Int64
	// flushing makes the sender replay the backlog at full speed until it is all sent (flush-spool).
	flushing atomic.Bool

	batches     atomic.Uint64
	lastSpooled atomic.Uint64 // sequence number of the newest batch appended to the spool
	readings    atomic.Uint64 // readings pushed by the samplers
	spooled     atomic.Uint64 // readings in batches appended to the spool
}

// New opens the board and every configured sensor, and prepares the ring, the encoder and the link.
// Nothing runs until Run.
func New(opts Options) (g *Gateway, err error) {
	cfg := opts.Config
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = batchPoll
	}
	g = &Gateway{opts: opts, cfg: cfg, log: opts.Log, started: time.Now(), appended: make(chan struct{}, 1),
		sendIdle: max(opts.Poll, sendIdle)}
	if g.bootID, err = newBootID(); err != nil {
		return nil, err
	}
	if g.lock, err = lockStateDir(cfg.Spool.Dir); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	trust := opts.TrustClock
	if trust == nil {
		trust = ntpSynced
		if cfg.Clock.Trust == "always" {
			trust = func() bool { return true }
		}
	}
	g.clock = newWallClock(trust, opts.Wall)
	g.spool, err = spool.Open(spool.Options{Dir: filepath.Join(cfg.Spool.Dir, "spool"),
		SegmentBytes: int64(cfg.Spool.SegmentBytes), QuotaBytes: int64(cfg.Spool.QuotaBytes),
		SyncEvery: cfg.Spool.SyncEvery, SyncInterval: cfg.Spool.SyncInterval.D(), Log: g.log})
	if err != nil {
		g.lock.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// After the spool, so that on a full disk the lease can be renewed by evicting the oldest
	// batches (counted) instead of failing the start: a crash loop would sample nothing at all.
	if g.seq, err = openSeq(cfg.Spool.Dir, g.spool.MakeRoom); err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, err
	}
	g.bootSeq = g.seq.next
	key, created, err := loadOrCreateKey(cfg.Spool.Dir)
	if err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, err
	}
	g.ident = identityOf(key.Public().(ed25519.PublicKey), filepath.Join(cfg.Spool.Dir, KeyFile))
	if created {
		g.log.Info("gateway key made: register its public key with the city", zap.String("public_key", g.ident.PublicKey),
			zap.String("kid", g.ident.KeyID), zap.String("file", g.ident.File))
	}
	if g.board, err = boards.Open(cfg.Gateway.Board, cfg.Sim.Seed); err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// gw, not g: every error return below sets the named result g to nil before this runs.
	gw := g
	defer func() {
		if err != nil {
			gw.closeSensors()
			gw.board.Close()
			gw.spool.Close()
			if gw.replay != nil {
				gw.replay.Close()
			}
			gw.lock.Close()
		}
	}()
	for _, sc := range cfg.Sensors {
		dev, err := g.board.OpenSensor(boards.SensorSpec{Name: sc.Name, Driver: sc.Driver, Bus: sc.Bus,
			Address: sc.Address, Pin: sc.Pin, Pins: sc.Pins, Interval: sc.Interval.D(), Options: sc.Opts})
		if err != nil {
			return nil, fmt.Errorf("gateway: open sensor %s: %w", sc.Name, err)
		}
		st := &sensorState{name: sc.Name, driver: sc.Driver, dev: dev, firstChan: uint32(len(g.chans)),
			retimed: make(chan struct{}, 1), phase: sc.Phase.D()}
		st.interval.Store(int64(sc.Interval.D()))
		for _, ch := range dev.Channels() {
			g.chans = append(g.chans, senml.Channel{Name: "/" + sc.Name + "/" + ch.Name, Unit: ch.Unit, Resolution: ch.Resolution})
		}
		g.sensors = append(g.sensors, st)
	}
	if err := g.wirePressure(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.ring, err = buffer.NewRing(cfg.Buffer.Capacity); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.enc, err = senml.NewEncoder(cfg.Gateway.ID, g.bootID, g.chans, cfg.Batch.MaxReadings); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	maxPack := 64 + 24*cfg.Batch.MaxReadings
	if g.signer, err = cosebatch.NewSigner(key, g.bootID, maxPack); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.resign, err = cosebatch.NewSigner(key, g.bootID, maxPack); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.sealer, err = cfg.Cloud.Seal.Sealer(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	lo, err := g.linkSecurity()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	prof, err := profile.Build(cfg.ProfileInput(time.Now()))
	if err != nil {
		return nil, fmt.Errorf("gateway: cloud profile: %w", err)
	}
	if !cfg.Generic() {
		lo.Credentials = func() (string, string) { return prof.Credentials(time.Now()) }
	}
	cmds, err := g.openCommands()
	if err != nil {
		return nil, fmt.Errorf("gateway: commands: %w", err)
	}
	g.link, err = cloudsync.New(cloudsync.Options{
		TLS: lo.TLS, Credentials: lo.Credentials, Topics: &prof.Topics, Limits: prof.Limits,
		NextProtos: prof.NextProtos, CredentialsTTL: prof.CredentialsTTL, Commands: cmds,
		Brokers: prof.Brokers, ClientID: prof.ClientID, GatewayID: cfg.Gateway.ID,
		TopicPrefix: cfg.Cloud.TopicPrefix, KeepAlive: cfg.Cloud.KeepAlive.D(),
		MaxInflight: cfg.Cloud.MaxInflight, Version: opts.Version, BootID: g.bootID,
		ConfigHash: cfg.Hash, Log: g.log, OnResult: g.onResult, Detail: g.statusDetail,
		ReconnectMin: cfg.Cloud.Reconnect.Min.D(), ReconnectMax: cfg.Cloud.Reconnect.Max.D(),
		ReconnectSpread: cfg.Cloud.Reconnect.Spread.D(),
		StatusEvery:     cfg.Cloud.StatusInterval.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// linkSecurity builds the link's TLS configuration (certificate files re-read when they change) and
// its credentials provider (the password file re-read on every connection attempt).
func (g *Gateway) linkSecurity() (cloudsync.Options, error) {
	var o cloudsync.Options
	c := g.cfg.Cloud
	anyTLS := c.TLS != (config.TLS{})
	for _, b := range c.Brokers {
		anyTLS = anyTLS || tlsconf.IsTLS(b)
	}
	if anyTLS {
		loader, err := tlsconf.New(tlsconf.Files{CA: c.TLS.CA, Cert: c.TLS.Cert, Key: c.TLS.Key, ServerName: c.TLS.ServerName}, g.log)
		if err != nil {
			return o, err
		}
		o.TLS = func(b *url.URL) (*tls.Config, error) {
			if !tlsconf.IsTLS(b.String()) {
				return nil, nil
			}
			return loader.ForBroker(b), nil
		}
	}
	if c.Username != "" {
		user, file, log := c.Username, c.PasswordFile, g.log
		o.Credentials = func() (string, string) {
			if file == "" {
				return user, ""
			}
			b, err := os.ReadFile(file)
			if err != nil {
				log.Error("mqtt password file unreadable; connecting without a password", zap.String("file", file), zap.Error(err))
				return user, ""
			}
			return user, strings.TrimSpace(string(b))
		}
	}
	return o, nil
}

func (g *Gateway) sealKID() string {
	if g.sealer == nil {
		return ""
	}
	return g.sealer.KeyID()
}

// LinkStats returns the MQTT link's counters (cheaper than Stats: no spool or sensor walk).
func (g *Gateway) LinkStats() cloudsync.Stats { return g.link.Stats() }

// Identity returns the gateway key's public half.
func (g *Gateway) Identity() Identity { return g.ident }

// BootID returns this run's boot id.
func (g *Gateway) BootID() string { return g.bootID }

// Channels returns the channel table readings index.
func (g *Gateway) Channels() []senml.Channel { return g.chans }

// Run samples and syncs until ctx ends, then stops in order: samplers, sensors, the ring drained
// into the spool (fsync'd), the sender (which keeps publishing until nothing is unsent or the drain
// timeout passes), the link (waiting for acknowledgements), the spool, the board. Batches not
// acknowledged by then stay in the spool and are sent after the next start. It returns an error when
// the spool could not be made durable or a part failed to close.
func (g *Gateway) Run(ctx context.Context) error {
	g.link.Start()
	idFrom := zap.Skip()
	if g.cfg.Gateway.IDSource != "" {
		idFrom = zap.String("gateway_id_from", g.cfg.Gateway.IDSource)
	}
	g.log.Info("gateway started", zap.String("gateway", g.cfg.Gateway.ID), idFrom, zap.String("board", g.cfg.Gateway.Board),
		zap.String("boot_id", g.bootID), zap.Int("sensors", len(g.sensors)), zap.Int("channels", len(g.chans)),
		zap.String("telemetry", g.link.Topics().Telemetry))
	if !g.clock.trusted.Load() {
		g.log.Warn("wall clock not trusted yet: stamping readings from the monotonic clock until it is",
			zap.String("trust", g.cfg.Clock.Trust), zap.Duration("hold", g.cfg.Clock.Hold.D()))
	}

	var samplers sync.WaitGroup
	for _, s := range g.sensors {
		samplers.Add(1)
		go func() {
			defer samplers.Done()
			g.sample(ctx, s)
		}()
	}
	stopBatcher := make(chan struct{})
	batcherDone := make(chan struct{})
	go func() { defer close(batcherDone); g.batch(stopBatcher) }()
	stopSender := make(chan struct{})
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); g.send(stopSender) }()

	<-ctx.Done()
	samplers.Wait()
	g.closeSensors()
	close(stopBatcher)
	<-batcherDone // the ring is now drained into the spool
	errSync := g.spool.Sync()
	drainEnd := time.Now().Add(g.opts.DrainTimeout) // one deadline for the sender and the link
	close(stopSender)                               // the sender hands what it can to the link until the drain timeout
	<-senderDone
	errLink := g.link.Close(max(time.Until(drainEnd), time.Second))
	errSpool := g.spool.Close()
	errBoard := g.board.Close()
	if g.replay != nil {
		errBoard = errors.Join(errBoard, g.replay.Close())
	}
	g.lock.Close()
	rs, ss := g.ring.Stats(), g.spool.Stats()
	g.log.Info("gateway stopped", zap.Uint64("batches", g.batches.Load()), zap.Uint64("readings", g.readings.Load()),
		zap.Uint64("spooled_readings", g.spooled.Load()), zap.Uint64("ring_dropped", rs.Dropped),
		zap.Int("spool_backlog", ss.Backlog), zap.Uint64("spool_evicted", ss.Evicted), zap.Uint64("spool_lost", ss.Lost),
		zap.Uint64("last_seq", g.lastSpooled.Load()))
	if errLink != nil && ss.Backlog > 0 {
		errLink = nil // unacknowledged batches are safe in the spool and are sent after the restart
	}
	return errors.Join(errSync, errLink, errSpool, errBoard)
}

// every is the sensor's sampling interval.
func (s *sensorState) every() time.Duration { return time.Duration(s.interval.Load()) }

// SetInterval changes a sensor's sampling interval until the next restart or reload, from its next
// read on; it returns the previous interval.
func (g *Gateway) SetInterval(name string, d time.Duration) (time.Duration, error) {
	if d < 10*time.Millisecond || d > 24*time.Hour {
		return 0, fmt.Errorf("gateway: interval %v out of range 10ms..24h", d)
	}
	for _, s := range g.sensors {
		if s.name == name {
			if s.phase <= -d || s.phase >= d {
				return 0, fmt.Errorf("gateway: interval %v is not longer than sensor %s's phase %v; choose an interval above %v or change sensors[].phase", d, name, s.phase, s.phase.Abs())
			}
			prev := time.Duration(s.interval.Swap(int64(d)))
			select {
			case s.retimed <- struct{}{}:
			default:
			}
			g.log.Info("sampling interval changed", zap.String("sensor", name), zap.Duration("from", prev), zap.Duration("to", d))
			return prev, nil
		}
	}
	return 0, fmt.Errorf("gateway: %w %q", ErrUnknownSensor, name)
}

// Flush makes the spool durable now and sends its backlog at full speed (ignoring spool.replay_rate)
// until nothing is left unsent; it returns the backlog at the time of the call.
func (g *Gateway) Flush() (backlog int, err error) {
	if err := g.spool.Sync(); err != nil {
		return 0, fmt.Errorf("gateway: flush: %w", err)
	}
	g.flushing.Store(true)
	select {
	case g.appended <- struct{}{}:
	default:
	}
	return g.spool.Stats().Backlog, nil
}

// Close releases what New opened (sensors, board, spool) for a gateway that will not Run; Run
// releases them itself when it ends.
func (g *Gateway) Close() error {
	g.closeSensors()
	err := errors.Join(g.board.Close(), g.spool.Close())
	if g.replay != nil {
		err = errors.Join(err, g.replay.Close())
	}
	g.lock.Close()
	return err
}

func (g *Gateway) closeSensors() {
	for _, s := range g.sensors {
		if err := s.dev.Halt(); err != nil {
			g.log.Warn("sensor halt", zap.String("sensor", s.name), zap.Error(err))
		}
	}
}

// Alive reports nil when the pipeline is making progress: the batcher and the sender have each
// turned their loop within the last d, and no sensor read has been stuck in its driver for longer
// than d. The service watchdog pings systemd only while Alive is nil, so a hung pipeline gets the
// daemon restarted. Before Run has started its loops, Alive reports nil.
func (g *Gateway) Alive(d time.Duration) error {
	now := time.Now().UnixNano()
	var errs []error
	for _, l := range []struct {
		name string
		beat *atomic.Int64
	}{{"batcher", &g.batcherBeat}, {"sender", &g.senderBeat}} {
		if b := l.beat.Load(); b != 0 && now-b > int64(d) {
			errs = append(errs, fmt.Errorf("%s has not turned for %v", l.name, time.Duration(now-b).Round(time.Millisecond)))
		}
	}
	for _, s := range g.sensors {
		if b := s.sampling.Load(); b != 0 && now-b > int64(d) {
			errs = append(errs, fmt.Errorf("sensor %s stuck in its driver for %v", s.name, time.Duration(now-b).Round(time.Millisecond)))
		}
	}
	return errors.Join(errs...)
}

// statusDetail is the gateway's state for the link's retained status message.
func (g *Gateway) statusDetail() cloudsync.StatusDetail {
	var d cloudsync.StatusDetail
	for _, s := range g.sensors {
		switch s.health.Snapshot().State {
		case sensor.StateOK:
			d.Sensors.OK++
		case sensor.StateDegraded:
			d.Sensors.Degraded = append(d.Sensors.Degraded, s.name)
		default:
			d.Sensors.Failing = append(d.Sensors.Failing, s.name)
		}
	}
	ss := g.spool.Stats()
	d.Spool = cloudsync.SpoolSummary{Backlog: ss.Backlog, Bytes: ss.Bytes, OldestSeq: ss.OldestSeq, Evicted: ss.Evicted,
		EvictedDiskFull: ss.EvictedDiskFull, Lost: ss.Lost, Limit: ss.Limit}
	d.Clock = cloudsync.ClockSummary{Trusted: g.clock.trusted.Load(), Trust: g.cfg.Clock.Trust}
	d.RingDropped = g.ring.Stats().Dropped
	return d
}

// Stats is a snapshot of the pipeline.
type Stats struct {
	BootID   string
	Key      Identity // the gateway key's public half, for registration
	SealKID  string   // the city key new batches are sealed to; "" when not sealing
	Uptime   time.Duration
	Batches  uint64
	Readings uint64 // taken by the samplers
	Spooled  uint64 // in batches appended to the spool
	Spool    spool.Stats
	Ring     buffer.RingStats
	RingLen  int
	RingCap  int
	Link     cloudsync.Stats
	Sensors  []SensorStats
	// Clock is the wall clock's trust, as the retained status carries it.
	Clock cloudsync.ClockSummary
	// ClockOffset is what readings stamped before trust arrived are corrected by; 0 until trusted.
	ClockOffset time.Duration
}

// SensorStats is one sensor's health.
type SensorStats struct {
	Name     string
	Driver   string
	Interval time.Duration
	Phase    time.Duration
	Health   sensor.HealthSnapshot
	// Delay is how late its samples started after their grid slot (plus phase).
	Delay DelaySnapshot
}

// Stats returns a snapshot; safe from any goroutine.
func (g *Gateway) Stats() Stats {
	st := Stats{BootID: g.bootID, Key: g.ident, SealKID: g.sealKID(), Batches: g.batches.Load(), Readings: g.readings.Load(), Spooled: g.spooled.Load(), Spool: g.spool.Stats(),
		Ring: g.ring.Stats(), RingLen: g.ring.Len(), RingCap: g.ring.Cap(), Link: g.link.Stats(),
		Uptime: time.Since(g.started), Clock: cloudsync.ClockSummary{Trusted: g.clock.trusted.Load(), Trust: g.cfg.Clock.Trust}}
	if st.Clock.Trusted {
		st.ClockOffset = time.Duration(g.clock.offset.Load())
	}
	for _, s := range g.sensors {
		st.Sensors = append(st.Sensors, SensorStats{Name: s.name, Driver: s.driver, Interval: s.every(), Phase: s.phase,
			Health: s.health.Snapshot(), Delay: s.delay.snapshot()})
	}
	return st
}
