package ingest

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
)

// TestThroughput measures readings per second into PostgreSQL with two instances sharing the
// subscription, from the first publish to the last commit. The batches are made and signed before
// the clock starts (a fleet's signing is not the ingest's cost). WAYSIDE_INGEST_READINGS sets the
// total (default 40,000, kept small for -race; the figure in docs/ingest.md is from a larger run
// without -race). It asserts only that everything arrives; the rate is logged.
func TestThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	total := 40000
	if v, err := strconv.Atoi(os.Getenv("WAYSIDE_INGEST_READINGS")); err == nil && v > 0 {
		total = v
	}
	const perBatch, nGateways = 100, 20
	nBatches := total / perBatch / nGateways
	pg := testpg.Start(t)
	broker := testbroker.Start(t, "max_queued_messages 0", "max_inflight_messages 100")

	// Gateways and their batches, registered in a keys file.
	var keys strings.Builder
	gws := make([]*testgw.Gateway, nGateways)
	payloads := make([][][]byte, nGateways)
	for i := range gws {
		gws[i] = testgw.New(t, fmt.Sprintf("tp-%03d", i), nil)
		fmt.Fprintf(&keys, "%s %s\n", gws[i].ID, base64.StdEncoding.EncodeToString(gws[i].Pub))
		for seq := 1; seq <= nBatches; seq++ {
			payloads[i] = append(payloads[i], gws[i].Batch(t, uint64(seq), perBatch))
		}
	}
	keysFile := filepath.Join(t.TempDir(), "gateways")
	os.WriteFile(keysFile, []byte(keys.String()), 0o600)

	cfg := Config{MQTT: MQTTConfig{Broker: broker.URL, ClientID: "tp-a"}, Postgres: PostgresConfig{DSN: pg.DSN},
		Keys: KeysConfig{GatewaysFile: keysFile}, Workers: 4}
	a := startIngest(t, cfg, newLog(t).Named("A"), nil)
	cfg.MQTT.ClientID = "tp-b"
	b := startIngest(t, cfg, newLog(t).Named("B"), nil)

	start := time.Now()
	var wg sync.WaitGroup
	for i, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Connect(t, broker.URL)
			toks := make([]mqtt.Token, 0, len(payloads[i]))
			for _, p := range payloads[i] {
				toks = append(toks, g.C.Publish("wayside/v1/"+g.ID+"/telemetry", 1, false, p))
			}
			for _, tok := range toks {
				if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
					t.Errorf("publish: %v", tok.Error())
					return
				}
			}
		}()
	}
	want := int64(nGateways * nBatches * perBatch)
	waitFor(t, 80*time.Second, "every reading written", func() (bool, string) {
		n := a.in.Stats().Readings + b.in.Stats().Readings
		return n >= want, fmt.Sprintf("%d of %d readings", n, want)
	})
	took := time.Since(start)
	wg.Wait()
	pool, err := pgxpool.New(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n := count(t, pool, `SELECT count(*) FROM wayside_readings`); n != want {
		t.Fatalf("%d readings in the database, %d published", n, want)
	}
	t.Logf("%d readings in %d batches of %d from %d gateways, two instances of 4 workers: %v, %.0f readings/s (A %d batches, B %d)",
		want, nGateways*nBatches, perBatch, nGateways, took.Round(time.Millisecond), float64(want)/took.Seconds(),
		a.in.Stats().Batches, b.in.Stats().Batches)
}
