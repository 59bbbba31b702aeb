package gateway

import (
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync"
	"go.uber.org/zap"
)

// The batcher: readings from the ring into encoded, numbered batches in the spool.

// batchPoll is how often the batcher looks at the ring unless Options.Poll says otherwise. Readings
// wait at most MaxAge plus this.
const batchPoll = 20 * time.Millisecond

// sendIdle is the sender's longest wait between turns unless Options.Poll says otherwise (a spooled
// batch wakes it at once).
const sendIdle = 50 * time.Millisecond

// batch drains the ring into packs of at most MaxReadings, sending a pack when it is full or its
// oldest reading has waited MaxAge, until stop closes; then it sends whatever is left.
func (g *Gateway) batch(stop <-chan struct{}) {
	maxN, maxAge := g.cfg.Batch.MaxReadings, g.cfg.Batch.MaxAge.D()
	buf := make([]buffer.Reading, maxN)
	tick := time.NewTicker(g.opts.Poll)
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
		// Losses, not Stats: this runs 50 times a second, and Stats asks the kernel for the free space
		// (a statfs was a fifth of a gateway's CPU in the fleet simulator).
		if ev, ls := g.spool.Losses(); ev != evicted || ls != lost {
			if ev != evicted {
				g.link.Event(cloudsync.Event{Kind: "spool-evicted", Count: ev - evicted,
					Message: "unacknowledged batches dropped to stay within spool.quota or on a full disk"})
			}
			if ls != lost {
				g.link.Event(cloudsync.Event{Kind: "spool-lost", Count: ls - lost,
					Message: "batches that could not be stored at all"})
			}
			evicted, lost = ev, ls
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

// spoolBatch encodes rs as the next batch, signs it and appends it to the spool. A batch that cannot be
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
	pack, err := g.enc.Encode(seq, rs)
	if err != nil {
		g.spool.RecordLost()
		g.log.Error("batch lost: encode", zap.Uint64("seq", seq), zap.Error(err))
		return
	}
	// Signed when encoded: the spool holds what goes on the wire, and a replay is the same bytes.
	payload := g.signer.Sign(seq, pack)
	// Sealed when encoded too, except batches whose times may still be corrected: the correction
	// needs the plaintext, so they wait in the spool signed, and are sealed when sent (send.go).
	if g.sealer != nil && !untrusted {
		if payload, err = g.sealer.Seal(payload); err != nil {
			g.spool.RecordLost()
			g.log.Error("batch lost: seal", zap.Uint64("seq", seq), zap.Error(err))
			return
		}
	}
	if untrusted { // before the append, so the sender never sees the batch without the mark
		g.lastUntrusted.Store(seq)
	}
	if err := g.spool.Append(seq, payload); err != nil { // counted in the spool's Lost
		g.log.Error("batch lost: spool", zap.Uint64("seq", seq), zap.Int("readings", len(rs)), zap.Error(err))
		return
	}
	g.noteSeq(LastBatch{Seq: seq, At: time.Now(), Readings: len(rs), Bytes: len(payload)})
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
