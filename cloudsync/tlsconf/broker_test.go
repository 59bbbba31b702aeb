package tlsconf

// Tests against a real mosquitto (internal/testkit/testbroker) with a real paho client whose connection
// attempt handler returns Loader.ForBroker, as the cloud link does.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

const wait = testbroker.Wait

// client is a test client that counts its connection attempts (each one asks the Loader for a TLS
// config).
type client struct {
	*testbroker.Client
	attempts atomic.Int32
}

type dial struct {
	url        string
	loader     *Loader
	user, pass string
}

// options are testbroker's, with the TLS config taken from the Loader on every connection attempt.
func options(id string, d dial, c *client) *mqtt.ClientOptions {
	return testbroker.ClientOptions(id, d.url, d.user, d.pass).
		SetConnectionAttemptHandler(func(broker *url.URL, _ *tls.Config) *tls.Config {
			c.attempts.Add(1)
			return d.loader.ForBroker(broker)
		})
}

// connect makes one connection attempt; the error is the connect token's.
func connect(t *testing.T, id string, d dial) (*client, error) {
	t.Helper()
	c := &client{}
	c.Client = testbroker.NewClient(t, options(id, d, c))
	if err := c.Connect(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.url, err)
	}
	return c, nil
}

func mustConnect(t *testing.T, id string, d dial) *client {
	t.Helper()
	c, err := connect(t, id, d)
	if err != nil {
		t.Fatalf("connect %s as %s: %v", d.url, id, err)
	}
	return c
}

// expect publishes payload on topic from pub and checks it is the next message sub receives.
func expect(t *testing.T, sub, pub *client, topic, payload string) {
	t.Helper()
	pub.Publish(topic, payload)
	if m := sub.Next(); m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("got %q on %s, want %q on %s", m.Payload(), m.Topic(), payload, topic)
	}
}

func newLoader(t *testing.T, f Files) *Loader {
	t.Helper()
	l, err := New(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tlsBroker starts mosquitto with a TLS listener whose certificate ca signed.
func tlsBroker(t *testing.T, ca *testpki.CA, o testbroker.Options) *testbroker.Broker {
	t.Helper()
	srv := ca.Server(t)
	return testbroker.StartTLS(t, ca.CertFile, srv.CertFile, srv.KeyFile, o)
}

func TestTLSPublishReceive(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	b := tlsBroker(t, ca, testbroker.Options{})
	l := newLoader(t, Files{CA: ca.CertFile})
	port := b.TLSURL[strings.LastIndex(b.TLSURL, ":")+1:]
	sub := mustConnect(t, "sub", dial{url: b.TLSURL, loader: l})
	sub.Subscribe("wayside/v1/#")
	// Every TLS scheme paho takes, by address and by name: ServerName follows the broker's host.
	for i, u := range []string{b.TLSURL, "tls://localhost:" + port, "mqtts://127.0.0.1:" + port, "mqtt+ssl://localhost:" + port, "tcps://127.0.0.1:" + port} {
		pub := mustConnect(t, fmt.Sprintf("pub%d", i), dial{url: u, loader: l})
		expect(t, sub, pub, "wayside/v1/gw1/telemetry", "via "+u)
		if pub.attempts.Load() != 1 {
			t.Fatalf("%s: attempt handler called %d times, want 1", u, pub.attempts.Load())
		}
	}
}

func TestWrongCARefused(t *testing.T) {
	ca, other := testpki.NewCA(t, "city CA"), testpki.NewCA(t, "other CA")
	b := tlsBroker(t, ca, testbroker.Options{})
	_, err := connect(t, "gw1", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: other.CertFile})})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("err %v (%T), want x509.UnknownAuthorityError", err, err)
	}
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("error %q does not say what is wrong", err)
	}
}

