package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/senml"
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
	// OnBatch, when set, is called by the batcher after each batch is handed to the link.
	OnBatch func(seq uint64, readings int, bytes int)
}

// sensorState is one opened sensor and its sampler's bookkeeping.
type sensorState struct {
	name      string
	driver    string
	dev       sensor.Sensor
	interval  time.Duration
	firstChan uint32
	health    sensor.Health
	mu        sync.Mutex // serialises Sample between the sampler and ReadNow (the driver contract)
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
	seq     *seqStore
	bootID  string
	started time.Time

	taps  atomic.Pointer[[]*tap] // readings streamed to technicians (wayside tail); copy-on-write
	tapMu sync.Mutex             // serialises tap list updates (rare); feedTaps loads the pointer

	batches  atomic.Uint64
	readings atomic.Uint64 // readings pushed by the samplers
	sent     atomic.Uint64 // readings handed to the link
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
	g = &Gateway{opts: opts, cfg: cfg, log: opts.Log, started: time.Now()}
	if g.bootID, err = newBootID(); err != nil {
		return nil, err
	}
	if g.seq, err = openSeq(cfg.Spool.Dir); err != nil {
		return nil, err
	}
	if g.board, err = boards.Open(cfg.Gateway.Board, cfg.Sim.Seed); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	defer func() {
		if err != nil {
			g.closeSensors()
			g.board.Close()
		}
	}()
	for _, sc := range cfg.Sensors {
		dev, err := g.board.OpenSensor(boards.SensorSpec{Name: sc.Name, Driver: sc.Driver, Bus: sc.Bus,
			Address: sc.Address, Pin: sc.Pin, Interval: sc.Interval.D()})
		if err != nil {
			return nil, fmt.Errorf("gateway: open sensor %s: %w", sc.Name, err)
		}
		st := &sensorState{name: sc.Name, driver: sc.Driver, dev: dev, interval: sc.Interval.D(),
			firstChan: uint32(len(g.chans))}
		for _, ch := range dev.Channels() {
			g.chans = append(g.chans, senml.Channel{Name: "/" + sc.Name + "/" + ch.Name, Unit: ch.Unit})
		}
		g.sensors = append(g.sensors, st)
	}
	if g.ring, err = buffer.NewRing(cfg.Buffer.Capacity); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.enc, err = senml.NewEncoder(cfg.Gateway.ID, g.bootID, g.chans, cfg.Batch.MaxReadings); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.link, err = cloudsync.New(cloudsync.Options{
		Brokers: cfg.Cloud.Brokers, ClientID: cfg.Cloud.ClientID, GatewayID: cfg.Gateway.ID,
		TopicPrefix: cfg.Cloud.TopicPrefix, KeepAlive: cfg.Cloud.KeepAlive.D(),
		MaxInflight: cfg.Cloud.MaxInflight, Version: opts.Version, BootID: g.bootID,
		ConfigHash: cfg.Hash, Log: g.log,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// BootID returns this run's boot id.
func (g *Gateway) BootID() string { return g.bootID }

// Channels returns the channel table readings index.
func (g *Gateway) Channels() []senml.Channel { return g.chans }

// Run samples and syncs until ctx ends, then stops in order: samplers, sensors, the last batches
// from the ring, the link (waiting for acknowledgements), the board. It returns an error when
// readings could not be handed to the link or the broker did not acknowledge them before the drain
// timeout.
func (g *Gateway) Run(ctx context.Context) error {
	g.link.Start()
	g.log.Info("gateway started", zap.String("gateway", g.cfg.Gateway.ID), zap.String("board", g.cfg.Gateway.Board),
		zap.String("boot_id", g.bootID), zap.Int("sensors", len(g.sensors)), zap.Int("channels", len(g.chans)),
		zap.String("telemetry", g.link.Topics().Telemetry))

	var samplers sync.WaitGroup
	for _, s := range g.sensors {
		samplers.Add(1)
		go func() {
			defer samplers.Done()
			g.sample(ctx, s)
		}()
	}
	stopBatcher := make(chan struct{})
	batchErr := make(chan error, 1)
	go func() { batchErr <- g.batch(stopBatcher) }()

	<-ctx.Done()
	samplers.Wait()
	g.closeSensors()
	close(stopBatcher)
	errBatch := <-batchErr
	errLink := g.link.Close(g.opts.DrainTimeout)
	errBoard := g.board.Close()
	rs := g.ring.Stats()
	g.log.Info("gateway stopped", zap.Uint64("batches", g.batches.Load()), zap.Uint64("readings", g.readings.Load()),
		zap.Uint64("sent", g.sent.Load()), zap.Uint64("ring_dropped", rs.Dropped))
	return errors.Join(errBatch, errLink, errBoard)
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
	timer := time.NewTimer(s.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		at := time.UnixMilli(time.Now().UnixMilli()) // readings carry millisecond time
		s.mu.Lock()
		err := s.dev.Sample(at, dst)
		s.mu.Unlock()
		from, to := s.health.Record(err, at)
		if err == nil {
			for i, v := range dst {
				// A full ring evicts its oldest reading: counted in its stats, logged by the batcher.
				g.ring.Push(buffer.Reading{Time: at.UnixNano(), Value: v, Channel: s.firstChan + uint32(i)})
			}
			g.readings.Add(uint64(len(dst)))
		}
		if from != to {
			g.logHealthChange(s, from, to, err)
		}
		timer.Reset(s.health.Backoff(s.interval))
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
			zap.Duration("retry_every", s.health.Backoff(s.interval)))...)
	default:
		g.log.Warn("sensor fault", append(fields, zap.Error(err))...)
	}
}

// batchPoll is how often the batcher looks at the ring. Readings wait at most MaxAge plus this.
const batchPoll = 20 * time.Millisecond

// batch drains the ring into packs of at most MaxReadings, sending a pack when it is full or its
// oldest reading has waited MaxAge, until stop closes; then it sends whatever is left.
func (g *Gateway) batch(stop <-chan struct{}) error {
	maxN, maxAge := g.cfg.Batch.MaxReadings, g.cfg.Batch.MaxAge.D()
	buf := make([]buffer.Reading, maxN)
	tick := time.NewTicker(batchPoll)
	defer tick.Stop()
	var waitingSince time.Time
	var dropped uint64
	ctx := context.Background()
	for {
		stopping := false
		select {
		case <-stop:
			stopping = true
		case <-tick.C:
		}
		if d := g.ring.Stats().Dropped; d != dropped {
			g.log.Warn("ring full: oldest readings dropped", zap.Uint64("dropped_total", d), zap.Uint64("since_last", d-dropped))
			dropped = d
		}
		n := g.ring.Len()
		if n == 0 {
			waitingSince = time.Time{}
			if stopping {
				return nil
			}
			continue
		}
		now := time.Now()
		if waitingSince.IsZero() {
			waitingSince = now
		}
		if !stopping && n < maxN && now.Sub(waitingSince) < maxAge {
			continue
		}
		if stopping {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), g.opts.DrainTimeout)
			defer cancel()
		}
		for {
			k := g.ring.PopBatch(buf)
			if k == 0 {
				break
			}
			g.feedTaps(buf[:k])
			if err := g.send(ctx, buf[:k]); err != nil {
				return err
			}
			if k < maxN && !stopping {
				break
			}
		}
		waitingSince = time.Time{}
		if stopping {
			return nil
		}
	}
}

