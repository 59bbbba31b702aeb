package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/gateway/config"
)

// TestSynthetic samples the load part: 100 Cel channels whose values are what Expected says, the
// model's temperature within the probes' ±2 °C spread, different from probe to probe, without
// allocating; a halted part refuses to sample.
func TestSynthetic(t *testing.T) {
	s, err := NewSensor(5, "syn1", "synthetic", 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	chans := s.Channels()
	if len(chans) != SyntheticChannels || chans[0].Name != "t00" || chans[99].Name != "t99" || chans[42].Unit != "Cel" {
		t.Fatalf("channels %v", chans)
	}
	if BusKind("synthetic") != "sim" || !strings.HasPrefix(s.String(), "synthetic(") {
		t.Fatalf("bus kind %q, name %q", BusKind("synthetic"), s)
	}
	dst := make([]float64, len(chans))
	at := time.Date(2025, 3, 14, 6, 0, 0, 0, time.UTC)
	for i := 0; i < 24; i++ {
		at = at.Add(time.Hour + 13*time.Millisecond)
		if err := s.Sample(at, dst); err != nil {
			t.Fatal(err)
		}
		model, _ := value(key(5, "syn1"), Temperature, at.UnixMilli(), 10*time.Millisecond)
		for j, c := range chans {
			want, ok := Expected(5, "syn1", "synthetic", c.Name, at.UnixMilli(), 10*time.Millisecond)
			if !ok || want != dst[j] {
				t.Fatalf("%s %s: Sample %v, Expected %v (ok %v)", at, c.Name, dst[j], want, ok)
			}
			if math.Abs(dst[j]-model) > 2.000001 {
				t.Fatalf("%s %s: %v is more than 2 °C from the model's %v", at, c.Name, dst[j], model)
			}
		}
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(dst)))); distinct < 90 {
			t.Fatalf("only %d distinct values among 100 probes: %v", distinct, dst)
		}
	}
	if n := testing.AllocsPerRun(10, func() {
		at = at.Add(10 * time.Millisecond)
		if err := s.Sample(at, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Sample allocates %v times", n)
	}
	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(at, dst); err == nil {
		t.Fatal("sample after halt succeeded")
	}
}

// TestLoadsRegistered: load parts are known to the config as sim-only drivers on the same bus kind,
// and are not listed as stand-ins for real drivers.
func TestLoadsRegistered(t *testing.T) {
	if len(Loads()) == 0 {
		t.Fatal("no load parts")
	}
	for _, name := range Loads() {
		if !config.SimOnlyDrivers[name] || BusKind(name) != "sim" {
			t.Errorf("load %s: in config.SimOnlyDrivers %v, the sim bus kind %q", name, config.SimOnlyDrivers[name], BusKind(name))
		}
		if slices.Contains(Drivers(), name) {
			t.Errorf("load %s listed by Drivers", name)
		}
		if _, ok := registry.Lookup(name); ok {
			t.Errorf("load %s is in the driver registry: real boards would accept it", name)
		}
	}
	for name := range config.SimOnlyDrivers {
		if !slices.Contains(Loads(), name) {
			t.Errorf("config.SimOnlyDrivers has %s, the sim board has no such load", name)
		}
	}
}

// TestSyntheticOnlyOnSim: a configuration naming the load part is valid on the sim board and refused
// on a real one, with an error naming the field and the fix.
func TestSyntheticOnlyOnSim(t *testing.T) {
	const yaml = `
gateway: {id: gw-1, board: %s}
sensors:
  - {name: syn1, driver: synthetic, bus: sim, interval: 10ms}
cloud: {brokers: [tcp://127.0.0.1:1883]}
`
	if _, err := config.Parse(fmt.Appendf(nil, yaml, "sim"), nil); err != nil {
		t.Fatalf("sim board: %v", err)
	}
	_, err := config.Parse(fmt.Appendf(nil, yaml, "rpi4"), nil)
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Path != "sensors[0].driver" ||
		!strings.Contains(es[0].Msg, "gateway.board: sim") {
		t.Fatalf("rpi4 board: %v", err)
	}
}
