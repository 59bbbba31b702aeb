package testbroker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

type dial struct {
	url        string
	tls        *tls.Config
	user, pass string
}

// connect connects a test client (no retries); the error is the connect token's.
func connect(t *testing.T, id string, d dial) (*Client, error) {
	t.Helper()
	c := NewClient(t, ClientOptions(id, d.url, d.user, d.pass).SetTLSConfig(d.tls))
	if err := c.Connect(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.url, err)
	}
	return c, nil
}

func mustConnect(t *testing.T, id string, d dial) *Client {
	t.Helper()
	c, err := connect(t, id, d)
	if err != nil {
		t.Fatalf("connect %s as %q: %v", d.url, d.user, err)
	}
	return c
}

// roundTrip subscribes with sub, publishes with pub and checks the message arrives.
func roundTrip(t *testing.T, sub, pub *Client, topic string) {
	t.Helper()
	sub.Subscribe(topic)
	payload := "hello " + t.Name()
	pub.Publish(topic, payload)
	if m := sub.Next(); m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("got %q on %s, want %q on %s", m.Payload(), m.Topic(), payload, topic)
	}
}

func pool(ca *testpki.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func TestStartPlain(t *testing.T) {
	b := Start(t)
	if b.URL != "tcp://"+b.Addr || b.TLSURL != "" || b.TLSAddr != "" {
		t.Fatalf("URL %q Addr %q TLSURL %q TLSAddr %q", b.URL, b.Addr, b.TLSURL, b.TLSAddr)
	}
	// Anonymous clients are allowed, as before.
	roundTrip(t, mustConnect(t, "sub", dial{url: b.URL}), mustConnect(t, "pub", dial{url: b.URL}), "t/plain")
}

func TestTLSListener(t *testing.T) {
	ca := testpki.NewCA(t, "broker CA")
	srv := ca.Server(t)
	b := StartWith(t, Options{TLS: &TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile}})
	if b.URL != "" || b.Addr != "" {
		t.Fatalf("TLS-only broker has a plain listener: %q", b.URL)
	}
	if !strings.HasPrefix(b.TLSURL, "ssl://127.0.0.1:") {
		t.Fatalf("TLSURL %q", b.TLSURL)
	}
	tc := &tls.Config{RootCAs: pool(ca), MinVersion: tls.VersionTLS12}
	roundTrip(t, mustConnect(t, "sub", dial{url: b.TLSURL, tls: tc}), mustConnect(t, "pub", dial{url: b.TLSURL, tls: tc}), "t/tls")

	// MQTT in the clear on the TLS port gets no CONNACK.
	if _, err := connect(t, "cleartext", dial{url: "tcp://" + b.TLSAddr}); err == nil {
		t.Fatal("plain MQTT to the TLS listener connected")
	}
}

func TestTLSAndPlainListeners(t *testing.T) {
	ca := testpki.NewCA(t, "broker CA")
	srv := ca.Server(t)
	b := StartWith(t, Options{Plain: true, TLS: &TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile}})
	if b.URL == "" || b.TLSURL == "" || b.Addr == b.TLSAddr {
		t.Fatalf("URL %q TLSURL %q", b.URL, b.TLSURL)
	}
	tc := &tls.Config{RootCAs: pool(ca)}
	// A message crosses from the TLS listener to the plain one.
	roundTrip(t, mustConnect(t, "sub", dial{url: b.URL}), mustConnect(t, "pub", dial{url: b.TLSURL, tls: tc}), "t/both")
}

func TestRequireCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "broker CA")
	other := testpki.NewCA(t, "other CA")
	srv := ca.Server(t)
	b := StartWith(t, Options{TLS: &TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile, RequireCertificate: true}})
	withCert := func(p testpki.Pair) *tls.Config {
		kp, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{RootCAs: pool(ca), Certificates: []tls.Certificate{kp}}
	}
	if _, err := connect(t, "nocert", dial{url: b.TLSURL, tls: &tls.Config{RootCAs: pool(ca)}}); err == nil {
		t.Fatal("connected without a client certificate")
	}
	if _, err := connect(t, "untrusted", dial{url: b.TLSURL, tls: withCert(other.Client(t, "gw1"))}); err == nil {
		t.Fatal("connected with a client certificate from a CA the broker does not trust")
	}
	mustConnect(t, "good", dial{url: b.TLSURL, tls: withCert(ca.Client(t, "gw1"))})
}

// TestIdentityAsUsername: the client certificate's CN is the username the ACL sees.
func TestIdentityAsUsername(t *testing.T) {
	ca := testpki.NewCA(t, "broker CA")
	srv := ca.Server(t)
	b := StartWith(t, Options{
		TLS: &TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile, RequireCertificate: true, UseIdentityAsUsername: true},
		ACL: "user gw1\ntopic readwrite wayside/v1/gw1/#\n\nuser cloud\ntopic read wayside/v1/#\n",
	})
	cfg := func(cn string) *tls.Config {
		p := ca.Client(t, cn)
		kp, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{RootCAs: pool(ca), Certificates: []tls.Certificate{kp}}
	}
	sub := mustConnect(t, "cloud", dial{url: b.TLSURL, tls: cfg("cloud")})
	gw1 := mustConnect(t, "gw1", dial{url: b.TLSURL, tls: cfg("gw1")})
	gw2 := mustConnect(t, "gw2", dial{url: b.TLSURL, tls: cfg("gw2")})
	sub.Subscribe("wayside/v1/#")
	gw2.Publish("wayside/v1/gw1/telemetry", "from gw2") // gw2 has no ACL entry: dropped
	gw1.Publish("wayside/v1/gw1/telemetry", "from gw1")
	if m := sub.Next(); string(m.Payload()) != "from gw1" {
		t.Fatalf("first message %q on %s, want gw1's (gw2's publish should be dropped)", m.Payload(), m.Topic())
	}
}

func TestPasswordFile(t *testing.T) {
	for _, impl := range []string{"mosquitto_passwd", "go"} {
		t.Run(impl, func(t *testing.T) {
			if impl == "mosquitto_passwd" && passwdBinary() == "" {
				t.Skip("mosquitto_passwd not installed (the Go writer is tested below)")
			}
			if impl == "go" {
				old := passwdTool
				passwdTool = func() string { return "" }
				t.Cleanup(func() { passwdTool = old })
			}
			b := StartWith(t, Options{Users: map[string]string{"gw1": "s3cret pass", "cloud": "other:secret$"}})
			data, err := os.ReadFile(filepath.Join(filepath.Dir(b.conf), "passwd"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), "s3cret") || strings.Count(string(data), ":$7$101$") != 2 {
				t.Fatalf("password file is not two $7$ hashes:\n%s", data)
			}
			mustConnect(t, "gw1", dial{url: b.URL, user: "gw1", pass: "s3cret pass"})
			mustConnect(t, "cloud", dial{url: b.URL, user: "cloud", pass: "other:secret$"})
			for _, d := range []dial{
				{url: b.URL, user: "gw1", pass: "s3cret"}, // wrong password
				{url: b.URL, user: "nobody", pass: "s3cret pass"},
				{url: b.URL}, // anonymous
			} {
				_, err := connect(t, "refused", d)
				if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
					t.Errorf("user %q: err %v, want %v", d.user, err, packets.ErrorRefusedNotAuthorised)
				}
			}
		})
	}
}