func TestServerNameChecked(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	b := tlsBroker(t, ca, testbroker.Options{})
	_, err := connect(t, "gw1", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: ca.CertFile, ServerName: "mqtt.city.example"})})
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Fatalf("err %v (%T), want x509.HostnameError: the broker's certificate does not name mqtt.city.example", err, err)
	}
	// The certificate names localhost: an override to it connects by address.
	mustConnect(t, "gw1", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: ca.CertFile, ServerName: "localhost"})})
}

func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	b := tlsBroker(t, ca, testbroker.Options{TLS: &testbroker.TLS{RequireCertificate: true}})
	if _, err := connect(t, "nocert", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: ca.CertFile})}); err == nil {
		t.Fatal("connected without a client certificate to a broker that requires one")
	}
	gw := ca.Client(t, "gw1")
	c := mustConnect(t, "gw1", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: ca.CertFile, Cert: gw.CertFile, Key: gw.KeyFile})})
	c.Subscribe("t/mtls")
	expect(t, c, c, "t/mtls", "mtls")
}

// identityBroker requires client certificates, takes the username from their CN and confines each
// gateway to its own topics; the user "cloud" reads everything.
func identityBroker(t *testing.T, ca *testpki.CA) *testbroker.Broker {
	return tlsBroker(t, ca, testbroker.Options{
		TLS: &testbroker.TLS{RequireCertificate: true, UseIdentityAsUsername: true},
		ACL: "pattern readwrite wayside/v1/%u/#\n\nuser cloud\ntopic read wayside/v1/#\n",
	})
}

