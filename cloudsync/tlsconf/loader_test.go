package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

// copyFile copies src to a new file in dir named name and returns its path.
func copyFile(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewErrors(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	good := ca.Client(t, "gw1")
	other := ca.Client(t, "gw2")
	dir := t.TempDir()
	expired := ca.Issue(t, testpki.Spec{CN: "old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	encKey := write(t, dir, "enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")
	notPEM := write(t, dir, "not.pem", "hello, I am not a certificate\n")
	empty := write(t, dir, "empty.pem", "\n")
	big := write(t, dir, "big.pem", strings.Repeat("A", maxFileSize+10))
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name  string
		files Files
		want  []string // substrings of the error
	}{
		{"CA missing", Files{CA: missing}, []string{FieldCA, missing, "no such file"}},
		{"CA not PEM", Files{CA: notPEM}, []string{FieldCA, "no PEM certificate"}},
		{"CA empty", Files{CA: empty}, []string{FieldCA, "empty"}},
		{"CA too big", Files{CA: big}, []string{FieldCA, "larger than"}},
		{"CA is a key", Files{CA: good.KeyFile}, []string{FieldCA, "no PEM certificate"}},
		{"cert without key", Files{Cert: good.CertFile}, []string{FieldKey + " is missing"}},
		{"key without cert", Files{Key: good.KeyFile}, []string{FieldCert + " is missing"}},
		{"cert missing", Files{Cert: missing, Key: good.KeyFile}, []string{FieldCert, "no such file"}},
		{"cert not PEM", Files{Cert: notPEM, Key: good.KeyFile}, []string{FieldCert, "no PEM certificate"}},
		{"key not PEM", Files{Cert: good.CertFile, Key: notPEM}, []string{FieldKey, "no PEM private key"}},
		{"key is a cert", Files{Cert: good.CertFile, Key: good.CertFile}, []string{FieldKey, "no PEM private key"}},
		{"key encrypted", Files{Cert: good.CertFile, Key: encKey}, []string{FieldKey, "encrypted"}},
		{"key of another cert", Files{Cert: good.CertFile, Key: other.KeyFile}, []string{FieldKey, "does not match", FieldCert}},
		{"cert expired", Files{Cert: expired.CertFile, Key: expired.KeyFile}, []string{FieldCert, "expired", `"old"`}},
		{"server name", Files{ServerName: "ssl://broker"}, []string{FieldServerName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.files, nil)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tc.files, l)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// No key material in errors: no line of the keys' base64.
			keyLines := strings.Split(string(good.KeyPEM)+string(other.KeyPEM), "\n")
			for _, kl := range keyLines {
				if len(kl) > 20 && !strings.HasPrefix(kl, "-----") && strings.Contains(err.Error(), kl) {
					t.Errorf("error quotes the private key: %q", err)
				}
			}
		})
		// Another program's config (the ingest's mqtt.tls) names its own fields.
		t.Run(tc.name+"/prefix", func(t *testing.T) {
			f := tc.files
			f.FieldPrefix = "mqtt.tls"
			_, err := New(f, nil)
			if err == nil {
				t.Fatalf("New(%+v): no error", f)
			}
			for _, w := range tc.want {
				if w = strings.Replace(w, "cloud.tls.", "mqtt.tls.", 1); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "cloud.tls") {
				t.Errorf("error %q names the gateway's cloud.tls", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	l, err := New(Files{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs != nil || cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 0 {
		t.Fatalf("config without files: RootCAs %v insecure %v min %x certs %d; want system roots, verification, TLS 1.2, none",
			cfg.RootCAs, cfg.InsecureSkipVerify, cfg.MinVersion, len(cfg.Certificates))
	}
	if !l.Expiry().IsZero() {
		t.Fatalf("Expiry %v without a client certificate", l.Expiry())
	}
}

func TestNewLoads(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	p := ca.Client(t, "gw1")
	log, logs := observed()
	l, err := New(Files{CA: ca.CertFile, Cert: p.CertFile, Key: p.KeyFile}, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf == nil ||
		cfg.Certificates[0].Leaf.Subject.CommonName != "gw1" {
		t.Fatalf("config does not carry the CA and gw1's certificate: %+v", cfg)
	}
	if !cfg.Certificates[0].Leaf.Equal(p.Cert) || !l.Expiry().Equal(p.Cert.NotAfter) {
		t.Fatalf("Expiry %v, want %v", l.Expiry(), p.Cert.NotAfter)
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Fatalf("%d warnings for a fresh certificate: %v", n, logs.All())
	}
	if logs.FilterMessage("tls files loaded").Len() != 1 {
		t.Fatalf("load not logged: %v", logs.All())
	}
}

func TestExpiryWarning(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	for _, tc := range []struct {
		left time.Duration
		warn bool
	}{{10 * 24 * time.Hour, true}, {29 * 24 * time.Hour, true}, {31 * 24 * time.Hour, false}, {300 * 24 * time.Hour, false}} {
		p := ca.Issue(t, testpki.Spec{CN: "gw1", NotAfter: time.Now().Add(tc.left)})
		log, logs := observed()
		if _, err := New(Files{Cert: p.CertFile, Key: p.KeyFile}, log); err != nil {
			t.Fatal(err)
		}
		warned := logs.FilterMessage("tls client certificate expires soon; renew it")
		if (warned.Len() == 1) != tc.warn {
			t.Errorf("expires in %v: %d warnings, want warning %v", tc.left, warned.Len(), tc.warn)
		}
		if tc.warn && warned.Len() == 1 {
			if f := warned.All()[0].ContextMap(); f["field"] != FieldCert || f["client_cert"] != "gw1" {
				t.Errorf("warning fields %v", f)
			}
		}
	}
}

func TestNotYetValidWarns(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	p := ca.Issue(t, testpki.Spec{CN: "gw1", NotBefore: time.Now().Add(24 * time.Hour)})
	log, logs := observed()
	if _, err := New(Files{Cert: p.CertFile, Key: p.KeyFile}, log); err != nil {
		t.Fatalf("a certificate valid from tomorrow must load (the clock may be unset): %v", err)
	}
	if logs.FilterMessageSnippet("is the clock set?").Len() != 1 {
		t.Fatalf("no warning: %v", logs.All())
	}
}

func TestKeyPermissionWarning(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	p := ca.Client(t, "gw1")
	if err := os.Chmod(p.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	log, logs := observed()
	if _, err := New(Files{Cert: p.CertFile, Key: p.KeyFile}, log); err != nil {
		t.Fatal(err)
	}
	if logs.FilterMessageSnippet("chmod 600").Len() != 1 {
		t.Fatalf("no warning for a world-readable key: %v", logs.All())
	}
}

func TestReload(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	dir := t.TempDir()
	first := ca.Client(t, "gw1")
	certPath := copyFile(t, first.CertFile, dir, "gw.crt")
	keyPath := copyFile(t, first.KeyFile, dir, "gw.key")
	log, logs := observed()
	l, err := New(Files{CA: ca.CertFile, Cert: certPath, Key: keyPath}, log)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := l.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := l.Config(); c2 != c1 {
		t.Fatal("unchanged files gave a new config")
	}

	// Renewal: new pair installed atomically.
	second := ca.Client(t, "gw1")
	second.Install(t, certPath, keyPath)
	c3, err := l.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c3 == c1 || !c3.Certificates[0].Leaf.Equal(second.Cert) || !l.Expiry().Equal(second.Cert.NotAfter) {
		t.Fatal("renewed files not loaded")
	}

	// Half-done renewal: only the certificate replaced. The previous config stays; logged once.
	third := ca.Client(t, "gw1")
	if err := os.WriteFile(certPath, third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c, err := l.Config()
		if c != c3 {
			t.Fatalf("call %d: config changed after a failed reload", i)
		}
		if err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("call %d: err %v, want key mismatch", i, err)
		}
	}
	failed := logs.FilterMessageSnippet("do not load")
	if failed.Len() != 1 {
		t.Fatalf("failed reload logged %d times, want once: %v", failed.Len(), failed.All())
	}
	// Key replaced too: loads.
	if err := os.WriteFile(keyPath, third.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c4, err := l.Config()
	if err != nil || !c4.Certificates[0].Leaf.Equal(third.Cert) {
		t.Fatalf("completed renewal not loaded: %v", err)
	}

	// A file that disappears, then garbage, then the good file back.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if c, err := l.Config(); c != c4 || err == nil || !strings.Contains(err.Error(), FieldKey) {
		t.Fatalf("missing key: config kept %v, err %v", c == c4, err)
	}
	write(t, dir, "gw.key", "garbage")
	if c, err := l.Config(); c != c4 || err == nil || !strings.Contains(err.Error(), "no PEM private key") {
		t.Fatalf("garbage key: config kept %v, err %v", c == c4, err)
	}
	if err := os.WriteFile(keyPath, third.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := l.Config(); c != c4 || err != nil {
		t.Fatalf("restored key: same config %v, err %v", c == c4, err)
	}
	if ok, bad := l.Reloads(); ok != 2 || bad != 3 {
		t.Fatalf("Reloads() = %d, %d; want 2 loaded, 3 failed", ok, bad)
	}
	// Nothing secret in the logs.
	for _, e := range logs.All() {
		s := e.Message + " " + strings.Join(mapStrings(e.ContextMap()), " ")
		if strings.Contains(s, strings.Split(string(third.KeyPEM), "\n")[1]) {
			t.Fatalf("log entry quotes a key: %s", s)
		}
	}
}

func mapStrings(m map[string]any) []string {
	var out []string
	for k, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, k+"="+s)
		}
	}
	return out
}

func TestReloadCA(t *testing.T) {
	ca1, ca2 := testpki.NewCA(t, "ca1"), testpki.NewCA(t, "ca2")
	caPath := copyFile(t, ca1.CertFile, t.TempDir(), "ca.pem")
	l, err := New(Files{CA: caPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := l.Config()
	b, err := os.ReadFile(ca2.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := l.Config()
	if err != nil || c2 == c1 {
		t.Fatalf("new CA not loaded: %v", err)
	}
	if _, err := ca2.Cert.Verify(x509VerifyOpts(c2)); err != nil {
		t.Fatalf("reloaded pool does not hold the new CA: %v", err)
	}
	if _, err := ca1.Cert.Verify(x509VerifyOpts(c2)); err == nil {
		t.Fatal("reloaded pool still holds the old CA")
	}
}

func TestForBroker(t *testing.T) {
	l, err := New(Files{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for broker, want := range map[string]string{
		"ssl://127.0.0.1:8883":         "127.0.0.1",
		"mqtts://[::1]:8883":           "::1",
		"ssl://mqtt.city.example:8883": "mqtt.city.example",
	} {
		u, err := url.Parse(broker)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.ForBroker(u).ServerName; got != want {
			t.Errorf("ForBroker(%s).ServerName = %q, want %q", broker, got, want)
		}
	}
	shared, _ := l.Config()
	if shared.ServerName != "" {
		t.Fatalf("ForBroker changed the shared config: ServerName %q", shared.ServerName)
	}
	lo, err := New(Files{ServerName: "broker.internal"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lo.ForBroker(&url.URL{Scheme: "ssl", Host: "10.0.0.5:8883"}).ServerName; got != "broker.internal" {
		t.Fatalf("ServerName %q, want the configured broker.internal", got)
	}
}

func x509VerifyOpts(cfg *tls.Config) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: cfg.RootCAs}
}