// TestHashMatchesMosquittoPasswd checks the Go writer's hash against mosquitto_passwd's for the same
// salt.
func TestHashMatchesMosquittoPasswd(t *testing.T) {
	bin := passwdBinary()
	if bin == "" {
		t.Skip("mosquitto_passwd not installed")
	}
	path := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-c", "-b", path, "gw1", "pässword:1").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", bin, err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(data))
	f := strings.Split(want, "$") // gw1:  7  101  salt  hash
	if len(f) != 5 || f[0] != "gw1:" || f[1] != "7" || f[2] != "101" {
		t.Fatalf("mosquitto_passwd wrote %q, not gw1:$7$101$salt$hash", want)
	}
	salt, err := base64.StdEncoding.DecodeString(f[3])
	if err != nil {
		t.Fatalf("salt %q: %v", f[3], err)
	}
	got, err := hashLine("gw1", "pässword:1", salt)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Go hash\n%s\nmosquitto_passwd\n%s", got, want)
	}
}

func TestPasswordFileRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "a:b", "a\nb"} {
		if err := writePasswordFile(filepath.Join(t.TempDir(), "p"), map[string]string{name: "x"}); err == nil {
			t.Errorf("user %q accepted", name)
		}
	}
}

// TestACLConfinesGateway records what mosquitto 2.0.11 does with a publish the ACL denies: the client
// gets its PUBACK (QoS 1) and stays connected, and the message is dropped.
func TestACLConfinesGateway(t *testing.T) {
	b := StartWith(t, Options{
		Users: map[string]string{"gw1": "pw1", "cloud": "pw2"},
		ACL:   "user gw1\ntopic readwrite wayside/v1/gw1/#\n\nuser cloud\ntopic read wayside/v1/#\n",
	})
	cloud := mustConnect(t, "cloud", dial{url: b.URL, user: "cloud", pass: "pw2"})
	gw := mustConnect(t, "gw1", dial{url: b.URL, user: "gw1", pass: "pw1"})
	cloud.Subscribe("wayside/v1/#")
	gw.Publish("wayside/v1/gw2/telemetry", "outside") // acknowledged, then dropped
	gw.Publish("other/topic", "outside")
	gw.Publish("wayside/v1/gw1/telemetry", "inside")
	// The broker forwards one client's messages in order: had a denied one been delivered, it would
	// arrive before "inside".
	if m := cloud.Next(); m.Topic() != "wayside/v1/gw1/telemetry" || string(m.Payload()) != "inside" {
		t.Fatalf("got %q on %s first, want \"inside\" on the gateway's own topic", m.Payload(), m.Topic())
	}
	if !gw.C.IsConnectionOpen() {
		t.Fatal("gateway disconnected after a denied publish")
	}
	// The cloud user may read but not write.
	gw.Subscribe("wayside/v1/gw1/cmd")
	cloud.Publish("wayside/v1/gw1/cmd", "denied")
	gw.Publish("wayside/v1/gw1/cmd", "own")
	if m := gw.Next(); string(m.Payload()) != "own" {
		t.Fatalf("gateway got %q first, want its own message (the cloud user has read-only access)", m.Payload())
	}
}

func TestTwoBrokersRestart(t *testing.T) {
	ca := testpki.NewCA(t, "broker CA")
	srv := ca.Server(t)
	o := Options{Plain: true, TLS: &TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile}}
	b1, b2 := StartWith(t, o), StartWith(t, o)
	seen := map[string]bool{}
	for _, a := range []string{b1.Addr, b1.TLSAddr, b2.Addr, b2.TLSAddr} {
		if seen[a] {
			t.Fatalf("address %s used twice", a)
		}
		seen[a] = true
	}
	tc := &tls.Config{RootCAs: pool(ca)}
	b1.Stop()
	if _, err := connect(t, "down", dial{url: b1.TLSURL, tls: tc}); err == nil {
		t.Fatal("connected to a stopped broker")
	}
	roundTrip(t, mustConnect(t, "sub2", dial{url: b2.TLSURL, tls: tc}), mustConnect(t, "pub2", dial{url: b2.URL}), "t/b2")
	b1.Restart()
	roundTrip(t, mustConnect(t, "sub1", dial{url: b1.URL}), mustConnect(t, "pub1", dial{url: b1.TLSURL, tls: tc}), "t/b1")
}
