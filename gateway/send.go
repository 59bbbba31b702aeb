package gateway

import (
	"context"
	"time"

	"github.com/wayside-iot/wayside/buffer/spool"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"go.uber.org/zap"
)

// The sender: spooled batches to the link, live first, the backlog at spool.replay_rate.

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
	idle := time.NewTimer(g.sendIdle)
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
				if p, err := g.restamp(r.Seq, r.Payload); err == nil {
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
		if ok && g.sealer != nil && !cosebatch.IsSealed(r.Payload) {
			// Held for clock trust, or spooled before cloud.seal was configured: sealed now.
			if p, err := g.sealer.Seal(r.Payload); err == nil {
				r.Payload = p
			} else {
				g.log.Error("seal batch; kept in the spool", zap.Uint64("seq", r.Seq), zap.Error(err))
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
		wake := g.sendIdle
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

// restamp corrects the times of a batch of this boot encoded before the wall clock was trusted and
// signs it again (its seq and boot id are unchanged).
func (g *Gateway) restamp(seq uint64, msg []byte) ([]byte, error) {
	pack, err := cosebatch.Unwrap(msg)
	if err != nil {
		return nil, err
	}
	p, err := g.enc.Restamp(pack, time.Duration(g.clock.offset.Load()))
	if err != nil {
		return nil, err
	}
	return g.resign.Sign(seq, p), nil
}

// publishWait bounds one wait for a free in-flight slot.
const publishWait = time.Second

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
