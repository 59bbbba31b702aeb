package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testlog"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
)

// The test binary runs as wayside-ingest when asked: the process test kills real processes.
func TestMain(m *testing.M) {
	if os.Getenv("WAYSIDE_INGEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startProcess runs wayside-ingest with args and waits until it consumes.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, *testlog.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WAYSIDE_INGEST_RUN_MAIN=1")
	out := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"msg":"consuming"`) {
		if time.Now().After(deadline) {
			t.Fatalf("wayside-ingest %s: not consuming within 20s:\n%s", strings.Join(args, " "), out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, out
}

// TestProcessKilled runs two wayside-ingest processes from a YAML file and flags, SIGKILLs one while
// three gateways publish, restarts it, and checks that every reading is in PostgreSQL exactly once.
func TestProcessKilled(t *testing.T) {
	pg := testpg.Start(t)
	broker := testbroker.Start(t, "max_queued_messages 0")
	dir := t.TempDir()
	city, sealer := testgw.CityKey(t, dir)
	gws := []*testgw.Gateway{testgw.New(t, "cab-1", nil), testgw.New(t, "cab-2", nil), testgw.New(t, "cab-3", sealer)}
	var keys strings.Builder
	for _, g := range gws {
		fmt.Fprintf(&keys, "%s %s\n", g.ID, base64.StdEncoding.EncodeToString(g.Pub))
		g.Connect(t, broker.URL)
	}
	os.WriteFile(filepath.Join(dir, "gateways"), []byte(keys.String()), 0o600)
	conf := filepath.Join(dir, "ingest.yaml")
	os.WriteFile(conf, fmt.Appendf(nil, "mqtt:\n  broker: %s\n  group: city\npostgres:\n  dsn: %s\nkeys:\n  gateways_file: %s\n  city_key_files: [%s]\nworkers: 2\n",
		broker.URL, pg.DSN, filepath.Join(dir, "gateways"), city), 0o600)

	a, _ := startProcess(t, "-config", conf, "-client-id", "ingest-a", "-log-format", "json")
	startProcess(t, "-config", conf, "-client-id", "ingest-b", "-log-format", "json")

	const nBatches = 80
	ctx := context.Background()
	pool, count := counter(t, ctx, pg.DSN)
	defer pool.Close()
	want := len(gws) * nBatches
	wg := publishAll(t, gws, nBatches, 3*time.Millisecond)
	// Mid-stream: once the first batches are in.
	for deadline := time.Now().Add(20 * time.Second); count(`SELECT count(*) FROM wayside_batches`) < 10 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	killMidStream(t, a, count, want)
	startProcess(t, "-config", conf, "-client-id", "ingest-a", "-log-format", "json")
	wg.Wait()
	for _, g := range gws { // republished
		g.Publish(t, "telemetry", g.Wire(t, g.Signed[10]), false)
	}

	deadline := time.Now().Add(30 * time.Second)
	for count(`SELECT count(*) FROM wayside_batches`) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d batches written within 30s", count(`SELECT count(*) FROM wayside_batches`), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the republished batches and redeliveries come last
	checkReadings(t, gws, count, want)
	if n := count(`SELECT count(*) FROM wayside_quarantine`); n != 0 {
		t.Errorf("%d messages quarantined, want none", n)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	err := run([]string{"-broker", "127.0.0.1:1883"})
	if err == nil {
		t.Fatal("no error without a client id or a database")
	}
	for _, want := range []string{"mqtt.broker", "write tcp://127.0.0.1:1883", "mqtt.client_id", "-client-id", "postgres.dsn", "-dsn"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestAMQPFlags: -amqp and -amqp-queue reach amqp.url and amqp.queue, whose errors name the field and
// the flag, without the URL's password.
func TestAMQPFlags(t *testing.T) {
	err := run([]string{"-broker", "tcp://127.0.0.1:1883", "-client-id", "ingest-1", "-dsn", "postgres://x@db/wayside",
		"-amqp", "http://ingest:s3cret@rabbit.city.example/", "-amqp-queue", "amq.city"})
	if err == nil {
		t.Fatal("no error for an http:// amqp.url and a reserved queue name")
	}
	for _, want := range []string{"amqp.url", `scheme "http"`, "(flag -amqp)", "amqp.queue", "amq.city", "-amqp-queue"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
}
