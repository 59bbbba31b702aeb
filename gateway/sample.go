package gateway

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"go.uber.org/zap"
)

// The samplers: one goroutine per sensor, on the wall clock's grid, into the ring.
//
// A sensor sampled every interval is sampled in the slots at whole multiples of the interval since
// the Unix epoch (every second on the second, every 5 s at :00, :05, ...; every 24 h at midnight
// UTC), starting its sample at slot + phase (sensors[].phase) and stamping the readings with the slot
// itself. The cabinet's readings therefore share timestamps, and a pack's times are small integer
// offsets from its base time. How late each sample really started is kept as a statistic (last and
// maximum delay, slots missed), visible in the local API and `wayside sensors`.
//
// Until the wall clock is trusted the grid is laid on the stamping timeline of wallClock (the wall
// time at start plus the monotonic time since), and readings carry FlagClockUntrusted and are
// corrected as before. When trust arrives mid-wait the sampler plans its next slot on the trusted
// timeline.

// slotFor returns the first grid slot s (a multiple of every since the Unix epoch) whose start
// s + phase is after t.
func slotFor(t int64, every, phase time.Duration) int64 {
	e := int64(every)
	x := t - int64(phase)
	k := x / e
	if x%e < 0 { // floor division for times before 1970 (an untrusted clock may say so)
		k--
	}
	return (k + 1) * e
}

// delayStats is a sampler's lateness; written by its sampler, read by Stats.
type delayStats struct {
	last, max atomic.Int64  // ns
	samples   atomic.Uint64 // samples started on the grid
	missed    atomic.Uint64 // slots skipped because the sampler was a whole interval or more late
}

// DelaySnapshot is a sensor's sampling delay: how long after its slot (plus phase) its samples
// started.
type DelaySnapshot struct {
	Last, Max time.Duration
	Samples   uint64
	Missed    uint64 // grid slots skipped (the sampler was late by an interval or more)
}

func (d *delayStats) record(late time.Duration) {
	d.last.Store(int64(late))
	if int64(late) > d.max.Load() {
		d.max.Store(int64(late))
	}
	d.samples.Add(1)
}

func (d *delayStats) snapshot() DelaySnapshot {
	return DelaySnapshot{Last: time.Duration(d.last.Load()), Max: time.Duration(d.max.Load()),
		Samples: d.samples.Load(), Missed: d.missed.Load()}
}

// sample reads one sensor in its grid slots until ctx ends. A failing sensor is read less often (its
// health's backoff: the first slot at least the backoff after this sample) and recovers by itself on
// the first good read.
func (g *Gateway) sample(ctx context.Context, s *sensorState) {
	dst := make([]float64, len(s.dev.Channels()))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var slot int64     // the slot the timer waits for
	var planned uint32 // the clock flags it was planned with
	// plan arms the timer for the first slot starting at least extra from now.
	plan := func(extra time.Duration) {
		now, flags := g.clock.now()
		slot, planned = slotFor(now+int64(extra), s.every(), s.phase), flags
		timer.Reset(time.Duration(slot + int64(s.phase) - now))
	}
	plan(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.retimed:
			plan(s.health.Backoff(s.every()) - s.every())
			continue
		case <-timer.C:
		}
		now, flags := g.clock.now()
		if flags != planned {
			plan(0) // trust arrived while waiting: the slot was on the untrusted timeline
			continue
		}
		start := slot + int64(s.phase)
		if now < start {
			timer.Reset(time.Duration(start - now)) // the wall clock stepped back while waiting
			continue
		}
		every := int64(s.every())
		late := now - start
		if late >= every { // suspended, stepped forward, or a sample longer than the interval
			skip := late / every
			s.delay.missed.Add(uint64(skip))
			slot += skip * every
			late -= skip * every
		}
		s.delay.record(time.Duration(late))
		ns := slot - slot%1e6 // slots are whole ms unless the interval is not; readings are stamped in ms
		at := time.Unix(0, ns)
		s.mu.Lock()
		s.sampling.Store(time.Now().UnixNano())
		err := s.dev.Sample(at, dst)
		s.sampling.Store(0)
		s.mu.Unlock()
		if err == nil {
			err = finite(dst)
		}
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
		plan(s.health.Backoff(s.every()) - s.every())
	}
}

// errNotFinite fails a sample holding a NaN or an infinity: a pack cannot carry them
// (senml.ErrNotFinite), so the part is counted as reporting out of range. Made once: a driver stuck on
// NaN must not make its sampler allocate per sample.
var errNotFinite = fmt.Errorf("gateway: the driver reported NaN or an infinity, which telemetry cannot carry: %w", sensor.ErrRange)

// finite refuses a sample holding a NaN or an infinity.
func finite(dst []float64) error {
	for _, v := range dst {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errNotFinite
		}
	}
	return nil
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
