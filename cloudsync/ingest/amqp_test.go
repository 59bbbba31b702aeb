package ingest

// The AMQP source (amqp.url) against a real RabbitMQ node (Debian's 3.10 with its MQTT plugin) and a
// real PostgreSQL: the gateways publish over MQTT, the ingest consumes the plugin's messages from a
// quorum queue.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
	"github.com/wayside-iot/wayside/internal/testkit/testrabbit"
)

// queueState returns what rabbitmqctl says of queue: its type, durability, and its messages ready
// and unacknowledged, as "quorum true 0 0"; "" while the queue does not exist.
func queueState(t *testing.T, nd *testrabbit.Node, queue string) string {
	out, err := nd.Ctl("list_queues", "--quiet", "--no-table-headers", "name", "type", "durable", "messages_ready", "messages_unacknowledged")
	if err != nil {
		t.Fatalf("rabbitmqctl list_queues: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == queue {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

// amqpIngest is one test's database, gateway and logs, with an ingest config on queue.
type amqpIngest struct {
	cfg  Config
	pool *pgxpool.Pool
	g    *testgw.Gateway
	logs *observer.ObservedLogs
	log  *zap.Logger
}

func newAMQPIngest(t *testing.T, nd *testrabbit.Node, gw, queue string) *amqpIngest {
	pg := testpg.Start(t)
	pool, err := pgxpool.New(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	core, logs := observer.New(zap.InfoLevel)
	g := testgw.New(t, gw, nil)
	cfg := Config{MQTT: MQTTConfig{Broker: nd.MQTTURL, ClientID: "ingest-" + queue}, AMQP: AMQPConfig{URL: nd.AMQPURL, Queue: queue},
		Postgres: PostgresConfig{DSN: pg.DSN}, Keys: KeysConfig{GatewaysFile: gatewaysFile(t, g)}, Workers: 2}
	return &amqpIngest{cfg: cfg, pool: pool, g: g, logs: logs, log: zap.New(zapcore.NewTee(core, newLog(t).Core()))}
}

// publish has the gateway publish batches from..to over MQTT.
func (a *amqpIngest) publish(t *testing.T, from, to uint64) {
	for seq := from; seq <= to; seq++ {
		a.g.Publish(t, "telemetry", a.g.Batch(t, seq, int(seq%7)+1), false)
	}
}

// written waits until n of the gateway's batches are in the database, each with its readings.
func (a *amqpIngest) written(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d batches of %s", n, a.g.ID), func() (bool, string) {
		got := count(t, a.pool, `SELECT count(*) FROM wayside_batches WHERE gateway = $1`, a.g.ID)
		return got == int64(n), fmt.Sprintf("%d batches", got)
	})
	for seq, signed := range a.g.Signed {
		want, _ := testgw.PlainReadings(t, signed)
		if got := count(t, a.pool, `SELECT count(*) FROM wayside_readings WHERE gateway = $1 AND seq = $2`, a.g.ID, int64(seq)); got != int64(want) {
			t.Errorf("%s seq %d: %d readings in the database, %d published", a.g.ID, seq, got, want)
		}
	}
}

func TestAMQPSource(t *testing.T) {
	testrabbit.Available(t)
	silentAfter, connectBackoff, connectBackoffMax = 300*time.Millisecond, 100*time.Millisecond, 400*time.Millisecond
	t.Cleanup(func() { silentAfter, connectBackoff, connectBackoffMax = 5*time.Minute, time.Second, 10*time.Second })
	nd := testrabbit.Start(t, 1).Nodes[0]

	// A gateway id with a '.' (a word separator in the plugin's routing key), a quarantined batch, the
	// silence watcher's hint, and every delivery acknowledged once written.
	t.Run("consume", func(t *testing.T) {
		a := newAMQPIngest(t, nd, "cab.7", "q-consume")
		startIngest(t, a.cfg, a.log, nil)
		waitFor(t, 5*time.Second, "a warning about silence", func() (bool, string) {
			return a.logs.FilterMessage("no telemetry").Len() == 1, fmt.Sprint(a.logs.All())
		})
		if e := a.logs.FilterMessage("no telemetry").All()[0]; !containsField(e, "hint", "routing keys wayside.v1.#.telemetry") || !containsField(e, "queue", "q-consume") {
			t.Errorf("the warning does not name the queue and the routing key: %v", e.Context)
		}
		waitFor(t, 15*time.Second, "a durable quorum queue, empty", func() (bool, string) {
			s := queueState(t, nd, "q-consume")
			return s == "quorum true 0 0", s
		})
		stranger := testgw.New(t, "gw-x", nil)
		a.g.Connect(t, nd.MQTTURL)
		stranger.Connect(t, nd.MQTTURL)
		a.publish(t, 1, 5)
		stranger.Publish(t, "telemetry", stranger.Batch(t, 1, 2), false)
		a.written(t, 5)
		waitFor(t, 10*time.Second, "the stranger's batch in quarantine", func() (bool, string) {
			n := count(t, a.pool, `SELECT count(*) FROM wayside_quarantine WHERE topic = 'wayside/v1/gw-x/telemetry' AND gateway = 'gw-x' AND reason = $1`, ReasonUnknownGateway)
			return n == 1, fmt.Sprint(n, " quarantined")
		})
		waitFor(t, 5*time.Second, "telemetry flowing again", func() (bool, string) {
			return a.logs.FilterMessage("telemetry flowing again").Len() >= 1, fmt.Sprint(a.logs.All())
		})
		waitFor(t, 20*time.Second, "every delivery acknowledged", func() (bool, string) {
			s := queueState(t, nd, "q-consume")
			return s == "quorum true 0 0", s
		})
	})

	// Written but never acknowledged: the deliveries go back to the queue when the instance stops, and
	// the next instance finds them in the database.
	t.Run("unacknowledged", func(t *testing.T) {
		a := newAMQPIngest(t, nd, "gw-u", "q-unacked")
		first := startIngest(t, a.cfg, a.log, func(in *Ingest) { in.afterCommit = func(string, uint64) bool { return false } })
		a.g.Connect(t, nd.MQTTURL)
		a.publish(t, 1, 4)
		a.written(t, 4)
		// The broker's queue figures lag (statistics every 5 s).
		waitFor(t, 15*time.Second, "4 unacknowledged while the first instance holds them", func() (bool, string) {
			s := queueState(t, nd, "q-unacked")
			return s == "quorum true 0 4", s
		})
		first.stop()
		waitFor(t, 10*time.Second, "the batches back in the queue", func() (bool, string) {
			s := queueState(t, nd, "q-unacked")
			return s == "quorum true 4 0", s
		})
		second := startIngest(t, a.cfg, a.log, nil)
		waitFor(t, 10*time.Second, "4 duplicates", func() (bool, string) {
			s := second.in.Stats()
			return s.Duplicates == 4, fmt.Sprintf("%+v", s)
		})
		a.written(t, 4)
		waitFor(t, 20*time.Second, "every delivery acknowledged", func() (bool, string) {
			s := queueState(t, nd, "q-unacked")
			return s == "quorum true 0 0", s
		})
	})

	// The network drops: the ingest says so once, reconnects with backoff, consumes again, and the
	// batches the queue kept meanwhile arrive.
	t.Run("reconnect", func(t *testing.T) {
		a := newAMQPIngest(t, nd, "gw-r", "q-reconnect")
		inst := startIngest(t, a.cfg, a.log, nil)
		a.g.Connect(t, nd.MQTTURL)
		a.publish(t, 1, 3)
		a.written(t, 3)
		inst.ks.kill()
		a.publish(t, 4, 8)
		time.Sleep(time.Second) // attempts at 0.1, 0.3, 0.7 s fail
		inst.ks.revive()
		a.written(t, 8)
		waitFor(t, 5*time.Second, "reconnected", func() (bool, string) {
			return a.logs.FilterMessage("amqp reconnected, consuming").Len() == 1, fmt.Sprint(a.logs.All())
		})
		for msg, want := range map[string]int{
			"amqp connection lost, reconnecting; its unacknowledged deliveries go back to the queue": 1,
			"cannot reconnect to the AMQP broker yet, retrying every 1 s to 10 s":                    1,
		} {
			if n := a.logs.FilterMessage(msg).Len(); n != want {
				t.Errorf("%q logged %d times in one outage, want %d", msg, n, want)
			}
		}
		if e := a.logs.FilterMessage("amqp reconnected, consuming").All()[0]; e.ContextMap()["attempts"].(int64) < 3 {
			t.Errorf("reconnected after %v attempts, want at least 3 (the network was down 1 s)", e.ContextMap()["attempts"])
		}
	})

	// A broker that does not answer yet is retried, each attempt logged, the URL's password never.
	t.Run("first connection", func(t *testing.T) {
		a := newAMQPIngest(t, nd, "gw-f", "q-first")
		var down atomic.Bool
		down.Store(true)
		inst := launchIngest(t, a.cfg, a.log, func(in *Ingest) {
			dial := in.dial
			in.dial = func(network, addr string) (net.Conn, error) {
				if down.Load() {
					return nil, errors.New("connection refused (test)")
				}
				return dial(network, addr)
			}
		})
		const msg = "cannot connect to the AMQP broker, retrying"
		waitFor(t, 10*time.Second, "three attempts", func() (bool, string) {
			return a.logs.FilterMessage(msg).Len() >= 3, fmt.Sprint(a.logs.All())
		})
		down.Store(false)
		select {
		case <-inst.in.subscribed:
		case <-time.After(10 * time.Second):
			t.Fatal("not consuming 10 s after the broker came back")
		}
		for _, e := range a.logs.All() {
			if s := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(s, "guest:guest") {
				t.Errorf("logged the AMQP password: %s", s)
			}
		}
		if e := a.logs.FilterMessage(msg).All()[0]; !containsField(e, "amqp", "amqp://guest:xxxxx@"+nd.AMQP) {
			t.Errorf("the attempt does not name the broker (redacted): %v", e.Context)
		}
	})

	// A classic queue of the name: the broker refuses the quorum declaration, and the ingest stops with
	// the fix instead of retrying for ever.
	t.Run("refused", func(t *testing.T) {
		conn, err := amqp.Dial(nd.AMQPURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare("q-classic", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		a := newAMQPIngest(t, nd, "gw-c", "q-classic")
		inst := launchIngest(t, a.cfg, a.log, nil)
		select {
		case err := <-inst.done:
			inst.done <- nil
			for _, w := range []string{"declare queue q-classic", "inequivalent arg 'x-queue-type'", "rabbitmqctl delete_queue q-classic", "amqp.queue"} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Run: %v; want an error containing %q", err, w)
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run still going 20 s after the broker refused the queue")
		}
	})
}
