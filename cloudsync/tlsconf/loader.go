package tlsconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Config field paths, as errors name them.
const (
	FieldCA         = "cloud.tls.ca"
	FieldCert       = "cloud.tls.cert"
	FieldKey        = "cloud.tls.key"
	FieldServerName = "cloud.tls.server_name"
)

// ExpiryWarning is how long before its expiry a client certificate is logged as expiring soon.
const ExpiryWarning = 30 * 24 * time.Hour

// maxFileSize bounds what is read from a configured path: PEM files are a few KiB, and a path such as
// /dev/zero must not hang the link.
const maxFileSize = 1 << 20

// Files names the TLS files of the MQTT link; empty fields are not used.
type Files struct {
	// CA is a PEM file of the CA certificates that may sign the broker's certificate. Empty: the
	// system's roots.
	CA string
	// Cert and Key are the gateway's client certificate (PEM, leaf first, then intermediates) and its
	// unencrypted private key (PEM: PKCS#8, PKCS#1 or SEC 1), for brokers that authenticate clients
	// by certificate (mTLS). Both or neither.
	Cert, Key string
	// ServerName, when set, is the name the broker's certificate is verified against (and sent as
	// SNI) instead of the broker URL's host: for a broker reached by an address its certificate does
	// not name.
	ServerName string
	// FieldPrefix is the config path errors and logs name the files under, e.g. "mqtt.tls" for
	// mqtt.tls.ca; empty: "cloud.tls", the gateway's.
	FieldPrefix string
}

// field returns name, one of the Field constants, under f.FieldPrefix.
func (f Files) field(name string) string {
	if f.FieldPrefix == "" {
		return name
	}
	return f.FieldPrefix + strings.TrimPrefix(name, "cloud.tls")
}

// Loader holds the current TLS config for the MQTT link and reloads it when its files change. Its
// methods may be called from any goroutine.
type Loader struct {
	files Files
	log   *zap.Logger

	mu       sync.Mutex
	cfg      *tls.Config // the last good config; never nil after New
	leaf     *x509.Certificate
	loaded   [sha256.Size]byte // digest of the files the config was built from
	failed   [sha256.Size]byte // digest of the files the last failed reload read
	failErr  error             // that reload's error, nil once a reload succeeds
	reloads  int
	failures int
}

// New loads the files now. Its errors name the config field and say what to fix; a client
// certificate that expires within ExpiryWarning is logged as a warning.
func New(f Files, log *zap.Logger) (*Loader, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if (f.Cert == "") != (f.Key == "") {
		if f.Cert == "" {
			return nil, fmt.Errorf("tlsconf: %s is missing: %s is set, and a client certificate needs both; set %s to the certificate's PEM file or remove %s",
				f.field(FieldCert), f.field(FieldKey), f.field(FieldCert), f.field(FieldKey))
		}
		return nil, fmt.Errorf("tlsconf: %s is missing: %s is set, and a client certificate needs both; set %s to its private key's PEM file or remove %s",
			f.field(FieldKey), f.field(FieldCert), f.field(FieldKey), f.field(FieldCert))
	}
	if strings.ContainsAny(f.ServerName, " /:") {
		return nil, fmt.Errorf("tlsconf: %s %q is not a host name; give the name the broker's certificate carries, e.g. mqtt.city.example",
			f.field(FieldServerName), f.ServerName)
	}
	l := &Loader{files: f, log: log.Named("tls")}
	raw, err := l.read()
	if err != nil {
		return nil, err
	}
	b, err := l.build(raw, time.Now())
	if err != nil {
		return nil, err
	}
	l.cfg, l.leaf, l.loaded = b.cfg, b.leaf, raw.digest()
	l.logLoaded("tls files loaded", b)
	return l, nil
}

