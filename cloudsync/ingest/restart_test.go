package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
)

// TestBrokerRestart: two instances on a mosquitto with persistence, which is restarted between two
// rounds of batches (as a city restarts its broker); the second round must be written too. Found by
// the fleet bench: mosquitto 2.0.11 restores the instances' persistent sessions with their $share
// subscription and then delivers nothing to it, so an ingest that relied on its session stayed
// connected and wrote nothing more. The ingest now subscribes again on every reconnection.
//
//   - shared: the instances share the subscription; the second round is published once both have
//     subscribed again (what the group is sent before that, mosquitto 2.0.11 loses: docs/mqtt.md).
//   - plain (mqtt.shared false): each instance receives everything and the database de-duplicates; the
//     second round is published at once, before the instances are back, and their restored sessions
//     must hold it.
func TestBrokerRestart(t *testing.T) {
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "shared", false: "plain"}[shared]
		t.Run(name, func(t *testing.T) { brokerRestart(t, shared) })
	}
}

func brokerRestart(t *testing.T, shared bool) {
	broker := testbroker.Start(t, testbroker.Persistent(t.TempDir()))
	pg, pool := migratedDB(t)
	ctx := t.Context()
	const nGateways, perRound = 3, 10
	gws := make([]*testgw.Gateway, nGateways)
	for i := range gws {
		gws[i] = testgw.New(t, fmt.Sprintf("rs-%02d", i+1), nil)
		if _, err := pool.Exec(ctx, `INSERT INTO wayside_gateway_keys (gateway, public_key) VALUES ($1, $2)`, gws[i].ID, []byte(gws[i].Pub)); err != nil {
			t.Fatal(err)
		}
		gws[i].Connect(t, broker.URL)
	}
	cfg := Config{MQTT: MQTTConfig{Broker: broker.URL, ClientID: "restart-a", Shared: &shared}, Postgres: PostgresConfig{DSN: pg.DSN}, Workers: 2}
	log := newLog(t)
	a := startIngest(t, cfg, log.Named("A"), nil)
	cfg.MQTT.ClientID = "restart-b"
	b := startIngest(t, cfg, log.Named("B"), nil)

	publish := func(from uint64) {
		for _, g := range gws {
			for seq := from; seq < from+perRound; seq++ {
				g.Publish(t, "telemetry", g.Batch(t, seq, 10), false)
			}
		}
	}
	written := func(want int64) func() (bool, string) {
		return func() (bool, string) {
			n := count(t, pool, `SELECT count(*) FROM wayside_batches`)
			return n == want, fmt.Sprintf("%d of %d batches", n, want)
		}
	}
	publish(1)
	waitFor(t, 20*time.Second, "the first round written", written(nGateways*perRound))

	broker.StopGraceful() // SIGTERM: mosquitto saves its sessions and subscriptions
	broker.Restart()
	for _, g := range gws {
		g.Connect(t, broker.URL)
	}
	if shared {
		waitFor(t, 30*time.Second, "both instances subscribed again", func() (bool, string) {
			ra, rb := a.in.resubscribed.Load(), b.in.resubscribed.Load()
			return ra >= 1 && rb >= 1, fmt.Sprintf("A %d, B %d renewals", ra, rb)
		})
	}
	publish(1 + perRound)
	waitFor(t, 30*time.Second, "the second round written after the broker's restart", written(2*nGateways*perRound))
	sa, sb := a.in.Stats(), b.in.Stats()
	if sa.Batches == 0 || sb.Batches == 0 || sa.Batches+sb.Batches != 2*nGateways*perRound {
		t.Errorf("instances wrote %d and %d batches, want both some and %d in all", sa.Batches, sb.Batches, 2*nGateways*perRound)
	}
	if !shared { // each received every batch: what one wrote, the other found written (or more, redelivered)
		waitFor(t, 10*time.Second, "every batch seen by both", func() (bool, string) {
			sa, sb := a.in.Stats(), b.in.Stats()
			n := sa.Batches + sa.Duplicates + sb.Batches + sb.Duplicates
			return n >= 2*2*nGateways*perRound, fmt.Sprintf("%d of at least %d deliveries processed", n, 4*nGateways*perRound)
		})
	}
}
