package gateway

import (
	"context"
	"fmt"
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
	// The drain deadline also ends a Publish blocked on a full in-flight window.
	go cancelAfterDrain(ctx, cancel, stop, g.opts.DrainTimeout)
	s := &sender{g: g, stop: stop, liveMark: g.bootSeq - 1,
		replayEvery: time.Duration(float64(time.Second) / g.cfg.Spool.ReplayRate), idle: time.NewTimer(g.sendIdle)}
	defer s.idle.Stop()
	for ctx.Err() == nil {
		g.senderBeat.Store(time.Now().UnixNano())
		if !s.draining {
			select {
			case <-s.stop:
				s.draining, s.stop = true, nil
			default:
			}
		}
		connected := g.link.Connected()
		r, ok, err := s.next(connected)
		if err != nil {
			g.log.Error("spool read", zap.Error(err))
			continue
		}
		if ok && s.ready(&r) {
			s.publish(ctx, r)
			continue
		}
		if s.draining && (!connected || g.spool.Stats().Unsent == 0) {
			return // what is left stays in the spool for the next start
		}
		g.spool.MaybeSync()
		s.wait(ctx)
	}
}

// sender is the send loop's state between its turns; only the loop touches it.
type sender struct {
	g        *Gateway
	stop     <-chan struct{} // nil once the stop has been seen
	draining bool            // stop has closed: sending what is left until the drain timeout
	// liveMark splits live data from the backlog: batches above it are live, sent as soon as they are
	// spooled; those at or below it and unsent are the backlog, replayed at ReplayRate. Batches from
	// before this start are backlog, and so is whatever is spooled while the link is down: the mark
	// follows the newest spooled batch until the link is back.
	liveMark    uint64
	replayEvery time.Duration
	lastReplay  time.Time
	idle        *time.Timer
}

// cancelAfterDrain calls cancel when timeout has passed since stop closed, unless ctx ends first.
func cancelAfterDrain(ctx context.Context, cancel context.CancelFunc, stop <-chan struct{}, timeout time.Duration) {
	select {
	case <-stop:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
}

// next picks this turn's batch: the oldest live one, else, when a replay slot is due (at once while
// flushing), the oldest of the backlog. ok is false when there is none or the link is down.
func (s *sender) next(connected bool) (r spool.Record, ok bool, err error) {
	g := s.g
	if !connected {
		s.liveMark = max(s.liveMark, g.lastSpooled.Load())
		return r, false, nil
	}
	if r, ok, err = g.spool.NextAfter(s.liveMark); ok {
		s.liveMark = r.Seq
		return r, true, err
	}
	if err != nil || !(g.flushing.Load() || time.Since(s.lastReplay) >= s.replayEvery) {
		return r, false, err
	}
	if r, ok, err = g.spool.Next(false); ok {
		s.lastReplay = time.Now()
	} else if err == nil {
		g.flushing.Store(false) // nothing unsent is left
	}
	return r, ok, err
}

// ready makes r fit to go: its times corrected once the wall clock is trusted, and sealed when
// cloud.seal is on and it was not sealed when spooled. It reports false when r goes back to the
// spool for a later turn (held for clock trust, or the seal failed).
func (s *sender) ready(r *spool.Record) bool {
	g := s.g
	if r.Seq >= g.bootSeq && r.Seq <= g.lastUntrusted.Load() {
		switch {
		case g.clock.trusted.Load():
			if p, err := g.restamp(r.Seq, r.Payload); err == nil {
				r.Payload = p
			} else {
				g.log.Error("restamp batch; sent with untrusted times", zap.Uint64("seq", r.Seq), zap.Error(err))
			}
		case time.Since(g.started) < g.cfg.Clock.Hold.D() && !s.draining:
			// Wait for a trusted time to correct it; the backlog replay offers it again (liveMark
			// stays past it, so later batches are not held up behind it).
			g.spool.Unsend(r.Seq)
			return false
		}
	}
	if g.sealer != nil && !cosebatch.IsSealed(r.Payload) {
		// Held for clock trust, or spooled before cloud.seal was configured: sealed now.
		p, err := g.sealer.Seal(r.Payload)
		if err != nil {
			g.log.Error("seal batch; kept in the spool", zap.Uint64("seq", r.Seq), zap.Error(err))
			g.spool.Unsend(r.Seq)
			return false
		}
		r.Payload = p
	}
	return true
}

// publish hands r to the link. The wait for a free in-flight slot is bounded, so the loop (and its
// heartbeat) turns while a broker outage holds the window full; r is then offered again on a later
// turn.
func (s *sender) publish(ctx context.Context, r spool.Record) {
	pctx, pcancel := context.WithTimeout(ctx, publishWait)
	err := s.g.link.Publish(pctx, r.Seq, r.Payload)
	pcancel()
	if err != nil {
		s.g.spool.Unsend(r.Seq) // the window stayed full, or the drain deadline passed: it stays spooled
		if r.Seq == s.liveMark {
			s.liveMark = r.Seq - 1
		}
	}
}

// wait sleeps until a new batch is spooled, the next replay slot, the stop, or at the latest the
// idle tick.
func (s *sender) wait(ctx context.Context) {
	wake := s.g.sendIdle
	if d := s.replayEvery - time.Since(s.lastReplay); d > 0 && d < wake {
		wake = d
	}
	s.idle.Reset(wake)
	select {
	case <-s.g.appended:
	case <-s.idle.C:
	case <-s.stop:
	case <-ctx.Done():
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