// Config returns the current config, first reloading the files if their contents changed since the
// last load. The config is shared: do not modify it (Clone it, or use ForBroker). When the files
// changed but do not load, Config returns the previous config together with the reason, which it has
// logged (once for each new content); the config is usable either way.
func (l *Loader) Config() (*tls.Config, error) {
	raw, readErr := l.read()
	l.mu.Lock()
	defer l.mu.Unlock()
	if readErr == nil && raw.digest() == l.loaded {
		l.failErr = nil // back to the loaded files (e.g. a bad edit was undone)
		return l.cfg, nil
	}
	digest := raw.digest() // of what could be read; a missing file counts as empty
	if l.failErr != nil && digest == l.failed {
		return l.cfg, l.failErr // already logged
	}
	err := readErr
	var b built
	if err == nil {
		b, err = l.build(raw, time.Now())
	}
	if err != nil {
		l.failed, l.failErr = digest, err
		l.failures++
		l.log.Warn("tls files changed but do not load; keeping the previous ones until they are fixed",
			zap.Error(err))
		return l.cfg, err
	}
	l.cfg, l.leaf, l.loaded, l.failErr = b.cfg, b.leaf, digest, nil
	l.reloads++
	l.logLoaded("tls files reloaded", b)
	return l.cfg, nil
}

// ForBroker returns a copy of the current config (see Config) whose ServerName is Files.ServerName or,
// when that is empty, broker's host. It is what the paho connection attempt handler should return.
func (l *Loader) ForBroker(broker *url.URL) *tls.Config {
	cfg, _ := l.Config() // a failed reload is logged by Config; the previous config is still good
	c := cfg.Clone()
	if c.ServerName == "" && broker != nil {
		c.ServerName = broker.Hostname()
	}
	return c
}

// Expiry returns when the loaded client certificate expires; zero without one.
func (l *Loader) Expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leaf == nil {
		return time.Time{}
	}
	return l.leaf.NotAfter
}

// Reloads returns how many times changed files were loaded, and how many changed contents failed to.
func (l *Loader) Reloads() (ok, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reloads, l.failures
}

// contents are the three files as read; nil for a field that is not set.
type contents struct {
	ca, cert, key []byte
}

func (c contents) digest() [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{c.ca, c.cert, c.key} {
		fmt.Fprintf(h, "%d:", len(b)) // length-prefixed, so moving bytes between files changes the digest
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// read reads the configured files. On error the contents hold what could be read.
func (l *Loader) read() (contents, error) {
	var c contents
	var errs []error
	for _, f := range []struct {
		field, path string
		dst         *[]byte
	}{{l.files.field(FieldCA), l.files.CA, &c.ca}, {l.files.field(FieldCert), l.files.Cert, &c.cert}, {l.files.field(FieldKey), l.files.Key, &c.key}} {
		if f.path == "" {
			continue
		}
		b, err := readFile(f.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("tlsconf: %s %s: %w", f.field, f.path, err))
			continue
		}
		*f.dst = b
	}
	return c, errors.Join(errs...)
}

func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such file; check the path")
		}
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d KiB; a PEM file is a few KiB: is this the right file?", maxFileSize>>10)
	}
	return b, nil
}

type built struct {
	cfg      *tls.Config
	leaf     *x509.Certificate
	cas      []*x509.Certificate
	warnings []string
}

