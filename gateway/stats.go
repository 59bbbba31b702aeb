package gateway

import (
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/buffer/spool"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// What the gateway reports about itself: the snapshot the local API shows (Stats) and the summary the
// retained MQTT status carries (statusDetail), both from the same state.

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
	d.Clock = g.clockSummary()
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
	// Now is the gateway's wall time when the snapshot was taken (wrong while the clock is not
	// trusted, on a board without RTC).
	Now time.Time
	// LastBatch is the newest batch this run appended to the spool; its Seq is 0 before the first.
	LastBatch LastBatch
	// NextSeq is the sequence number the batch after LastBatch gets (this run's first batch's before
	// it); LeasedThrough is the highest one reserved in the state directory's batch-seq file.
	NextSeq       uint64
	LeasedThrough uint64
}

// LastBatch is a batch as the batcher appended it to the spool.
type LastBatch struct {
	Seq      uint64
	At       time.Time // when it was appended
	Readings int
	Bytes    int // its payload as spooled: signed, and sealed when sealing
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
		Uptime: time.Since(g.started), Clock: g.clockSummary(), Now: g.clock.wall()}
	g.seqMu.Lock()
	st.LastBatch, st.NextSeq, st.LeasedThrough = g.lastBatch, g.nextSeq, g.leasedSeq
	g.seqMu.Unlock()
	if st.Clock.Trusted {
		st.ClockOffset = time.Duration(g.clock.offset.Load())
	}
	for _, s := range g.sensors {
		st.Sensors = append(st.Sensors, SensorStats{Name: s.name, Driver: s.driver, Interval: s.every(), Phase: s.phase,
			Health: s.health.Snapshot(), Delay: s.delay.snapshot()})
	}
	return st
}

// sealKID is the city key new batches are sealed to; "" when not sealing.
func (g *Gateway) sealKID() string {
	if g.sealer == nil {
		return ""
	}
	return g.sealer.KeyID()
}

// clockSummary is the wall clock's trust, as the retained status and Stats carry it.
func (g *Gateway) clockSummary() cloudsync.ClockSummary {
	return cloudsync.ClockSummary{Trusted: g.clock.trusted.Load(), Trust: g.cfg.Clock.Trust}
}

// noteSeq records, for Stats, the batch just spooled (zero: none yet) and the sequence numbers after
// it. Only New and the batcher call it, so reading g.seq is safe.
func (g *Gateway) noteSeq(b LastBatch) {
	g.seqMu.Lock()
	g.lastBatch, g.nextSeq, g.leasedSeq = b, g.seq.next, g.seq.leased
	g.seqMu.Unlock()
}
