// Package testpki owns the certificates tests use for TLS: it generates, inside the test, ECDSA P-256
// certificate authorities, server certificates for the loopback broker (127.0.0.1, ::1, localhost) and
// client certificates (CN = the client's name), and writes them as PEM files into the test's temp dir.
// It uses crypto/x509 only; nothing leaves the test.
//
// A test that needs "the wrong CA" makes a second one with NewCA; a test of certificate reload issues a
// new pair and installs it over the paths a loader watches with Pair.Install.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	// Name is the CA's common name.
	Name string
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// CertFile is the CA certificate as a PEM file (for cafile / cloud.tls.ca).
	CertFile string

	key *ecdsa.PrivateKey
	dir string

	mu     sync.Mutex
	serial int64
	issued int
}

// Pair is an issued certificate and its private key, as PEM files.
type Pair struct {
	Cert     *x509.Certificate
	CertFile string
	KeyFile  string
	// CertPEM and KeyPEM are the files' contents.
	CertPEM, KeyPEM []byte
}

// Spec describes a certificate to issue. Zero NotBefore means an hour ago; zero NotAfter means a year
// from NotBefore.
type Spec struct {
	CN        string
	Server    bool // extended key usage serverAuth (else clientAuth)
	DNSNames  []string
	IPs       []net.IP
	NotBefore time.Time
	NotAfter  time.Time
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// NewCA makes a CA named name and writes its certificate into a new temp dir of t.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: CA %s key: %v", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Wayside tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testpki: CA %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: CA %s: %v", name, err)
	}
	ca := &CA{Name: name, Cert: cert, key: key, dir: t.TempDir(), serial: 1}
	ca.CertFile = filepath.Join(ca.dir, fileBase(name)+"-ca.pem")
	writeFile(t, ca.CertFile, pemBlock("CERTIFICATE", der))
	return ca
}

// Server issues a server certificate for the loopback broker: 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(t testing.TB) Pair {
	t.Helper()
	return ca.Issue(t, Spec{
		CN: "localhost", Server: true, DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
}

// Client issues a client certificate whose CN is cn (the broker's username with
// use_identity_as_username).
func (ca *CA) Client(t testing.TB, cn string) Pair {
	t.Helper()
	return ca.Issue(t, Spec{CN: cn})
}

// Issue issues a certificate as spec says and writes it and its key into the CA's dir, under names not
// used before: each call gives new files.
func (ca *CA) Issue(t testing.TB, spec Spec) Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: key for %s: %v", spec.CN, err)
	}
	nb, na := spec.NotBefore, spec.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.Add(365 * 24 * time.Hour)
	}
	usage := x509.ExtKeyUsageClientAuth
	if spec.Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	ca.mu.Lock()
	ca.serial++
	ca.issued++
	serial, n := ca.serial, ca.issued
	ca.mu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: spec.CN, Organization: []string{"Wayside tests"}},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("testpki: issue %s: %v", spec.CN, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: issue %s: %v", spec.CN, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: key for %s: %v", spec.CN, err)
	}
	base := filepath.Join(ca.dir, fmt.Sprintf("%s-%d", fileBase(spec.CN), n))
	p := Pair{
		Cert: cert, CertFile: base + ".crt", KeyFile: base + ".key",
		CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", keyDER),
	}
	writeFile(t, p.CertFile, p.CertPEM)
	writeFile(t, p.KeyFile, p.KeyPEM)
	return p
}

// Install writes the pair over certPath and keyPath, each atomically (a temp file renamed over it), the
// way certificate renewal tools replace files: a watcher sees a new inode.
func (p Pair) Install(t testing.TB, certPath, keyPath string) {
	t.Helper()
	replaceFile(t, certPath, p.CertPEM)
	replaceFile(t, keyPath, p.KeyPEM)
}

func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("testpki: replace %s: %v", path, err)
	}
}

func fileBase(name string) string {
	if s := unsafeName.ReplaceAllString(name, "_"); s != "" {
		return s
	}
	return "cert"
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile writes with mode 0600: the test's user (and root, which mosquitto runs as in CI) reads it.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("testpki: write %s: %v", path, err)
	}
}

// ClientTLS returns a TLS configuration that trusts only this CA, for a test's own MQTT clients.
func (ca *CA) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
