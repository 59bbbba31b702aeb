package gateway_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// simConfig is the sim board's test configuration (configs/testdata/sim.yaml), shared with the CLI's
// tests; %s are the broker URL and the spool directory.
var simConfig = func() string {
	b, err := os.ReadFile(filepath.Join("..", "configs", "testdata", "sim.yaml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// collector is a separate MQTT client that records every message on the gateway's topics.
type collector struct {
	mu        sync.Mutex
	telemetry [][]byte
	arrived   []time.Time // when each telemetry message arrived
	status    []cloudsync.Status
}

// subscribe connects a separate client with a persistent session (so a broker that keeps sessions
// queues for it during an outage) and subscribes to the gateway's telemetry and status.
func subscribe(t *testing.T, url, gateway string) *collector {
	t.Helper()
	c := &collector{}
	topics := profile.PrefixTopics("wayside/v1", gateway)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("it-subscriber").SetOrderMatters(false).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
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
			c.arrived = append(c.arrived, time.Now())
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
	cfg := parseConfig(t, fmt.Sprintf(simConfig, broker.URL, t.TempDir()))
	sub := subscribe(t, broker.URL, cfg.Gateway.ID)

	g := newGateway(t, gateway.Options{Config: cfg, Version: "it"})
	runFor(t, g, 3*time.Second)
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

	res := checkBatches(t, cfg, got, g.BootID(), 1)
	t.Logf("batches=%d readings=%d received_batches=%d received_readings=%d duplicates=%d missing=%d mismatches=%d",
		st.Batches, st.Readings, len(got), res.readings, res.dups, res.missing, res.mismatches)
	if res.missing != 0 || res.dups != 0 || res.distinct != st.Batches {
		t.Errorf("sequence numbers: %d missing, %d duplicated, %d distinct for %d batches", res.missing, res.dups, res.distinct, st.Batches)
	}
	if uint64(res.readings) != st.Readings || st.Ring.Dropped != 0 {
		t.Errorf("received %d readings, gateway sampled %d (ring dropped %d)", res.readings, st.Readings, st.Ring.Dropped)
	}
	if res.mismatches != 0 {
		t.Errorf("%d readings differ from the sim", res.mismatches)
	}
	if len(statuses) < 2 || statuses[0].State != "online" || statuses[len(statuses)-1].State != "offline" ||
		!statuses[len(statuses)-1].Clean || statuses[0].BootID != g.BootID() || statuses[0].Version != "it" {
		t.Errorf("status messages: %+v", statuses)
	}
}

type checkResult struct {
	distinct                  uint64
	readings                  int // distinct batches' readings
	dups, missing, mismatches int
	offGrid                   int // trusted readings not stamped on their sensor's grid
	maxSeq                    uint64
}

// checkBatches decodes every payload, checks each reading against the sim, de-duplicates by sequence
// number as a cloud consumer would, and counts the batches of firstSeq..max missing.
func checkBatches(t *testing.T, cfg *config.Config, got [][]byte, bootID string, firstSeq uint64) checkResult {
	t.Helper()
	sensors := map[string]config.Sensor{}
	for _, s := range cfg.Sensors {
		sensors[s.Name] = s
	}
	var res checkResult
	seen := map[uint64]int{}
	for _, payload := range got {
		p := openBatch(t, cfg.Spool.Dir, payload)
		if (bootID != "" && p.BootID != bootID) || !strings.HasPrefix(p.BaseName, cfg.Gateway.ID+"/") {
			t.Fatalf("batch %d: boot id %q base name %q", p.Seq, p.BootID, p.BaseName)
		}
		seen[p.Seq]++
		res.maxSeq = max(res.maxSeq, p.Seq)
		if seen[p.Seq] > 1 {
			continue
		}
		for _, r := range p.Readings {
			res.readings++
			parts := strings.Split(strings.TrimPrefix(r.Name, cfg.Gateway.ID+"/"), "/")
			sc, ok := sensors[parts[0]]
			if len(parts) != 2 || !ok {
				t.Fatalf("reading name %q", r.Name)
			}
			// Sampled on the grid: stamped with a whole multiple of the interval (phase only moves
			// when the sample is taken), unless stamped before the clock was trusted.
			if iv := sc.Interval.D().Milliseconds(); r.Flags == 0 && r.UnixMilli()%iv != 0 {
				if res.offGrid++; res.offGrid < 5 {
					t.Errorf("%s at %d ms: not a multiple of the interval %d ms", r.Name, r.UnixMilli(), iv)
				}
			}
			if !sim.Checked(sc.Driver, parts[1]) {
				continue // an aggregate of the real time since the previous sample: the driver's tests check it
			}
			want, ok := sim.Expected(cfg.Sim.Seed, sc.Name, sc.Driver, parts[1], r.UnixMilli(), sc.Interval.D())
			// The decoded value is what the driver reported, at the channel's resolution.
			ch := senml.Channel{Unit: r.Unit, Resolution: resolution(t, cfg, sc, parts[1])}
			if !ok || senml.Quantize(&ch, want) != senml.Quantize(&ch, r.Value) {
				if res.mismatches++; res.mismatches < 5 {
					t.Errorf("%s at %d: got %v, sim produced %v (ok=%v)", r.Name, r.UnixMilli(), r.Value, want, ok)
				}
			}
		}
	}
	for seq := firstSeq; seq <= res.maxSeq; seq++ {
		switch n := seen[seq]; {
		case n == 0:
			res.missing++
		case n > 1:
			res.dups += n - 1
		}
	}
	res.distinct = uint64(len(seen))
	return res
}

// TestBrokerOutage stops the broker under load for two seconds and starts it again; then stops the
// gateway while the broker is down and starts a new one on the same spool. Every batch must arrive,
// exactly once after de-duplication by sequence number, and every reading must be the sim's.
func TestBrokerOutage(t *testing.T) {
	broker := testbroker.Start(t, testbroker.Persistent(t.TempDir()))
	spoolDir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(simConfig, broker.URL, spoolDir))
	// The outage lasts 2 s of a 6 s run: reconnect within a second of the loss (the default spread, 30 s,
	// is for a city's fleet), as this test always has.
	cfg.Cloud.Reconnect.Spread = cfg.Cloud.Reconnect.Min
	sub := subscribe(t, broker.URL, cfg.Gateway.ID)
	// run runs a gateway for d, calling during meanwhile; with until, it goes on after d until until
	// holds (a guard of 30 s more, so a loaded machine changes the timing, not the outcome).
	run := func(d time.Duration, during func(), until ...func(*gateway.Gateway) bool) *gateway.Gateway {
		g := newGateway(t, gateway.Options{Config: cfg, Version: "it", DrainTimeout: 2 * time.Second})
		start := time.Now()
		stop := goRun(t, g)
		if during != nil {
			during()
		}
		time.Sleep(time.Until(start.Add(d)))
		for deadline := time.Now().Add(30 * time.Second); len(until) > 0 && !until[0](g) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return g
	}
	// 1: an outage in the middle of the stream.
	g1 := run(6*time.Second, func() {
		time.Sleep(1500 * time.Millisecond)
		broker.StopGraceful()
		time.Sleep(2 * time.Second)
		broker.Restart()
	})
	st1 := g1.Stats()
	// 2: the gateway stops while the broker is down: its last batches stay in the spool.
	broker.StopGraceful()
	g2 := run(1500*time.Millisecond, nil)
	st2 := g2.Stats()
	if st2.Spool.Backlog == 0 {
		t.Fatalf("gateway 2 stopped with the broker down and an empty spool: %+v", st2.Spool)
	}
	broker.Restart()
	// 3: a new gateway on the same spool sends the backlog, then its own batches, until the backlog
	// is empty.
	g3 := run(2*time.Second, nil, func(g *gateway.Gateway) bool { return g.Stats().Spool.Backlog == 0 })
	st3 := g3.Stats()
	if st3.Spool.Recovered == 0 || st3.Spool.Backlog != 0 {
		t.Fatalf("gateway 3 spool: recovered %d, backlog %d at stop", st3.Spool.Recovered, st3.Spool.Backlog)
	}
	batches := st1.Batches + st2.Batches + st3.Batches
	readings := st1.Readings + st2.Readings + st3.Readings
	var got [][]byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, _ = sub.snapshot()
		if res := checkBatches(t, cfg, got, "", 1); res.distinct >= batches {
			break
		}
	}
	res := checkBatches(t, cfg, got, "", 1)
	// res.missing counts the sequence numbers the two restarts skipped (their unused leases), not loss:
	// loss is distinct < batches.
	t.Logf("outage: batches=%d readings=%d received=%d duplicates_removed=%d distinct=%d lost=%d lease_skipped=%d "+
		"recovered_from_spool=%d mismatches=%d", batches, readings, len(got), res.dups, res.distinct, batches-min(batches, res.distinct),
		res.missing, st3.Spool.Recovered, res.mismatches)
	if res.distinct != batches || uint64(res.readings) != readings {
		t.Errorf("distinct batches %d of %d, readings %d of %d", res.distinct, batches, res.readings, readings)
	}
	if res.mismatches != 0 {
		t.Errorf("%d readings differ from the sim", res.mismatches)
	}
	for _, st := range []gateway.Stats{st1, st2, st3} {
		if st.Ring.Dropped != 0 || st.Spool.Evicted != 0 || st.Spool.Lost != 0 {
			t.Errorf("data dropped: ring %d, spool evicted %d lost %d", st.Ring.Dropped, st.Spool.Evicted, st.Spool.Lost)
		}
	}
}

// resolution is the resolution the driver of sc declares for channel ch, read from the driver opened
// on a sim bus of its own.
func resolution(t *testing.T, cfg *config.Config, sc config.Sensor, ch string) float64 {
	t.Helper()
	key := sc.Name + "/" + ch
	if r, ok := resolutions.Load(key); ok {
		return r.(float64)
	}
	s, err := sim.Open(sim.Spec{Seed: cfg.Sim.Seed, Name: sc.Name, Driver: sc.Driver, Bus: sim.NewBus("res"),
		Port: "res", Interval: sc.Interval.D(), Options: sc.Opts, Pins: sc.Pins})
	if err != nil {
		t.Fatalf("open %s for its channels: %v", sc.Name, err)
	}
	defer s.Halt()
	for _, c := range s.Channels() {
		resolutions.Store(sc.Name+"/"+c.Name, c.Resolution)
	}
	r, _ := resolutions.Load(key)
	res, _ := r.(float64)
	return res
}

var resolutions sync.Map
