package ingest

// The TLS link to the broker, against a real mosquitto with a TLS listener (certificates from testpki)
// and a real PostgreSQL.

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// tlsBroker starts mosquitto with a TLS listener whose certificate ca signed, and a plain one for the
// test gateways.
func tlsBroker(t *testing.T, ca *testpki.CA, o testbroker.Options) *testbroker.Broker {
	t.Helper()
	srv := ca.Server(t)
	o.Plain = true
	return testbroker.StartTLS(t, ca.CertFile, srv.CertFile, srv.KeyFile, o)
}

// gatewaysFile writes a keys.gateways_file registering g.
func gatewaysFile(t *testing.T, g *testgw.Gateway) string {
	p := filepath.Join(t.TempDir(), "gateways")
	if err := os.WriteFile(p, []byte(g.ID+" "+base64.StdEncoding.EncodeToString(g.Pub)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const refusedMsg = "cannot connect to the broker, retrying"

func TestTLSWritesBatch(t *testing.T) {
	pg := testpg.Start(t)
	ca := testpki.NewCA(t, "city CA")
	b := tlsBroker(t, ca, testbroker.Options{})
	g := testgw.New(t, "gw-tls", nil)
	cfg := Config{MQTT: MQTTConfig{Broker: b.TLSURL, ClientID: "ingest-tls", TLS: TLSConfig{CA: ca.CertFile}},
		Postgres: PostgresConfig{DSN: pg.DSN}, Keys: KeysConfig{GatewaysFile: gatewaysFile(t, g)}}
	inst := startIngest(t, cfg, newLog(t), nil)
	if inst.in.tls == nil {
		t.Fatal("no TLS loader for an ssl:// broker")
	}
	inst.ks.mu.Lock()
	addr := inst.ks.conns[0].RemoteAddr().String()
	inst.ks.mu.Unlock()
	if addr != b.TLSAddr {
		t.Fatalf("the ingest dialled %s, want the TLS listener %s", addr, b.TLSAddr)
	}

	g.Connect(t, b.URL)
	g.Publish(t, "telemetry", g.Batch(t, 1, 7), false)
	pool, err := pgxpool.New(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	want, _ := testgw.PlainReadings(t, g.Signed[1])
	waitFor(t, 10*time.Second, "the batch in PostgreSQL", func() (bool, string) {
		n := count(t, pool, `SELECT count(*) FROM wayside_readings WHERE gateway = $1 AND seq = 1`, g.ID)
		return n == int64(want), fmt.Sprintf("%d of %d readings", n, want)
	})
}

// TestTLSBrokerFromAnotherCARefused: verification is on, so a broker whose certificate the configured
// CA did not sign is refused; the ingest says why at every attempt and keeps trying.
func TestTLSBrokerFromAnotherCARefused(t *testing.T) {
	connectBackoff = 50 * time.Millisecond
	t.Cleanup(func() { connectBackoff = time.Second })
	pg := testpg.Start(t)
	ca, other := testpki.NewCA(t, "city CA"), testpki.NewCA(t, "other CA")
	b := tlsBroker(t, ca, testbroker.Options{})
	core, logs := observer.New(zap.WarnLevel)
	cfg := Config{MQTT: MQTTConfig{Broker: b.TLSURL, ClientID: "ingest-tls", TLS: TLSConfig{CA: other.CertFile}},
		Postgres: PostgresConfig{DSN: pg.DSN}}
	inst := launchIngest(t, cfg, zap.New(zapcore.NewTee(core, newLog(t).Core())), nil)
	waitFor(t, 20*time.Second, "three refused attempts", func() (bool, string) {
		return logs.FilterMessage(refusedMsg).Len() >= 3, fmt.Sprint(logs.All())
	})
	for _, e := range logs.FilterMessage(refusedMsg).All() {
		if err := fmt.Sprint(e.ContextMap()["error"]); !strings.Contains(err, "certificate signed by unknown authority") {
			t.Errorf("attempt %v: error %q does not say the broker's certificate is not trusted", e.ContextMap()["attempt"], err)
		}
	}
	select {
	case <-inst.in.subscribed:
		t.Fatal("subscribed to a broker whose certificate another CA signed")
	case err := <-inst.done:
		inst.done <- err
		t.Fatalf("Run returned (%v) while the broker was refused: it must keep trying", err)
	default:
	}
}
