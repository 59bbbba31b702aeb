package fleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/internal/benchsuite"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
	"go.uber.org/zap"
)

// A virtual gateway: its own state directory, configuration and keys.

type member struct {
	id       string
	g        *gateway.Gateway
	mu       sync.Mutex
	seqs     []uint64      // spooled, from OnBatch
	batches  atomic.Uint64 // spooled, from OnBatch: read by measure without touching the gateway's locks
	readings atomic.Uint64 // in those batches
	attempts uint64        // the link's attempts at the last sample (the sampler's own)
	done     chan error
}

// memberConfig is gateway i's configuration: the cabinet (sensors), its own spool directory, client
// id wayside-<id>, the city's command key, o's reconnect timings where set.
func memberConfig(o Options, i int, url, spool, sensors string, cityPub ed25519.PublicKey) (*config.Config, error) {
	id := gatewayID(i)
	var y strings.Builder
	fmt.Fprintf(&y, "gateway: {id: %s, board: sim, log_level: error}\nsim: {seed: %d}\nsensors:\n%s", id, i+1, sensors)
	fmt.Fprintf(&y, "cloud: {brokers: [%q], commands: {keys: {city: %s}}", url, command.EncodePublicKey(cityPub))
	var rc []string
	for _, kv := range []struct {
		k string
		d time.Duration
	}{{"min", o.ReconnectMin}, {"spread", o.ReconnectSpread}, {"max", o.ReconnectMax}} {
		if kv.d > 0 {
			rc = append(rc, fmt.Sprintf("%s: %s", kv.k, kv.d))
		}
	}
	if len(rc) > 0 {
		fmt.Fprintf(&y, ", reconnect: {%s}", strings.Join(rc, ", "))
	}
	fmt.Fprintf(&y, "}\nbatch: {max_readings: %d, max_age: %s}\nbuffer: {capacity: %d}\n", CabinetMaxReadings, CabinetMaxAge, o.RingCapacity)
	fmt.Fprintf(&y, "spool: {dir: %q, segment_size: 64KiB, quota: 4MiB}\nlocal_api: {socket: \"off\"}\nclock: {trust: always}\n", spool)
	cfg, err := config.Parse([]byte(y.String()), boards.Check)
	if err != nil {
		return nil, fmt.Errorf("fleet: %s configuration: %w", id, err)
	}
	return cfg, nil
}

// Reconnect returns cloud.reconnect's min, spread and max as the fleet's gateways get them: o's where
// set, else the configuration's defaults (what a gateway's own configuration makes of them).
func Reconnect(o Options) (minimum, spread, maximum time.Duration, err error) {
	pub, _, err := command.GenerateKey()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("fleet: %w", err)
	}
	o.RingCapacity = max(o.RingCapacity, 1024)
	sensors := fmt.Sprintf("  - {name: syn, driver: synthetic, bus: sim, interval: %s}\n", SyntheticInterval)
	cfg, err := memberConfig(o, 0, "tcp://127.0.0.1:1883", filepath.Join(os.TempDir(), "wayside-fleet-defaults"), sensors, pub)
	if err != nil {
		return 0, 0, 0, err
	}
	r := cfg.Cloud.Reconnect
	return r.Min.D(), r.Spread.D(), r.Max.D(), nil
}

// open makes gateway i: its configuration (memberConfig) and gateway.New.
func (m *member) open(o Options, i int, url, dir string, sensors string, cityPub ed25519.PublicKey) error {
	cfg, err := memberConfig(o, i, url, filepath.Join(dir, m.id), sensors, cityPub)
	if err != nil {
		return err
	}
	m.g, err = gateway.New(gateway.Options{Config: cfg, Version: "fleet", Log: o.GatewayLog.With(zap.String("gw", m.id)),
		DrainTimeout: 10 * time.Second, Poll: o.Poll, OnBatch: func(seq uint64, readings, _ int) {
			m.batches.Add(1)
			m.readings.Add(uint64(readings))
			m.mu.Lock()
			m.seqs = append(m.seqs, seq)
			m.mu.Unlock()
		}})
	if err != nil {
		return fmt.Errorf("fleet: open %s: %w", m.id, err)
	}
	return nil
}

// cabinetSensors is the sensors section of the cabinet: benchsuite.Cabinet's sensors as
// configs/sim.yaml configures them (bus, address, pins, options), each sampled once a second.
func cabinetSensors() (string, error) {
	path, err := repoFile("configs/sim.yaml")
	if err != nil {
		return "", err
	}
	all, err := e2e.SensorsOf(path, benchsuite.CabinetInterval)
	if err != nil {
		return "", fmt.Errorf("fleet: %w", err)
	}
	var b strings.Builder
	for _, c := range benchsuite.Cabinet {
		found := false
		for _, s := range all {
			if s.Name != c.Name {
				continue
			}
			found = true
			b.WriteString(s.YAML())
		}
		if !found {
			return "", fmt.Errorf("fleet: cabinet sensor %s is not in %s", c.Name, path)
		}
	}
	return b.String(), nil
}

// repoFile finds path under the module root, walking up from the working directory.
func repoFile(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("fleet: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, path), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("fleet: no go.mod above the working directory to find %s", path)
		}
		dir = parent
	}
}

// writeKeys writes the gateways' public keys for an ingest (Options.KeysFile), atomically.
func writeKeys(path string, ks []gatewayKey) error {
	type key struct {
		PublicKey string `json:"public_key"`
		KeyID     string `json:"kid"`
	}
	all := make(map[string]key, len(ks))
	for _, k := range ks {
		all[k.ID] = key{PublicKey: k.PublicKey, KeyID: k.KeyID}
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("fleet: keys: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("fleet: keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fleet: keys: %w", err)
	}
	return nil
}

func nonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
