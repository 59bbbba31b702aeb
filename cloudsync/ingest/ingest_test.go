package ingest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
)

// TestExactlyOnce is the ingest's end-to-end test: five gateways (two sealing) publish batches through
// a real mosquitto to two ingest instances sharing the subscription, which write into a real
// PostgreSQL. One instance is killed mid-stream after committing batches it has not acknowledged,
// then restarted with its session; batches are republished; bad input arrives. Every reading must be in
// the database exactly once, counted per (gateway, seq) against a plain CBOR decoding of what was
// published, and every bad message must be in quarantine.
func TestExactlyOnce(t *testing.T) {
	statusRetry = 200 * time.Millisecond
	broker := testbroker.Start(t, "max_queued_messages 0", "max_inflight_messages 50")
	ctx := context.Background()
	pg, pool := migratedDB(t)
	cityFile, sealer := testgw.CityKey(t, t.TempDir())

	const nGateways, nBatches = 5, 60
	gws := make([]*testgw.Gateway, nGateways)
	for i := range gws {
		var s = sealer
		if i < 3 {
			s = nil
		}
		gws[i] = testgw.New(t, fmt.Sprintf("gw-%02d", i+1), s)
		gws[i].Untrusted[5] = true
		if _, err := pool.Exec(ctx, `INSERT INTO wayside_gateway_keys (gateway, public_key) VALUES ($1, $2)`, gws[i].ID, []byte(gws[i].Pub)); err != nil {
			t.Fatal(err)
		}
		gws[i].Connect(t, broker.URL)
		gws[i].Publish(t, "status", gws[i].Status("online"), true) // retained before any ingest runs
	}

	cfg := Config{MQTT: MQTTConfig{Broker: broker.URL, ClientID: "ingest-a"}, Postgres: PostgresConfig{DSN: pg.DSN},
		Keys: KeysConfig{CityKeyFiles: []string{cityFile}}, Workers: 2}
	log := newLog(t)

	// Instance A: after its 15th batch it stops acknowledging (a crash between commit and ack) and is
	// killed.
	var commitsA atomic.Int64
	var killOnce sync.Once
	var a *instance
	a = startIngest(t, cfg, log.Named("A"), func(in *Ingest) {
		in.afterCommit = func(string, uint64) bool {
			if commitsA.Add(1) < 15 {
				return true
			}
			// A crash: the connections drop, the transactions in progress roll back.
			killOnce.Do(func() { go func() { a.ks.kill(); a.in.abortWork(); a.cancel() }() })
			return false
		}
	})
	cfgB := cfg
	cfgB.MQTT.ClientID = "ingest-b"
	b := startIngest(t, cfgB, log.Named("B"), nil)

	// Publish: each gateway its batches, 1 to 100 readings each, all gateways at once.
	var wg sync.WaitGroup
	for _, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); seq <= nBatches; seq++ {
				g.Publish(t, "telemetry", g.Batch(t, seq, 1+int(seq*37%100)), false)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	<-a.done // killed mid-stream
	a.done <- nil
	if commitsA.Load() < 15 {
		t.Fatalf("instance A committed %d batches before the end of the stream; the kill did not happen mid-stream", commitsA.Load())
	}
	unacked := commitsA.Load() - 14
	t.Logf("instance A killed after %d commits, %d of them not acknowledged", commitsA.Load(), unacked)

	// The last will: gw-05's connection drops, the broker publishes its offline status.
	gws[4].Conn.Close()

	// A restarts with its client id: its session still holds what it had not acknowledged.
	a2 := startIngest(t, cfg, log.Named("A2"), nil)

	// Republish: the same bytes, and for a sealing gateway the same signed batch sealed again.
	for _, g := range gws[:2] {
		g.Publish(t, "telemetry", g.Signed[7], false)
	}
	gws[3].Publish(t, "telemetry", gws[3].Wire(t, gws[3].Signed[9]), false)
	republished := 3

	// Bad input, on a client of its own.
	bad := testbroker.NewClient(t, testbroker.ClientOptions("city-tester", broker.URL, "", ""))
	if err := bad.Connect(); err != nil {
		t.Fatal(err)
	}
	tamper := append([]byte(nil), gws[0].Signed[3]...)
	tamper[len(tamper)-1] ^= 1
	stranger := testgw.New(t, "gw-01", nil)
	foreign := testgw.New(t, "gw-99", nil)
	badInput := map[string][]byte{
		ReasonUndecodable:    []byte("garbage, not CBOR"),
		ReasonUnknownGateway: foreign.Batch(t, 1, 5),
		ReasonWrongGateway:   gws[0].Signed[4], // gw-01's batch on gw-02's topic
		ReasonSignature:      tamper,
		ReasonUnknownKey:     stranger.Batch(t, 1, 5), // claims gw-01's topic, signed by an unregistered key
	}
	topics := map[string]string{ReasonUnknownGateway: "gw-99", ReasonWrongGateway: "gw-02"}
	for reason, payload := range badInput {
		gw := topics[reason]
		if gw == "" {
			gw = "gw-01"
		}
		testgw.Publish(t, bad.C, "wayside/v1/"+gw+"/telemetry", payload, false)
	}
	testgw.Publish(t, bad.C, "wayside/v1/gw-01/status", []byte("{not json"), false)

	// Expected, from the published bytes decoded independently.
	type key struct {
		gw  string
		seq int64
	}
	want := map[key]int{}
	wantSum := map[string]float64{}
	total := 0
	for _, g := range gws {
		for seq, signed := range g.Signed {
			n, sum := testgw.PlainReadings(t, signed)
			want[key{g.ID, int64(seq)}] = n
			wantSum[g.ID] += sum
			total += n
		}
	}
	onTimeout = func() {
		rows, _ := pool.Query(ctx, `SELECT gateway, seq FROM wayside_batches`)
		have := map[key]bool{}
		for rows.Next() {
			var k key
			rows.Scan(&k.gw, &k.seq)
			have[k] = true
		}
		rows.Close()
		for k := range want {
			if !have[k] {
				t.Logf("missing: %s seq %d", k.gw, k.seq)
			}
		}
	}
	defer func() { onTimeout = nil }()
	waitFor(t, 40*time.Second, "every batch written and every bad message quarantined", func() (bool, string) {
		nb := count(t, pool, `SELECT count(*) FROM wayside_batches`)
		nq := count(t, pool, `SELECT count(*) FROM wayside_quarantine`)
		return nb == nGateways*nBatches && nq == int64(len(badInput)+1), fmt.Sprintf("%d of %d batches, %d of %d quarantined", nb, nGateways*nBatches, nq, len(badInput)+1)
	})
	// Redeliveries and republished batches are processed after the data they repeat: wait for them to be
	// counted (each ends as a duplicate), then check nothing doubled.
	waitFor(t, 20*time.Second, "redelivered and republished batches seen as duplicates", func() (bool, string) {
		d := a2.in.Stats().Duplicates + b.in.Stats().Duplicates
		return d >= unacked+int64(republished), fmt.Sprintf("%d duplicates, want at least %d (%d unacknowledged by the killed instance, %d republished)", d, unacked+int64(republished), unacked, republished)
	})

	rows, err := pool.Query(ctx, `SELECT gateway, seq, count(*) FROM wayside_readings GROUP BY gateway, boot_id, seq`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[key]int{}
	for rows.Next() {
		var k key
		var n int
		if err := rows.Scan(&k.gw, &k.seq, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s seq %d: %d readings in the database, %d in the batch published", k.gw, k.seq, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d batches in wayside_readings, %d published", len(got), len(want))
	}
	if n := count(t, pool, `SELECT count(*) FROM wayside_readings`); n != int64(total) {
		t.Errorf("%d readings in the database, %d published", n, total)
	}
	sums, _ := pool.Query(ctx, `SELECT gateway, sum(value) FROM wayside_readings GROUP BY gateway`)
	for sums.Next() {
		var gw string
		var s float64
		sums.Scan(&gw, &s)
		if math.Abs(s-wantSum[gw]) > 1e-6*math.Abs(wantSum[gw]) {
			t.Errorf("%s: sum of values %.6f in the database, %.6f published", gw, s, wantSum[gw])
		}
	}
	sums.Close()

	// Untrusted times (wf 1) are stored as the arrival time, the flag kept.
	if n := count(t, pool, `SELECT count(*) FROM wayside_readings WHERE seq = 5 AND (flags <> 1 OR t < now() - interval '1 hour')`); n != 0 {
		t.Errorf("%d readings of the batches stamped from an untrusted clock keep that time or lost their flag", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM wayside_readings WHERE seq <> 5 AND (flags <> 0 OR t < now() - interval '1 hour')`); n != 0 {
		t.Errorf("%d readings with a trusted time are flagged or not at their time", n)
	}

	// Quarantine: one row per bad message, with its reason.
	for reason := range badInput {
		if n := count(t, pool, `SELECT count(*) FROM wayside_quarantine WHERE reason = $1`, reason); n != 1 {
			t.Errorf("quarantine: %d rows with reason %s, want 1", n, reason)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM wayside_quarantine WHERE reason = $1`, ReasonBadStatus); n != 1 {
		t.Errorf("quarantine: %d rows with reason %s, want 1", n, ReasonBadStatus)
	}

	// Statuses: the retained ones, and gw-05's last will (written by whichever instance holds the lock).
	waitFor(t, 10*time.Second, "statuses", func() (bool, string) {
		on := count(t, pool, `SELECT count(*) FROM wayside_status WHERE state = 'online'`)
		off := count(t, pool, `SELECT count(*) FROM wayside_status WHERE state = 'offline' AND gateway = 'gw-05' AND clean IS NULL`)
		return on == nGateways-1 && off == 1, fmt.Sprintf("%d online (want %d), gw-05 offline by its will: %v", on, nGateways-1, off == 1)
	})

	sa, sb := a2.in.Stats(), b.in.Stats()
	t.Logf("A before the kill: %d commits; A restarted: %+v; B: %+v", commitsA.Load(), sa, sb)
	if commitsA.Load() == 0 || sb.Batches == 0 {
		t.Errorf("the load was not shared: A committed %d batches, B %d", commitsA.Load(), sb.Batches)
	}
}

var _ mqtt.Client
