package gateway

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

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
