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
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// TestMutualTLS runs wayside-ingest against a broker that requires client certificates (mTLS): with
// -tls-cert and -tls-key it consumes and writes a gateway's batch; without them the broker refuses
// it, and the process says so at every attempt and keeps running.
func TestMutualTLS(t *testing.T) {
	pg := testpg.Start(t)
	ca := testpki.NewCA(t, "city CA")
	srv, client := ca.Server(t), ca.Client(t, "wayside-ingest-1")
	broker := testbroker.StartWith(t, testbroker.Options{Plain: true, TLS: &testbroker.TLS{
		CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile, RequireCertificate: true}})
	dir := t.TempDir()
	g := testgw.New(t, "cab-1", nil)
	g.Connect(t, broker.URL) // the gateway on the plain listener; the ingest on the TLS one
	gateways := filepath.Join(dir, "gateways")
	os.WriteFile(gateways, []byte(g.ID+" "+base64.StdEncoding.EncodeToString(g.Pub)+"\n"), 0o600)
	conf := filepath.Join(dir, "ingest.yaml")
	os.WriteFile(conf, fmt.Appendf(nil, "mqtt:\n  broker: %s\n  tls:\n    ca: %s\npostgres:\n  dsn: %s\nkeys:\n  gateways_file: %s\n",
		broker.TLSURL, ca.CertFile, pg.DSN, gateways), 0o600)

	// Without a client certificate: refused, retried, still running.
	p, out, exited := launchProcess(t, "-config", conf, "-client-id", "ingest-nocert", "-log-format", "json")
	for deadline := time.Now().Add(20 * time.Second); strings.Count(out.String(), `"msg":"cannot connect to the broker, retrying"`) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("no two refused attempts logged within 20s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("wayside-ingest ended (%v) when the broker refused it: it must keep trying\n%s", err, out)
	default:
	}
	if strings.Contains(out.String(), `"msg":"consuming"`) {
		t.Fatalf("consuming without the client certificate the broker requires:\n%s", out)
	}
	// The reason is logged: "remote error: tls: certificate required", or, when the broker's TLS 1.3
	// alert and close overtake the ingest's CONNECT, "connection reset by peer".
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, `"msg":"cannot connect to the broker, retrying"`) && !strings.Contains(line, `"error":"network Error : `) {
			t.Errorf("a refused attempt without its reason: %s", line)
		}
	}
	p.Process.Kill()

	// With one: it consumes and writes the batch.
	startProcess(t, "-config", conf, "-client-id", "ingest-mtls", "-log-format", "json",
		"-tls-cert", client.CertFile, "-tls-key", client.KeyFile)
	g.Publish(t, "telemetry", g.Batch(t, 1, 5), false)
	ctx := context.Background()
	pool, count := counter(t, ctx, pg.DSN)
	defer pool.Close()
	want, _ := testgw.PlainReadings(t, g.Signed[1])
	for deadline := time.Now().Add(10 * time.Second); count(`SELECT count(*) FROM wayside_readings WHERE gateway = $1 AND seq = 1`, g.ID) != want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d readings written within 10s", count(`SELECT count(*) FROM wayside_readings`), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launchProcess runs wayside-ingest with args; exited receives Wait's result.
func launchProcess(t *testing.T, args ...string) (p *exec.Cmd, out *testlog.Buffer, exited <-chan error) {
	t.Helper()
	p = exec.Command(os.Args[0], args...)
	p.Env = append(os.Environ(), "WAYSIDE_INGEST_RUN_MAIN=1")
	out = &testlog.Buffer{}
	p.Stdout, p.Stderr = out, out
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	t.Cleanup(func() { p.Process.Kill(); <-done })
	return p, out, done
}

func TestTLSFlagErrorsNameTheField(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	client := ca.Client(t, "ingest-1")
	base := []string{"-client-id", "ingest-1", "-dsn", "postgres://x@db/wayside", "-log-level", "error"}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-broker", "tcp://127.0.0.1:1883", "-tls-ca", ca.CertFile}, []string{"mqtt.tls.ca is set", "-tls-ca"}},
		{[]string{"-broker", "ssl://127.0.0.1:8883", "-tls-cert", client.CertFile}, []string{"mqtt.tls.key is missing"}},
		{[]string{"-broker", "ssl://127.0.0.1:8883", "-tls-ca", filepath.Join(t.TempDir(), "none.pem")}, []string{"mqtt.tls.ca", "no such file"}},
		{[]string{"-broker", "ssl://127.0.0.1:8883", "-tls-server-name", "ssl://x"}, []string{"mqtt.tls.server_name"}},
	} {
		err := run(append(c.args, base...))
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", c.args, err, w)
			}
		}
	}
}
