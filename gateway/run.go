package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Running and stopping: Run starts the loops and stops them in order; Close releases a gateway that
// never ran.

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
