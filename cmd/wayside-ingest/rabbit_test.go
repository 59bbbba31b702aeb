package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
	"github.com/wayside-iot/wayside/internal/testkit/testrabbit"
)

// TestRabbitMQCluster runs the contract's data path on a 3-node RabbitMQ cluster (Debian's 3.10 with
// its MQTT plugin): three gateways on three different nodes, each with a persistent session and a last
// will, publish to one ingest process (mqtt.shared: false, RabbitMQ has no shared subscriptions) on the
// first node; the ingest is SIGKILLed mid-stream and restarted with its client id. Every reading must be
// in PostgreSQL exactly once, a live status must reach the status table, and so must the last will of
// a gateway whose connection drops, published by a node other than the ingest's.
func TestRabbitMQCluster(t *testing.T) {
	testrabbit.Available(t)
	pg := testpg.Start(t)
	rc := testrabbit.Start(t, 3)
	dir := t.TempDir()
	gws := []*testgw.Gateway{testgw.New(t, "cab-1", nil), testgw.New(t, "cab-2", nil), testgw.New(t, "cab-3", nil)}
	var keys strings.Builder
	for i, g := range gws {
		fmt.Fprintf(&keys, "%s %s\n", g.ID, base64.StdEncoding.EncodeToString(g.Pub))
		g.Connect(t, rc.Nodes[i].MQTTURL)
	}
	os.WriteFile(filepath.Join(dir, "gateways"), []byte(keys.String()), 0o600)
	conf := filepath.Join(dir, "ingest.yaml")
	os.WriteFile(conf, fmt.Appendf(nil, "mqtt:\n  broker: %s\n  shared: false\npostgres:\n  dsn: %s\nkeys:\n  gateways_file: %s\nworkers: 2\n",
		rc.Nodes[0].MQTTURL, pg.DSN, filepath.Join(dir, "gateways")), 0o600)
	a, _ := startProcess(t, "-config", conf, "-client-id", "ingest-r", "-log-format", "json")

	ctx := context.Background()
	pool, count := counter(t, ctx, pg.DSN)
	defer pool.Close()
	const nBatches = 60
	want := len(gws) * nBatches
	wg := publishAll(t, gws, nBatches, 5*time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for count(`SELECT count(*) FROM wayside_batches`) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	killMidStream(t, a, count, want)
	startProcess(t, "-config", conf, "-client-id", "ingest-r", "-log-format", "json")
	wg.Wait()
	gws[0].Publish(t, "telemetry", gws[0].Signed[7], false) // republished
	time.Sleep(500 * time.Millisecond)                      // the status subscription (a second client) is in place
	gws[1].Publish(t, "status", gws[1].Status("online"), true)
	gws[2].Conn.Close() // cab-3's node publishes its last will

	deadline = time.Now().Add(40 * time.Second)
	for count(`SELECT count(*) FROM wayside_batches`) < want || count(`SELECT count(*) FROM wayside_status`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("within 40s: %d of %d batches, %d of 2 statuses", count(`SELECT count(*) FROM wayside_batches`), want, count(`SELECT count(*) FROM wayside_status`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	checkReadings(t, gws, count, want)
	if n := count(`SELECT count(*) FROM wayside_status WHERE gateway = 'cab-2' AND state = 'online'`); n != 1 {
		t.Errorf("cab-2's live status is not in the table")
	}
	if n := count(`SELECT count(*) FROM wayside_status WHERE gateway = 'cab-3' AND state = 'offline' AND clean IS NULL`); n != 1 {
		t.Errorf("cab-3's last will, published by node 3, is not in the table")
	}
}
