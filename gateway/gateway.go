package gateway

import (
	"context"
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
}

// sensorState is one opened sensor and its sampler's bookkeeping.
type sensorState struct {
	name      string
	driver    string
	dev       sensor.Sensor
	interval  atomic.Int64  // ns; set-interval changes it while the sampler runs
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

// pressureFeed passes channel ch of a sensor's readings to a sensor that compensates with them.
type pressureFeed struct {
	ch     int
	sink   sensor.PressureSink
	target string
	failed atomic.Bool // logged once
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
	link    *cloudsync.Link
	spool   *spool.Spool
	seq     *seqStore
	replay  *command.ReplayCache // accepted command nonces; nil when commands are off
	lock    *os.File             // holds the state directory's lock until the gateway is done
	// appended wakes the sender when the batcher has spooled a batch.
	appended chan struct{}
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
	g = &Gateway{opts: opts, cfg: cfg, log: opts.Log, started: time.Now(), appended: make(chan struct{}, 1)}
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
	if g.board, err = boards.Open(cfg.Gateway.Board, cfg.Sim.Seed); err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	defer func() {
		if err != nil {
			g.closeSensors()
			g.board.Close()
			g.spool.Close()
			if g.replay != nil {
				g.replay.Close()
			}
			g.lock.Close()
		}
	}()
	for _, sc := range cfg.Sensors {
		dev, err := g.board.OpenSensor(boards.SensorSpec{Name: sc.Name, Driver: sc.Driver, Bus: sc.Bus,
			Address: sc.Address, Pin: sc.Pin, Pins: sc.Pins, Interval: sc.Interval.D(), Options: sc.Opts})
		if err != nil {
			return nil, fmt.Errorf("gateway: open sensor %s: %w", sc.Name, err)
		}
		st := &sensorState{name: sc.Name, driver: sc.Driver, dev: dev, firstChan: uint32(len(g.chans)),
			retimed: make(chan struct{}, 1)}
		st.interval.Store(int64(sc.Interval.D()))
		for _, ch := range dev.Channels() {
			g.chans = append(g.chans, senml.Channel{Name: "/" + sc.Name + "/" + ch.Name, Unit: ch.Unit})
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
		StatusEvery: cfg.Cloud.StatusInterval.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// wirePressure connects each sensor whose options name a pressure source (pressure_from:
// "<sensor>/<channel>") to that channel's sensor: the channel must be a pressure in Pa.
func (g *Gateway) wirePressure() error {
	for i, sc := range g.cfg.Sensors {
		src, ok := sc.Opts.(sensor.PressureSourced)
		if !ok || src.AmbientPressureFrom() == "" {
			continue
		}
		from := src.AmbientPressureFrom()
		name, channel, _ := strings.Cut(from, "/")
		sink, ok := g.sensors[i].dev.(sensor.PressureSink)
		if !ok {
			return fmt.Errorf("sensor %s: pressure_from: driver %s takes no ambient pressure", sc.Name, sc.Driver)
		}
		var source *sensorState
		for _, st := range g.sensors {
			if st.name == name {
				source = st
			}
		}
		if source == nil {
			return fmt.Errorf("sensor %s: pressure_from %q: no sensor %s", sc.Name, from, name)
		}
		var valid []string
		ch := -1
		for j, c := range source.dev.Channels() {
			if c.Unit == "Pa" {
				valid = append(valid, name+"/"+c.Name)
			}
			if c.Name == channel && c.Unit == "Pa" {
				ch = j
			}
		}
		if ch < 0 {
			return fmt.Errorf("sensor %s: pressure_from %q is not a pressure channel (Pa) of %s; valid: %s",
				sc.Name, from, name, strings.Join(valid, ", "))
		}
		source.feeds = append(source.feeds, pressureFeed{ch: ch, sink: sink, target: sc.Name})
	}
	return nil
}

// passOn hands a good reading of s to the sensors that compensate with it (wirePressure).
func (g *Gateway) passOn(s *sensorState, dst []float64) {
	for i := range s.feeds {
		f := &s.feeds[i]
		if err := f.sink.SetAmbientPressure(dst[f.ch]); err != nil && !f.failed.Swap(true) {
			g.log.Warn("ambient pressure not passed on (logged once)", zap.String("from", s.name),
				zap.String("to", f.target), zap.Float64("pa", dst[f.ch]), zap.Error(err))
		}
	}
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

// sample reads one sensor at its interval until ctx ends. A failing sensor is read less often (its
// health's backoff) and recovers by itself on the first good read.
func (g *Gateway) sample(ctx context.Context, s *sensorState) {
	dst := make([]float64, len(s.dev.Channels()))
	timer := time.NewTimer(s.every())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.retimed:
			timer.Reset(s.health.Backoff(s.every()))
			continue
		case <-timer.C:
		}
		ns, flags := g.clock.stamp() // millisecond time; monotonic until the clock is trusted
		at := time.Unix(0, ns)
		s.mu.Lock()
		s.sampling.Store(time.Now().UnixNano())
		err := s.dev.Sample(at, dst)
		s.sampling.Store(0)
		s.mu.Unlock()
		from, to := s.health.Record(err, at)
		if err == nil {
			for i, v := range dst {
				// A full ring evicts its oldest reading: counted in its stats, logged by the batcher.
				g.ring.Push(buffer.Reading{Time: ns, Value: v, Channel: s.firstChan + uint32(i), Flags: flags})
			}
			g.readings.Add(uint64(len(dst)))
			g.passOn(s, dst)
		}
		if from != to {
			g.logHealthChange(s, from, to, err)
			ev := cloudsync.Event{Kind: "sensor-state", Sensor: s.name, From: from.String(), To: to.String()}
			if err != nil {
				ev.Message = err.Error()
			}
			g.link.Event(ev)
			g.link.StatusChanged()
		}
		timer.Reset(s.health.Backoff(s.every()))
	}
}

func (g *Gateway) logHealthChange(s *sensorState, from, to sensor.State, err error) {
	fields := []zap.Field{zap.String("sensor", s.name), zap.String("driver", s.driver),
		zap.Stringer("from", from), zap.Stringer("to", to)}
	switch to {
	case sensor.StateOK:
		g.log.Info("sensor recovered", fields...)
	case sensor.StateFailing:
		g.log.Error("sensor failing", append(fields, zap.Error(err),
			zap.Duration("retry_every", s.health.Backoff(s.every())))...)
	default:
		g.log.Warn("sensor fault", append(fields, zap.Error(err))...)
	}
}

// batchPoll is how often the batcher looks at the ring. Readings wait at most MaxAge plus this.
const batchPoll = 20 * time.Millisecond

// batch drains the ring into packs of at most MaxReadings, sending a pack when it is full or its
// oldest reading has waited MaxAge, until stop closes; then it sends whatever is left.
func (g *Gateway) batch(stop <-chan struct{}) {
	maxN, maxAge := g.cfg.Batch.MaxReadings, g.cfg.Batch.MaxAge.D()
	buf := make([]buffer.Reading, maxN)
	tick := time.NewTicker(batchPoll)
	defer tick.Stop()
	var waitingSince time.Time
	var dropped, evicted, lost uint64
	for {
		stopping := false
		select {
		case <-stop:
			stopping = true
		case <-tick.C:
		}
		g.batcherBeat.Store(time.Now().UnixNano())
		if g.clock.check() {
			off := time.Duration(g.clock.offset.Load())
			g.log.Info("wall clock trusted: correcting readings stamped before", zap.Duration("offset", off))
			g.link.Event(cloudsync.Event{Kind: "clock-trusted", Message: "readings stamped before are corrected by " + off.String()})
			g.link.StatusChanged()
		}
		if d := g.ring.Stats().Dropped; d > dropped { // only grows; counted by this goroutine's PopBatch
			g.log.Warn("ring full: oldest readings dropped", zap.Uint64("dropped_total", d), zap.Uint64("since_last", d-dropped))
			g.link.Event(cloudsync.Event{Kind: "ring-overflow", Count: d - dropped, Message: "oldest readings dropped: the ring was full"})
			dropped = d
		}
		if ss := g.spool.Stats(); ss.Evicted != evicted || ss.Lost != lost {
			if ss.Evicted != evicted {
				g.link.Event(cloudsync.Event{Kind: "spool-evicted", Count: ss.Evicted - evicted,
					Message: "unacknowledged batches dropped to stay within spool.quota or on a full disk"})
			}
			if ss.Lost != lost {
				g.link.Event(cloudsync.Event{Kind: "spool-lost", Count: ss.Lost - lost,
					Message: "batches that could not be stored at all"})
			}
			evicted, lost = ss.Evicted, ss.Lost
			g.link.StatusChanged()
		}
		n := g.ring.Len()
		if n == 0 {
			waitingSince = time.Time{}
			if stopping {
				return
			}
			continue
		}
		now := time.Now()
		if waitingSince.IsZero() {
			waitingSince = now
		}
		aged := now.Sub(waitingSince) >= maxAge
		if !stopping && n < maxN && !aged {
			continue
		}
		// Full batches go now; a partial one only when its oldest reading has waited MaxAge or on stop.
		for stopping || aged || g.ring.Len() >= maxN {
			k := g.ring.PopBatch(buf)
			if k == 0 {
				break
			}
			g.feedTaps(buf[:k])
			g.spoolBatch(buf[:k])
		}
		if g.ring.Len() == 0 || aged {
			waitingSince = time.Time{}
		}
		if stopping {
			return
		}
	}
}

// spoolBatch encodes rs as the next batch and appends it to the spool. A batch that cannot be
// stored is logged and counted by the spool; sampling goes on.
func (g *Gateway) spoolBatch(rs []buffer.Reading) {
	untrusted := false
	for i := range rs {
		g.clock.correct(&rs[i])
		untrusted = untrusted || rs[i].Flags&buffer.FlagClockUntrusted != 0
	}
	seq, err := g.seq.Next()
	if err != nil {
		g.spool.RecordLost()
		g.log.Error("batch lost: no sequence number", zap.Int("readings", len(rs)), zap.Error(err))
		return
	}
	payload, err := g.enc.Encode(seq, rs)
	if err != nil {
		g.spool.RecordLost()
		g.log.Error("batch lost: encode", zap.Uint64("seq", seq), zap.Error(err))
		return
	}
	if untrusted { // before the append, so the sender never sees the batch without the mark
		g.lastUntrusted.Store(seq)
	}
	if err := g.spool.Append(seq, payload); err != nil { // counted in the spool's Lost
		g.log.Error("batch lost: spool", zap.Uint64("seq", seq), zap.Int("readings", len(rs)), zap.Error(err))
		return
	}
	g.lastSpooled.Store(seq)
	g.batches.Add(1)
	g.spooled.Add(uint64(len(rs)))
	if ce := g.log.Check(zap.DebugLevel, "batch spooled"); ce != nil {
		ce.Write(zap.Uint64("seq", seq), zap.Int("readings", len(rs)), zap.Int("bytes", len(payload)))
	}
	if g.opts.OnBatch != nil {
		g.opts.OnBatch(seq, len(rs), len(payload))
	}
	select {
	case g.appended <- struct{}{}:
	default:
	}
}

// send hands spooled batches to the link while it is connected: live batches (spooled since the
// last one sent) first, and the backlog oldest first at up to ReplayRate batches per second in
// between, so an outage's backlog never starves live data. After stop closes it keeps sending until
// nothing is unsent or the drain timeout passes.
func (g *Gateway) send(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func(stop <-chan struct{}) { // the drain deadline also ends a Publish blocked on a full in-flight window
		select {
		case <-stop:
			t := time.NewTimer(g.opts.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}(stop)
	draining := false
	// liveMark splits live data from the backlog: batches above it are live, sent as soon as they are
	// spooled; those at or below it and unsent are the backlog, replayed at ReplayRate. Batches from
	// before this start are backlog, and so is whatever is spooled while the link is down: the mark
	// follows the newest spooled batch until the link is back.
	liveMark := g.bootSeq - 1
	replayEvery := time.Duration(float64(time.Second) / g.cfg.Spool.ReplayRate)
	var lastReplay time.Time
	idle := time.NewTimer(50 * time.Millisecond)
	defer idle.Stop()
	for ctx.Err() == nil {
		g.senderBeat.Store(time.Now().UnixNano())
		if !draining {
			select {
			case <-stop:
				draining, stop = true, nil
			default:
			}
		}
		connected := g.link.Connected()
		if !connected {
			liveMark = max(liveMark, g.lastSpooled.Load())
		}
		var r spool.Record
		var ok bool
		var err error
		if connected {
			if r, ok, err = g.spool.NextAfter(liveMark); ok {
				liveMark = r.Seq
			} else if err == nil && (g.flushing.Load() || time.Since(lastReplay) >= replayEvery) {
				if r, ok, err = g.spool.Next(false); ok {
					lastReplay = time.Now()
				} else if err == nil {
					g.flushing.Store(false) // nothing unsent is left
				}
			}
		}
		if err != nil {
			g.log.Error("spool read", zap.Error(err))
			continue
		}
		if ok && r.Seq >= g.bootSeq && r.Seq <= g.lastUntrusted.Load() {
			switch {
			case g.clock.trusted.Load():
				if p, err := g.enc.Restamp(r.Payload, time.Duration(g.clock.offset.Load())); err == nil {
					r.Payload = p
				} else {
					g.log.Error("restamp batch; sent with untrusted times", zap.Uint64("seq", r.Seq), zap.Error(err))
				}
			case time.Since(g.started) < g.cfg.Clock.Hold.D() && !draining:
				// Wait for a trusted time to correct it; the backlog replay offers it again (liveMark
				// stays past it, so later batches are not held up behind it).
				g.spool.Unsend(r.Seq)
				ok = false
			}
		}
		if ok {
			// Bounded, so the loop (and its heartbeat) turns while a broker outage holds the in-flight
			// window full; the batch is offered again on the next turn.
			pctx, pcancel := context.WithTimeout(ctx, publishWait)
			err := g.link.Publish(pctx, r.Seq, r.Payload)
			pcancel()
			if err != nil {
				g.spool.Unsend(r.Seq) // the window stayed full, or the drain deadline passed: it stays spooled
				if r.Seq == liveMark {
					liveMark = r.Seq - 1
				}
			}
			continue
		}
		if draining && (!connected || g.spool.Stats().Unsent == 0) {
			return // what is left stays in the spool for the next start
		}
		g.spool.MaybeSync()
		// Wake for a new batch, the next replay slot, or at the latest the idle tick.
		wake := 50 * time.Millisecond
		if d := replayEvery - time.Since(lastReplay); d > 0 && d < wake {
			wake = d
		}
		idle.Reset(wake)
		select {
		case <-g.appended:
		case <-idle.C:
		case <-stop:
		case <-ctx.Done():
		}
	}
}

// publishWait bounds one wait for a free in-flight slot.
const publishWait = time.Second

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

// onResult is the link's per-batch outcome: acknowledged batches leave the spool, failed ones are
// offered again.
func (g *Gateway) onResult(seq uint64, err error) {
	if err != nil {
		g.spool.Unsend(seq)
		return
	}
	if err := g.spool.Ack(seq); err != nil {
		g.log.Warn("spool ack", zap.Uint64("seq", seq), zap.Error(err))
	}
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
	Health   sensor.HealthSnapshot
}

// Stats returns a snapshot; safe from any goroutine.
func (g *Gateway) Stats() Stats {
	st := Stats{BootID: g.bootID, Batches: g.batches.Load(), Readings: g.readings.Load(), Spooled: g.spooled.Load(), Spool: g.spool.Stats(),
		Ring: g.ring.Stats(), RingLen: g.ring.Len(), RingCap: g.ring.Cap(), Link: g.link.Stats(),
		Uptime: time.Since(g.started), Clock: cloudsync.ClockSummary{Trusted: g.clock.trusted.Load(), Trust: g.cfg.Clock.Trust}}
	if st.Clock.Trusted {
		st.ClockOffset = time.Duration(g.clock.offset.Load())
	}
	for _, s := range g.sensors {
		st.Sensors = append(st.Sensors, SensorStats{Name: s.name, Driver: s.driver, Interval: s.every(), Health: s.health.Snapshot()})
	}
	return st
}
