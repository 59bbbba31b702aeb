package gateway

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"go.uber.org/zap"
)

// Live compensation between sensors: pressure_from feeds one sensor's pressure channel to another.

// pressureFeed passes channel ch of a sensor's readings to a sensor that compensates with them.
type pressureFeed struct {
	ch     int
	sink   sensor.PressureSink
	target string
	failed atomic.Bool // logged once
}

// wirePressure connects each sensor whose options name a pressure source (pressure_from:
// "<sensor>/<channel>") to that channel's sensor: the channel must be a pressure in Pa.
func (g *Gateway) wirePressure() error {
	for i, sc := range g.cfg.Sensors {
		src, ok := sc.Opts.(sensor.PressureSourced)
		if !ok || src.AmbientPressureFrom() == "" {
			continue
		}
		from := src.AmbientPressureFrom()
		name, channel, _ := strings.Cut(from, "/")
		sink, ok := g.sensors[i].dev.(sensor.PressureSink)
		if !ok {
			return fmt.Errorf("sensor %s: pressure_from: driver %s takes no ambient pressure", sc.Name, sc.Driver)
		}
		var source *sensorState
		for _, st := range g.sensors {
			if st.name == name {
				source = st
			}
		}
		if source == nil {
			return fmt.Errorf("sensor %s: pressure_from %q: no sensor %s", sc.Name, from, name)
		}
		var valid []string
		ch := -1
		for j, c := range source.dev.Channels() {
			if c.Unit == "Pa" {
				valid = append(valid, name+"/"+c.Name)
			}
			if c.Name == channel && c.Unit == "Pa" {
				ch = j
			}
		}
		if ch < 0 {
			return fmt.Errorf("sensor %s: pressure_from %q is not a pressure channel (Pa) of %s; valid: %s",
				sc.Name, from, name, strings.Join(valid, ", "))
		}
		source.feeds = append(source.feeds, pressureFeed{ch: ch, sink: sink, target: sc.Name})
	}
	return nil
}

// passOn hands a good reading of s to the sensors that compensate with it (wirePressure).
func (g *Gateway) passOn(s *sensorState, dst []float64) {
	for i := range s.feeds {
		f := &s.feeds[i]
		if err := f.sink.SetAmbientPressure(dst[f.ch]); err != nil && !f.failed.Swap(true) {
			g.log.Warn("ambient pressure not passed on (logged once)", zap.String("from", s.name),
				zap.String("to", f.target), zap.Float64("pa", dst[f.ch]), zap.Error(err))
		}
	}
}
