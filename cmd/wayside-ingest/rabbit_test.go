package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	pg, _, gws, conf := rabbitCluster(t, "  shared: false\n")
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

// TestRabbitMQClusterAMQP runs the ingest the AMQP way on a 3-node RabbitMQ cluster: three gateways
// publish over MQTT to three different nodes; two ingest processes consume one quorum queue over
// AMQP from two different nodes (amqp.url), and both write a share. One is frozen (SIGSTOP) while the
// gateways publish, so that it holds deliveries unacknowledged, then SIGKILLed and restarted: the
// broker hands those deliveries to the others again (they arrive marked redelivered), and every
// reading is in PostgreSQL exactly once. Statuses still come over MQTT. Then the node holding the
// quorum queue's leader is killed, and what the gateways on the two other nodes publish is written.
func TestRabbitMQClusterAMQP(t *testing.T) {
	pg, rc, gws, conf := rabbitCluster(t, "")
	args := func(id string, node int) []string {
		return []string{"-config", conf, "-client-id", id, "-amqp", rc.Nodes[node].AMQPURL, "-amqp-queue", "city-telemetry",
			"-log-format", "json", "-log-level", "debug"}
	}
	a, aLog := startProcess(t, args("ingest-a", 0)...)
	_, bLog := startProcess(t, args("ingest-b", 1)...)

	ctx := context.Background()
	pool, count := counter(t, ctx, pg.DSN)
	defer pool.Close()
	const nBatches = 200
	want := len(gws) * nBatches
	wg := publishAll(t, gws, nBatches, 5*time.Millisecond)
	published := make(chan struct{})
	go func() { wg.Wait(); close(published) }()
	const written = `"msg":"batch written"`
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(aLog.String(), written) || !strings.Contains(bLog.String(), written) {
		if time.Now().After(deadline) {
			t.Fatalf("within 20s, not both instances wrote a batch:\nA:\n%s\nB:\n%s", aLog, bLog)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Frozen, A stops acknowledging while the broker keeps sending it up to its prefetch.
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-published:
		t.Fatal("the gateways stopped publishing before the frozen instance was killed: it may hold nothing; raise nBatches")
	default:
	}
	killMidStream(t, a, count, want)
	_, a2Log := startProcess(t, args("ingest-a", 0)...)
	wg.Wait()

	// The status lock passes from the killed instance to another within 5 s, whose subscription gets no
	// retained status from RabbitMQ: cab-2 publishes its status every second, as gateways do every
	// cloud.status_interval.
	deadline = time.Now().Add(40 * time.Second)
	for i := 0; count(`SELECT count(*) FROM wayside_batches`) < want || count(`SELECT count(*) FROM wayside_status`) < 1; i++ {
		if i%20 == 0 {
			gws[1].Publish(t, "status", gws[1].Status("online"), true)
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 40s: %d of %d batches, %d of 1 status", count(`SELECT count(*) FROM wayside_batches`), want, count(`SELECT count(*) FROM wayside_status`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // redeliveries still on their way come last
	checkReadings(t, gws, count, want)
	if n := count(`SELECT count(*) FROM wayside_status WHERE gateway = 'cab-2' AND state = 'online'`); n != 1 {
		t.Errorf("cab-2's live status is not in the table")
	}
	// The shares, from each process's debug log (not sampled at debug): a batch is logged as written by
	// the instance whose insert was new. Together they logged every batch once, less those A committed
	// and had not logged when it froze (at most one transaction per worker, 2 × 16).
	nA := strings.Count(aLog.String(), written) + strings.Count(a2Log.String(), written)
	nB := strings.Count(bLog.String(), written)
	t.Logf("batches written: A %d (of which after its restart %d), B %d, of %d", nA, strings.Count(a2Log.String(), written), nB, want)
	if nA == 0 || nB == 0 || nA+nB > want || nA+nB < want-2*16 {
		t.Errorf("batches written: A %d, B %d: want both above 0, and together %d (less up to 32 of A's unlogged)", nA, nB, want)
	}
	redelivered := strings.Count(bLog.String(), `"redelivered":true`) + strings.Count(a2Log.String(), `"redelivered":true`)
	t.Logf("batches redelivered after the kill: %d", redelivered)
	if redelivered == 0 {
		t.Error("no batch came back redelivered: the killed instance held no unacknowledged delivery, the test did not test the kill")
	}

	// The node holding the queue's Raft leader dies (SIGKILL): the two others elect a leader, the
	// gateways on them go on publishing, and the instance on a surviving node writes it all.
	out, err := rc.Nodes[1].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "leader")
	leader := -1
	for i, nd := range rc.Nodes {
		if err == nil && strings.Contains(out, "city-telemetry\t"+nd.Name) {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatalf("no leader of city-telemetry in rabbitmqctl list_queues: %v: %q", err, out)
	}
	killed := time.Now()
	rc.Nodes[leader].Kill()
	var on []*testgw.Gateway
	for i, g := range gws {
		if i != leader {
			on = append(on, g)
		}
	}
	const nMore = 50
	publishRange(t, on, nBatches+1, nBatches+nMore, 5*time.Millisecond).Wait()
	want += len(on) * nMore
	deadline = time.Now().Add(40 * time.Second)
	for count(`SELECT count(*) FROM wayside_batches`) < want {
		if time.Now().After(deadline) {
			t.Fatalf("node %d (the queue's leader) killed: within 40s %d of %d batches", leader+1, count(`SELECT count(*) FROM wayside_batches`), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	checkReadings(t, gws, count, want)
	t.Logf("node %d, the queue's leader, killed: %d batches more written within %v", leader+1, len(on)*nMore, time.Since(killed).Round(100*time.Millisecond))
}

// rabbitCluster starts PostgreSQL and a 3-node RabbitMQ cluster, connects gateways cab-1..3 to nodes
// 1..3 over MQTT, registers their keys in a file, and writes an ingest configuration reading from node
// 1 (mqttExtra goes under mqtt:); it returns that configuration's path.
func rabbitCluster(t *testing.T, mqttExtra string) (*testpg.Server, *testrabbit.Cluster, []*testgw.Gateway, string) {
	t.Helper()
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
	os.WriteFile(conf, fmt.Appendf(nil, "mqtt:\n  broker: %s\n%spostgres:\n  dsn: %s\nkeys:\n  gateways_file: %s\nworkers: 2\n",
		rc.Nodes[0].MQTTURL, mqttExtra, pg.DSN, filepath.Join(dir, "gateways")), 0o600)
	return pg, rc, gws, conf
}
