package gateway

import (
	"context"
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"go.uber.org/zap"
)

// The samplers: one goroutine per sensor, at its interval, into the ring.

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
