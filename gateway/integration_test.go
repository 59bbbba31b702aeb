package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap/zaptest"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/internal/testbroker"
)

const simConfig = `
gateway: {id: it-gw-1, board: sim, log_level: info}
sim: {seed: 7}
sensors:
  - {name: env1,   driver: bme280,  bus: i2c1,  interval: 50ms}
  - {name: air1,   driver: sht4x,   bus: i2c1,  interval: 70ms}
  - {name: co2,    driver: scd4x,   bus: i2c2,  interval: 100ms}
  - {name: pm,     driver: pms5003, bus: uart1, interval: 60ms}
  - {name: noise,  driver: ads1115, bus: i2c1,  interval: 40ms}
  - {name: light,  driver: bh1750,  bus: i2c2,  interval: 90ms}
  - {name: loop1,  driver: pulse,   bus: sim,   pin: GPIO17, interval: 30ms}
  - {name: radar,  driver: ops243,  bus: uart2, interval: 20ms}
  - {name: bay1,   driver: vl53l0x, bus: i2c2,  interval: 50ms}
  - {name: gps,    driver: nmea,    bus: uart0, interval: 200ms}
cloud: {brokers: [%s], max_inflight: 16}
batch: {max_readings: 50, max_age: 200ms}
buffer: {capacity: 4096}
spool: {dir: %s}
`

// collector is a separate MQTT client that records every message on the gateway's topics.
type collector struct {
	mu        sync.Mutex
	telemetry [][]byte
	status    []cloudsync.Status
}

func subscribe(t *testing.T, url, gateway string) *collector {
	t.Helper()
	c := &collector{}
	topics := cloudsync.TopicsFor("wayside/v1", gateway)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("it-subscriber").SetOrderMatters(false)
	cl := mqtt.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	tok := cl.SubscribeMultiple(map[string]byte{topics.Telemetry: 1, topics.Status: 1}, func(_ mqtt.Client, m mqtt.Message) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if m.Topic() == topics.Telemetry {
			c.telemetry = append(c.telemetry, append([]byte(nil), m.Payload()...))
			return
		}
		var st cloudsync.Status
		if err := json.Unmarshal(m.Payload(), &st); err != nil {
			t.Errorf("status payload %q: %v", m.Payload(), err)
		}
		c.status = append(c.status, st)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return c
}

func (c *collector) snapshot() ([][]byte, []cloudsync.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.telemetry...), append([]cloudsync.Status(nil), c.status...)
}

// TestSimToMosquitto runs the gateway on the sim board against a real mosquitto, and checks from a
// separate subscriber that batches 1..N arrive exactly once and every reading is what the sim produced.
func TestSimToMosquitto(t *testing.T) {
	broker := testbroker.Start(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(simConfig, broker.URL, t.TempDir())), boards.Check)
	if err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, broker.URL, cfg.Gateway.ID)

	g, err := gateway.New(gateway.Options{Config: cfg, Version: "it", Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := g.Stats()
	if st.Batches < 10 || st.Readings < 500 {
		t.Fatalf("gateway made only %d batches, %d readings in 3s", st.Batches, st.Readings)
	}
	// Run returned after the broker acknowledged every batch; the subscriber's copies follow shortly.
	var got [][]byte
	var statuses []cloudsync.Status
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, statuses = sub.snapshot(); uint64(len(got)) >= st.Batches && len(statuses) >= 2 {
			break
		}
	}

	sensors := map[string]config.Sensor{}
	for _, s := range cfg.Sensors {
		sensors[s.Name] = s
	}
	seen := map[uint64]int{}
	var readings, mismatches int
	for _, payload := range got {
		p, err := senml.Decode(payload)
		if err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		if p.BootID != g.BootID() || p.BaseName != cfg.Gateway.ID {
			t.Fatalf("batch %d: boot id %q base name %q", p.Seq, p.BootID, p.BaseName)
		}
		seen[p.Seq]++
		for _, r := range p.Readings {
			readings++
			parts := strings.Split(strings.TrimPrefix(r.Name, cfg.Gateway.ID+"/"), "/")
			sc, ok := sensors[parts[0]]
			if len(parts) != 2 || !ok {
				t.Fatalf("reading name %q", r.Name)
			}
			want, ok := sim.Expected(cfg.Sim.Seed, sc.Name, sc.Driver, parts[1], r.UnixMilli(), sc.Interval.D())
			if !ok || want != r.Value {
				if mismatches++; mismatches < 5 {
					t.Errorf("%s at %d: got %v, sim produced %v (ok=%v)", r.Name, r.UnixMilli(), r.Value, want, ok)
				}
			}
		}
	}
	var missing, dups int
	for seq := uint64(1); seq <= st.Batches; seq++ {
		switch n := seen[seq]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("batches=%d readings=%d received_batches=%d received_readings=%d duplicates=%d missing=%d mismatches=%d",
		st.Batches, st.Readings, len(got), readings, dups, missing, mismatches)
	if missing != 0 || dups != 0 || uint64(len(seen)) != st.Batches {
		t.Errorf("sequence numbers: %d missing, %d duplicated, %d distinct for %d batches", missing, dups, len(seen), st.Batches)
	}
	if uint64(readings) != st.Readings || st.Ring.Dropped != 0 {
		t.Errorf("received %d readings, gateway sampled %d (ring dropped %d)", readings, st.Readings, st.Ring.Dropped)
	}
	if mismatches != 0 {
		t.Errorf("%d readings differ from the sim", mismatches)
	}
	if len(statuses) < 2 || statuses[0].State != "online" || statuses[len(statuses)-1].State != "offline" ||
		!statuses[len(statuses)-1].Clean || statuses[0].BootID != g.BootID() || statuses[0].Version != "it" {
		t.Errorf("status messages: %+v", statuses)
	}
}