// build parses the files' contents into a config. Errors name the field; they never quote the files.
func (l *Loader) build(c contents, now time.Time) (built, error) {
	b := built{cfg: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: l.files.ServerName}}
	if l.files.CA != "" {
		cas, err := parseCerts(c.ca)
		if err != nil {
			return built{}, fmt.Errorf("tlsconf: %s %s: %w; it must hold the PEM certificate(s) of the CA that signed the broker's certificate",
				l.files.field(FieldCA), l.files.CA, err)
		}
		pool := x509.NewCertPool()
		for _, ca := range cas {
			pool.AddCert(ca)
			if now.After(ca.NotAfter) {
				b.warnings = append(b.warnings, fmt.Sprintf("%s: CA certificate %q expired on %s", l.files.field(FieldCA), ca.Subject.CommonName, ca.NotAfter.UTC().Format(time.DateOnly)))
			}
		}
		b.cfg.RootCAs, b.cas = pool, cas
	}
	if l.files.Cert == "" {
		return b, nil
	}
	chain, err := parseCerts(c.cert)
	if err != nil {
		return built{}, fmt.Errorf("tlsconf: %s %s: %w; it must hold the gateway's PEM client certificate", l.files.field(FieldCert), l.files.Cert, err)
	}
	leaf := chain[0]
	if now.After(leaf.NotAfter) {
		return built{}, fmt.Errorf("tlsconf: %s %s: the certificate %q expired on %s; install a renewed one",
			l.files.field(FieldCert), l.files.Cert, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) { // not an error: boards without a battery clock boot in the past
		b.warnings = append(b.warnings, fmt.Sprintf("%s: certificate %q is not valid before %s: is the clock set?",
			l.files.field(FieldCert), leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	if err := checkKeyPEM(c.key); err != nil {
		return built{}, fmt.Errorf("tlsconf: %s %s: %w", l.files.field(FieldKey), l.files.Key, err)
	}
	pair, err := tls.X509KeyPair(c.cert, c.key)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return built{}, fmt.Errorf("tlsconf: %s %s: the private key does not match the certificate in %s %s; install the key and certificate of the same pair",
				l.files.field(FieldKey), l.files.Key, l.files.field(FieldCert), l.files.Cert)
		}
		return built{}, fmt.Errorf("tlsconf: %s %s: %w", l.files.field(FieldKey), l.files.Key, err)
	}
	pair.Leaf = leaf
	b.cfg.Certificates = []tls.Certificate{pair}
	b.leaf = leaf
	if st, err := os.Stat(l.files.Key); err == nil && st.Mode().Perm()&0o077 != 0 {
		b.warnings = append(b.warnings, fmt.Sprintf("%s: %s is readable by other users (mode %v); chmod 600 it", l.files.field(FieldKey), l.files.Key, st.Mode().Perm()))
	}
	return b, nil
}

// parseCerts parses every CERTIFICATE block of data; there must be at least one.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, errors.New("the file is empty")
		}
		return nil, errors.New("no PEM certificate in it (-----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

// checkKeyPEM says what is wrong with a key file before crypto/tls gives a vaguer message.
func checkKeyPEM(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("the file is empty; it must hold the PEM private key of the client certificate")
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("no PEM private key in it (-----BEGIN PRIVATE KEY-----); it must hold the client certificate's key")
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return errors.New("the private key is encrypted, which is not supported; store it decrypted with mode 600 (openssl pkey -in KEY -out KEY.plain)")
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			return nil
		}
	}
}

// logLoaded logs what was loaded (public certificate facts only) and its warnings.
func (l *Loader) logLoaded(msg string, b built) {
	fields := []zap.Field{zap.Bool("system_roots", l.files.CA == ""), zap.Int("ca_certs", len(b.cas))}
	if b.leaf != nil {
		fields = append(fields, zap.String("client_cert", b.leaf.Subject.CommonName),
			zap.String("issuer", b.leaf.Issuer.CommonName), zap.Time("not_after", b.leaf.NotAfter))
	}
	l.log.Info(msg, fields...)
	for _, w := range b.warnings {
		l.log.Warn(w)
	}
	if b.leaf != nil {
		if left := time.Until(b.leaf.NotAfter); left < ExpiryWarning {
			l.log.Warn("tls client certificate expires soon; renew it", zap.String("field", l.files.field(FieldCert)),
				zap.String("client_cert", b.leaf.Subject.CommonName), zap.Time("not_after", b.leaf.NotAfter),
				zap.Int("days_left", int(left.Hours()/24)))
		}
	}
}
