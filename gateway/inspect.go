package gateway

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/buffer"
)

// Value is one decoded measurement, for the technician.
type Value struct {
	Sensor  string    `json:"sensor"`
	Name    string    `json:"name"` // measurement, e.g. "temperature"
	Unit    string    `json:"unit"`
	Value   float64   `json:"value"`
	Time    time.Time `json:"time"`
	Channel uint32    `json:"-"`
}

// ErrUnknownSensor is returned for a sensor name the configuration does not have.
var ErrUnknownSensor = errors.New("unknown sensor")

// ReadNow reads the named sensor once, outside its schedule, and returns its values. The reading is
// not published and does not count towards the sensor's health.
func (g *Gateway) ReadNow(name string) ([]Value, error) {
	for _, s := range g.sensors {
		if s.name != name {
			continue
		}
		chans := s.dev.Channels()
		dst := make([]float64, len(chans))
		at := time.UnixMilli(time.Now().UnixMilli())
		s.mu.Lock()
		err := s.dev.Sample(at, dst)
		s.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("gateway: read %s: %w", name, err)
		}
		vals := make([]Value, len(chans))
		for i, ch := range chans {
			vals[i] = Value{Sensor: name, Name: ch.Name, Unit: ch.Unit, Value: dst[i], Time: at, Channel: s.firstChan + uint32(i)}
		}
		return vals, nil
	}
	names := make([]string, len(g.sensors))
	for i, s := range g.sensors {
		names[i] = s.name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("gateway: %w %q; configured: %s", ErrUnknownSensor, name, strings.Join(names, ", "))
}

// Describe returns the sensor and measurement a reading's channel belongs to.
func (g *Gateway) Describe(r buffer.Reading) Value {
	v := Value{Value: r.Value, Time: time.Unix(0, r.Time), Channel: r.Channel}
	if int(r.Channel) < len(g.chans) {
		full := strings.TrimPrefix(g.chans[r.Channel].Name, "/")
		v.Sensor, v.Name, _ = strings.Cut(full, "/")
		v.Unit = g.chans[r.Channel].Unit
	}
	return v
}

// tap is one live stream of readings.
type tap struct {
	ch      chan buffer.Reading
	dropped atomic.Uint64
}

// Tap streams a copy of every reading the batcher takes from the ring, until cancel is called. A
// slow reader misses readings (counted by dropped) rather than slowing the pipeline.
func (g *Gateway) Tap(size int) (readings <-chan buffer.Reading, dropped func() uint64, cancel func()) {
	t := &tap{ch: make(chan buffer.Reading, size)}
	g.tapMu.Lock()
	old := g.taps.Load()
	var list []*tap
	if old != nil {
		list = append(list, *old...)
	}
	list = append(list, t)
	g.taps.Store(&list)
	g.tapMu.Unlock()
	var once sync.Once
	return t.ch, t.dropped.Load, func() {
		once.Do(func() {
			g.tapMu.Lock()
			defer g.tapMu.Unlock()
			cur := *g.taps.Load()
			next := make([]*tap, 0, len(cur))
			for _, x := range cur {
				if x != t {
					next = append(next, x)
				}
			}
			g.taps.Store(&next)
		})
	}
}

// feedTaps copies rs to every tap without blocking. With no tap it costs one atomic load.
func (g *Gateway) feedTaps(rs []buffer.Reading) {
	list := g.taps.Load()
	if list == nil {
		return
	}
	for _, t := range *list {
		for _, r := range rs {
			select {
			case t.ch <- r:
			default:
				t.dropped.Add(1)
			}
		}
	}
}
