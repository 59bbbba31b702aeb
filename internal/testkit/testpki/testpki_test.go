package testpki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func roots(ca *CA) *x509.CertPool {
	p := x509.NewCertPool()
	b, err := os.ReadFile(ca.CertFile)
	if err != nil || !p.AppendCertsFromPEM(b) {
		panic("CA file does not load")
	}
	return p
}

func load(t *testing.T, p Pair) *x509.Certificate {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		t.Fatalf("pair does not load: %v", err)
	}
	c, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !c.Equal(p.Cert) {
		t.Fatal("Pair.Cert is not the file's certificate")
	}
	return c
}

func TestServer(t *testing.T) {
	ca, other := NewCA(t, "ca one"), NewCA(t, "ca two")
	c := load(t, ca.Server(t))
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots(ca), DNSName: name}); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", name, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(ca), DNSName: "example.org"}); err == nil {
		t.Error("server certificate verifies for example.org")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(other), DNSName: "localhost"}); err == nil {
		t.Error("server certificate verifies with another CA")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("server certificate usable as a client certificate")
	}
}

func TestClient(t *testing.T) {
	ca := NewCA(t, "ca")
	p := ca.Client(t, "gw/1")
	c := load(t, p)
	if c.Subject.CommonName != "gw/1" {
		t.Fatalf("CN %q", c.Subject.CommonName)
	}
	if filepath.Dir(p.CertFile) != filepath.Dir(ca.CertFile) || filepath.Base(p.CertFile) != "gw_1-1.crt" {
		t.Fatalf("cert file %s", p.CertFile)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not verify: %v", err)
	}
	again := ca.Client(t, "gw/1")
	if again.CertFile == p.CertFile || again.Cert.SerialNumber.Cmp(p.Cert.SerialNumber) == 0 || bytes.Equal(again.KeyPEM, p.KeyPEM) {
		t.Fatal("re-issue reused the file, serial or key")
	}
	for _, f := range []string{p.CertFile, p.KeyFile, ca.CertFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestIssueValidity(t *testing.T) {
	ca := NewCA(t, "ca")
	nb, na := time.Now().Add(-48*time.Hour).Truncate(time.Second), time.Now().Add(-time.Hour).Truncate(time.Second)
	c := load(t, ca.Issue(t, Spec{CN: "old", NotBefore: nb, NotAfter: na}))
	if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(na) {
		t.Fatalf("validity %v..%v, want %v..%v", c.NotBefore, c.NotAfter, nb, na)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("expired certificate verifies")
	}
}

func TestInstall(t *testing.T) {
	ca := NewCA(t, "ca")
	first, second := ca.Client(t, "gw1"), ca.Client(t, "gw1")
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	first.Install(t, certPath, keyPath)
	before, err := os.Stat(certPath)
	if err != nil {
		t.Fatal(err)
	}
	second.Install(t, certPath, keyPath)
	after, err := os.Stat(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if before.Sys().(*syscall.Stat_t).Ino == after.Sys().(*syscall.Stat_t).Ino {
		t.Fatal("Install reused the inode; it must rename a new file over the old")
	}
	if c := load(t, Pair{CertFile: certPath, KeyFile: keyPath, Cert: second.Cert}); c.SerialNumber.Cmp(second.Cert.SerialNumber) != 0 {
		t.Fatal("installed files are not the second pair")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("%d files left in dir, want 2 (no temp files)", len(entries))
	}
}