func (g *Gateway) send(ctx context.Context, rs []buffer.Reading) error {
	seq, err := g.seq.Next()
	if err != nil {
		return err
	}
	payload, err := g.enc.Encode(seq, rs)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := g.link.Publish(ctx, seq, payload); err != nil {
		return fmt.Errorf("gateway: %d readings not sent: %w", len(rs), err)
	}
	g.batches.Add(1)
	g.sent.Add(uint64(len(rs)))
	if ce := g.log.Check(zap.DebugLevel, "batch"); ce != nil {
		ce.Write(zap.Uint64("seq", seq), zap.Int("readings", len(rs)), zap.Int("bytes", len(payload)))
	}
	if g.opts.OnBatch != nil {
		g.opts.OnBatch(seq, len(rs), len(payload))
	}
	return nil
}

// Stats is a snapshot of the pipeline.
type Stats struct {
	BootID   string
	Uptime   time.Duration
	Batches  uint64
	Readings uint64 // taken by the samplers
	Sent     uint64 // handed to the link
	Ring     buffer.RingStats
	RingLen  int
	RingCap  int
	Link     cloudsync.Stats
	Sensors  []SensorStats
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
	st := Stats{BootID: g.bootID, Batches: g.batches.Load(), Readings: g.readings.Load(), Sent: g.sent.Load(),
		Ring: g.ring.Stats(), RingLen: g.ring.Len(), RingCap: g.ring.Cap(), Link: g.link.Stats(),
		Uptime: time.Since(g.started)}
	for _, s := range g.sensors {
		st.Sensors = append(st.Sensors, SensorStats{Name: s.name, Driver: s.driver, Interval: s.interval, Health: s.health.Snapshot()})
	}
	return st
}
