package gateway

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/drivers/scd4x"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway/config"
)

// fakeDev is a sensor with fixed channels that records the ambient pressures it is given.
type fakeDev struct {
	chans []sensor.Channel
	got   []float64
}

func (d *fakeDev) String() string                      { return "fake" }
func (d *fakeDev) Channels() []sensor.Channel          { return d.chans }
func (d *fakeDev) Sample(time.Time, []float64) error   { return nil }
func (d *fakeDev) Halt() error                         { return nil }
func (d *fakeDev) SetAmbientPressure(pa float64) error { d.got = append(d.got, pa); return nil }
func pressureGateway(from string) (*Gateway, *fakeDev, *fakeDev) {
	env := &fakeDev{chans: []sensor.Channel{{Name: "temperature", Unit: "Cel"}, {Name: "humidity", Unit: "%RH"}, {Name: "pressure", Unit: "Pa"}}}
	co2 := &fakeDev{chans: []sensor.Channel{{Name: "co2", Unit: "ppm"}}}
	o := scd4x.DefaultOptions
	o.PressureFrom = from
	cfg := &config.Config{Sensors: []config.Sensor{{Name: "env1", Driver: "bme280"}, {Name: "co2", Driver: "scd4x", Opts: &o}}}
	g := &Gateway{cfg: cfg, log: zap.NewNop(), sensors: []*sensorState{{name: "env1", dev: env}, {name: "co2", dev: co2}}}
	return g, env, co2
}

// TestPressureFrom: the SCD4x named by pressure_from gets each good reading of the BME280's pressure
// channel, in Pa, and nothing else.
func TestPressureFrom(t *testing.T) {
	g, _, co2 := pressureGateway("env1/pressure")
	if err := g.wirePressure(); err != nil {
		t.Fatal(err)
	}
	g.passOn(g.sensors[0], []float64{11.5, 80, 98765})
	g.passOn(g.sensors[0], []float64{11.6, 81, 98770})
	g.passOn(g.sensors[1], []float64{420}) // the SCD4x's own reading goes nowhere
	if len(co2.got) != 2 || co2.got[0] != 98765 || co2.got[1] != 98770 {
		t.Fatalf("the scd4x got %v, want the two pressures", co2.got)
	}
	for from, want := range map[string]string{
		"env1/humidity": `pressure_from "env1/humidity" is not a pressure channel (Pa) of env1; valid: env1/pressure`,
		"env9/pressure": `no sensor env9`,
	} {
		g, _, _ := pressureGateway(from)
		if err := g.wirePressure(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", from, err, want)
		}
	}
}
