package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// TestSecureLink runs the gateway against a mosquitto that only has a TLS listener, requires a client
// certificate signed by the city's CA, checks a password, and confines each user to its own topics
// with an ACL. The gateway verifies the broker's certificate against the configured CA; its batches
// arrive at a cloud subscriber that may only read.
func TestSecureLink(t *testing.T) {
	ca := testpki.NewCA(t, "city-ca")
	server := ca.Server(t)
	client := ca.Client(t, "sec-gw-1")
	broker := testbroker.StartWith(t, testbroker.Options{
		TLS: &testbroker.TLS{CAFile: ca.CertFile, CertFile: server.CertFile, KeyFile: server.KeyFile,
			RequireCertificate: true},
		Users: map[string]string{"sec-gw-1": "gw-secret", "cloud": "cloud-secret"},
		ACL:   "user sec-gw-1\ntopic readwrite wayside/v1/sec-gw-1/#\n\nuser cloud\ntopic read wayside/v1/#\n",
	})
	dir := t.TempDir()
	pw := filepath.Join(dir, "mqtt-password")
	if err := os.WriteFile(pw, []byte("gw-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`
gateway: {id: sec-gw-1, board: sim}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 50ms}
cloud:
  brokers: [%s]
  tls: {ca: %s, cert: %s, key: %s}
  username: sec-gw-1
  password_file: %s
batch: {max_readings: 20, max_age: 200ms}
spool: {dir: %s}
clock: {trust: always}
`, broker.TLSURL, ca.CertFile, client.CertFile, client.KeyFile, pw, dir)
	cfg := parseConfig(t, cfgText)

	// The cloud's subscriber: also over mutual TLS, as the read-only user.
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cc := ca.Client(t, "cloud")
	pair, err := tls.LoadX509KeyPair(cc.CertFile, cc.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var batches [][]byte
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.TLSURL).SetClientID("sec-cloud").
		SetUsername("cloud").SetPassword("cloud-secret").
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("cloud subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(50)
	topics := profile.PrefixTopics("wayside/v1", "sec-gw-1")
	if tok := sub.Subscribe(topics.Telemetry, 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		batches = append(batches, append([]byte(nil), m.Payload()...))
		mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	g := newGateway(t, gateway.Options{Config: cfg})
	stop := goRun(t, g)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(batches)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("only %d batches over TLS in 20 s; link %+v", n, g.Stats().Link)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range batches {
		openBatch(t, dir, b)
	}
	if st := g.Stats().Link; st.Connects != 1 {
		t.Errorf("connects = %d, want 1", st.Connects)
	}
}

// TestSecureLinkRefusals: a broker whose certificate is signed by a CA the gateway does not trust is
// never connected to (nothing is published to an impostor) and readings stay spooled meanwhile.
func TestSecureLinkRefusals(t *testing.T) {
	ca := testpki.NewCA(t, "city-ca")
	other := testpki.NewCA(t, "impostor-ca")
	server := other.Server(t) // the broker's certificate is not signed by the CA the gateway trusts
	broker := testbroker.StartWith(t, testbroker.Options{
		TLS: &testbroker.TLS{CAFile: other.CertFile, CertFile: server.CertFile, KeyFile: server.KeyFile}})
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
gateway: {id: sec-gw-2, board: sim}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 50ms}
cloud: {brokers: [%s], tls: {ca: %s}, reconnect: {min: 50ms, max: 200ms}}
spool: {dir: %s}
clock: {trust: always}
`, broker.TLSURL, ca.CertFile, dir))
	g := newGateway(t, gateway.Options{Config: cfg})
	stop := goRun(t, g)
	time.Sleep(1500 * time.Millisecond)
	st := g.Stats()
	stop()
	if st.Link.Connects != 0 || st.Link.Connected {
		t.Fatalf("connected to a broker with an untrusted certificate: %+v", st.Link)
	}
	if st.Batches == 0 || st.Spool.Backlog == 0 {
		t.Errorf("readings not kept while the link is refused: %d batches, backlog %d", st.Batches, st.Spool.Backlog)
	}
}

// TestPlaintextRefused: the config refuses a plain tcp:// broker off this machine unless
// cloud.allow_plaintext is set, naming the field and the fix.
func TestPlaintextRefused(t *testing.T) {
	const base = "gateway: {id: p1, board: sim}\nsensors: [{name: env1, driver: bme280, bus: i2c1, interval: 1s}]\n"
	_, err := config.Parse([]byte(base+"cloud: {brokers: [tcp://mqtt.city.example:1883]}\n"), boards.Check)
	if err == nil || !containsAll(err.Error(), "cloud.brokers[0]", "ssl://mqtt.city.example:8883", "allow_plaintext") {
		t.Fatalf("plain remote broker: %v", err)
	}
	if _, err := config.Parse([]byte(base+"cloud: {brokers: [tcp://mqtt.city.example:1883], allow_plaintext: true}\n"), boards.Check); err != nil {
		t.Fatalf("with allow_plaintext: %v", err)
	}
	if _, err := config.Parse([]byte(base+"cloud: {brokers: [tcp://127.0.0.1:1883]}\n"), boards.Check); err != nil {
		t.Fatalf("loopback: %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