// TestReloadClientCert: the files under a Loader change on disk and the next connection uses them.
func TestReloadClientCert(t *testing.T) {
	ca, other := testpki.NewCA(t, "city CA"), testpki.NewCA(t, "other CA")
	b := identityBroker(t, ca)
	cloudCert := ca.Client(t, "cloud")
	cloud := mustConnect(t, "cloud", dial{url: b.TLSURL, loader: newLoader(t, Files{CA: ca.CertFile, Cert: cloudCert.CertFile, Key: cloudCert.KeyFile})})
	cloud.Subscribe("wayside/v1/#")

	dir := t.TempDir()
	untrusted := other.Client(t, "gw1")
	certPath := copyFile(t, untrusted.CertFile, dir, "gw.crt")
	keyPath := copyFile(t, untrusted.KeyFile, dir, "gw.key")
	log, logs := observed()
	l, err := New(Files{CA: ca.CertFile, Cert: certPath, Key: keyPath}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, "gw", dial{url: b.TLSURL, loader: l}); err == nil {
		t.Fatal("connected with a certificate from a CA the broker does not trust")
	}

	// The trusted certificate for gw1 replaces it: same Loader, next connection gets in as gw1.
	ca.Client(t, "gw1").Install(t, certPath, keyPath)
	gw := mustConnect(t, "gw", dial{url: b.TLSURL, loader: l})
	expect(t, cloud, gw, "wayside/v1/gw1/telemetry", "as gw1")
	gw.C.Disconnect(100)

	// Re-issued as gw2: the next connection is gw2, which the ACL keeps off gw1's topics.
	ca.Client(t, "gw2").Install(t, certPath, keyPath)
	gw = mustConnect(t, "gw", dial{url: b.TLSURL, loader: l})
	gw.Publish("wayside/v1/gw1/telemetry", "gw2 posing as gw1") // dropped by the ACL
	expect(t, cloud, gw, "wayside/v1/gw2/telemetry", "as gw2")
	gw.C.Disconnect(100)

	// A broken key file: the previous (gw2) config stays in use.
	if err := os.WriteFile(keyPath, []byte("-----BEGIN PRIVATE KEY-----\ntruncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	gw = mustConnect(t, "gw", dial{url: b.TLSURL, loader: l})
	expect(t, cloud, gw, "wayside/v1/gw2/telemetry", "still gw2")
	if n := logs.FilterMessageSnippet("do not load").Len(); n != 1 {
		t.Fatalf("broken key logged %d times, want 1", n)
	}
	if ok, bad := l.Reloads(); ok != 2 || bad != 1 {
		t.Fatalf("Reloads() = %d, %d; want 2, 1", ok, bad)
	}
}

// TestReconnectUsesNewCert is the link's case: one paho client with auto-reconnect; the certificate
// is renewed while it is connected, and the reconnection after a broker restart presents the new one.
func TestReconnectUsesNewCert(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	b := identityBroker(t, ca)
	cloudCert := ca.Client(t, "cloud")
	cloudLoader := newLoader(t, Files{CA: ca.CertFile, Cert: cloudCert.CertFile, Key: cloudCert.KeyFile})

	dir := t.TempDir()
	first := ca.Client(t, "gw1")
	certPath := copyFile(t, first.CertFile, dir, "gw.crt")
	keyPath := copyFile(t, first.KeyFile, dir, "gw.key")
	l := newLoader(t, Files{CA: ca.CertFile, Cert: certPath, Key: keyPath})

	gw := &client{}
	var connects atomic.Int32
	gw.Client = testbroker.NewClient(t, options("gw", dial{url: b.TLSURL, loader: l}, gw).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100*time.Millisecond).
		SetMaxReconnectInterval(200*time.Millisecond).
		SetOnConnectHandler(func(mqtt.Client) { connects.Add(1) }))
	if err := gw.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	cloud := mustConnect(t, "cloud", dial{url: b.TLSURL, loader: cloudLoader})
	cloud.Subscribe("wayside/v1/#")
	expect(t, cloud, gw, "wayside/v1/gw1/telemetry", "before renewal")

	ca.Client(t, "gw2").Install(t, certPath, keyPath)
	b.Stop()
	b.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for connects.Load() < 2 || !gw.C.IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not reconnect within 10s (connects %d, attempts %d)", connects.Load(), gw.attempts.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cloud = mustConnect(t, "cloud2", dial{url: b.TLSURL, loader: cloudLoader})
	cloud.Subscribe("wayside/v1/#")
	gw.Publish("wayside/v1/gw1/telemetry", "old identity") // gw2 may not: dropped
	expect(t, cloud, gw, "wayside/v1/gw2/telemetry", "after renewal")
}

// TestPasswordAndACLOverTLS: the gateway verifies the broker, logs in with a password and may only
// use its own topics.
func TestPasswordAndACLOverTLS(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	b := tlsBroker(t, ca, testbroker.Options{
		Users: map[string]string{"gw1": "gw1-secret", "cloud": "cloud-secret"},
		ACL:   "user gw1\ntopic readwrite wayside/v1/gw1/#\n\nuser cloud\ntopic read wayside/v1/#\n",
	})
	l := newLoader(t, Files{CA: ca.CertFile})
	for _, d := range []dial{
		{url: b.TLSURL, loader: l, user: "gw1", pass: "wrong"},
		{url: b.TLSURL, loader: l, user: "gw2", pass: "gw1-secret"},
		{url: b.TLSURL, loader: l},
	} {
		if _, err := connect(t, "refused", d); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Errorf("user %q: err %v, want %v", d.user, err, packets.ErrorRefusedNotAuthorised)
		}
	}
	cloud := mustConnect(t, "cloud", dial{url: b.TLSURL, loader: l, user: "cloud", pass: "cloud-secret"})
	gw := mustConnect(t, "gw1", dial{url: b.TLSURL, loader: l, user: "gw1", pass: "gw1-secret"})
	cloud.Subscribe("wayside/v1/#")
	// mosquitto 2.0.11 acknowledges a denied QoS 1 publish and drops it, the client staying
	// connected. Messages from one client arrive in order, so had a denied one been delivered it
	// would come before the allowed one.
	gw.Publish("wayside/v1/gw2/telemetry", "outside its prefix")
	gw.Publish("wayside/v1/telemetry", "above its prefix")
	expect(t, cloud, gw, "wayside/v1/gw1/telemetry", "inside its prefix")
	if !gw.C.IsConnectionOpen() {
		t.Fatal("gateway disconnected by a denied publish")
	}
}
