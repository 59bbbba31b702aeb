// Package testbroker owns the real MQTT broker tests run against: it finds the mosquitto binary, starts
// it on free loopback ports with a config written to the test's temp dir, and stops it when the test
// ends. StartWith adds what a production broker has: a TLS listener (optionally requiring client
// certificates and taking the username from the certificate), a password file and an ACL file. Tests
// fail with install instructions when mosquitto is missing, unless WAYSIDE_SKIP_BROKER_TESTS=1 is set.
// Run starts the same broker for a program that is not a test (the end-to-end bench, package e2e).
package testbroker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/internal/testkit/testlog"
	"github.com/wayside-iot/wayside/internal/testkit/testproc"
)

// Broker is a running mosquitto.
type Broker struct {
	// Addr is host:port of the plain listener on 127.0.0.1; empty when the broker only has a TLS one.
	Addr string
	// URL is tcp://Addr, for the gateway config and paho; empty without a plain listener.
	URL string
	// TLSAddr is host:port of the TLS listener on 127.0.0.1, when Options.TLS was set.
	TLSAddr string
	// TLSURL is ssl://TLSAddr (paho v1.5.1 takes ssl, tls, mqtts, mqtt+ssl and tcps for TLS).
	TLSURL string

	t      testing.TB // nil for a broker Run outside a test
	bin    string
	conf   string
	addrs  []string // every listener, for readiness and shutdown
	mu     sync.Mutex
	proc   *testproc.Proc
	output *testlog.Buffer
}

// Options configures the broker StartWith runs. The zero value is Start's broker: one plain listener,
// anonymous clients allowed.
type Options struct {
	// TLS, when set, adds a TLS listener (TLSAddr, TLSURL).
	TLS *TLS
	// Plain keeps a plain listener (Addr, URL) next to the TLS one. Without TLS there always is one.
	Plain bool
	// Users, when set, turns anonymous access off and gives the broker a password file with these
	// name → password entries (mosquitto's PBKDF2-SHA512 "$7$" format).
	Users map[string]string
	// ACL, when set, is the text of the broker's acl_file, e.g.
	// "user gw1\ntopic readwrite wayside/v1/gw1/#". Without it every client may use every topic.
	ACL string
	// Extra lines are appended to the config, after the listeners (as Start's extra).
	Extra []string
}

// TLS configures the broker's TLS listener. The files must be readable by the test's user (mosquitto
// runs as that user, or as root with `user root` when the test runs as root).
type TLS struct {
	// CAFile verifies client certificates; CertFile and KeyFile are the broker's own (see testpki).
	CAFile, CertFile, KeyFile string
	// RequireCertificate refuses clients without a certificate signed by CAFile.
	RequireCertificate bool
	// UseIdentityAsUsername makes the client certificate's CN the username, for the ACL; it needs
	// RequireCertificate and turns anonymous access off.
	UseIdentityAsUsername bool
}

// StartTLS starts mosquitto with a TLS listener presenting certFile and keyFile, and trusting caFile
// for client certificates; o.TLS's other fields (and o.Plain, for a plain listener beside it) are
// kept.
func StartTLS(t testing.TB, caFile, certFile, keyFile string, o Options) *Broker {
	t.Helper()
	tls := TLS{}
	if o.TLS != nil {
		tls = *o.TLS
	}
	tls.CAFile, tls.CertFile, tls.KeyFile = caFile, certFile, keyFile
	o.TLS = &tls
	return StartWith(t, o)
}

// Persistent is a Start option: the broker keeps sessions and queued messages across a graceful
// restart, in dir.
func Persistent(dir string) string {
	return fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 0", dir)
}

// Find returns the mosquitto binary's path: on PATH or where Debian and Homebrew install it.
func Find() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mosquitto is not installed: install it with `sudo apt-get install -y mosquitto` " +
		"(Debian/Ubuntu) or `brew install mosquitto` (macOS)")
}

// Binary returns the mosquitto binary's path, or fails (or skips) the test with how to install it.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := Find(); err == nil {
		return p
	}
	testproc.Missing(t, "mosquitto", "WAYSIDE_SKIP_BROKER_TESTS",
		"this test needs a real MQTT broker and mosquitto is not installed: "+
			"install it with `sudo apt-get install -y mosquitto` (Debian/Ubuntu) or `brew install mosquitto` (macOS), "+
			"or set WAYSIDE_SKIP_BROKER_TESTS=1 to skip broker tests")
	return ""
}

// Start runs mosquitto on a free loopback port; extra lines are appended to its config. It is
// stopped when the test ends.
func Start(t testing.TB, extra ...string) *Broker {
	t.Helper()
	return StartWith(t, Options{Extra: extra})
}

// StartWith runs mosquitto configured by o on free loopback ports. It is stopped when the test ends.
// Several brokers may run in one test (each call has its own ports and files).
func StartWith(t testing.TB, o Options) *Broker {
	t.Helper()
	b, err := launch(Binary(t), t.TempDir(), o)
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	b.t = t
	t.Cleanup(b.Stop)
	return b
}

// Run is StartWith for a program that is not a test (the end-to-end bench): the config goes into dir,
// errors are returned, and the caller stops the broker (StopWithin).
func Run(dir string, o Options) (*Broker, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	return launch(bin, dir, o)
}

// launch writes the config for o into dir and starts bin on free loopback ports, trying new ports
// when another process took one first.
func launch(bin, dir string, o Options) (*Broker, error) {
	b := &Broker{bin: bin}
	security, err := writeSecurity(dir, o)
	if err != nil {
		return nil, err
	}
	plain := o.TLS == nil || o.Plain
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before mosquitto binds it
		ports, err := testproc.FreePorts(2)
		if err != nil {
			return nil, err
		}
		b.Addr, b.URL, b.TLSAddr, b.TLSURL, b.addrs = "", "", "", "", nil
		var conf strings.Builder
		// As root, mosquitto drops to the mosquitto user, which cannot write the test's files.
		if os.Geteuid() == 0 {
			conf.WriteString("user root\n")
		}
		conf.WriteString(security)
		conf.WriteString("log_dest stderr\nlog_type error\nlog_type warning\n")
		if o.TLS != nil {
			b.TLSAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
			b.TLSURL = "ssl://" + b.TLSAddr
			b.addrs = append(b.addrs, b.TLSAddr)
			fmt.Fprintf(&conf, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n",
				ports[1], o.TLS.CAFile, o.TLS.CertFile, o.TLS.KeyFile)
			if o.TLS.RequireCertificate {
				conf.WriteString("require_certificate true\n")
			}
			if o.TLS.UseIdentityAsUsername {
				conf.WriteString("use_identity_as_username true\n")
			}
		}
		if plain { // last, so Start's extra lines follow the plain listener as they always did
			b.Addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
			b.URL = "tcp://" + b.Addr
			b.addrs = append(b.addrs, b.Addr)
			fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", ports[0])
		}
		conf.WriteString(strings.Join(o.Extra, "\n"))
		conf.WriteString("\n")
		b.conf = filepath.Join(dir, fmt.Sprintf("mosquitto-%d.conf", attempt))
		if err := os.WriteFile(b.conf, []byte(conf.String()), 0o600); err != nil {
			return nil, err
		}
		if lastErr = b.start(); lastErr == nil {
			return b, nil
		}
	}
	return nil, lastErr
}

// writeSecurity writes the password and ACL files into dir and returns the config lines that use them.
func writeSecurity(dir string, o Options) (string, error) {
	var conf strings.Builder
	anonymous := len(o.Users) == 0 && (o.TLS == nil || !o.TLS.UseIdentityAsUsername)
	fmt.Fprintf(&conf, "allow_anonymous %t\n", anonymous)
	if len(o.Users) > 0 {
		path := filepath.Join(dir, "passwd")
		if err := writePasswordFile(path, o.Users); err != nil {
			return "", err
		}
		fmt.Fprintf(&conf, "password_file %s\n", path)
	}
	if o.ACL != "" {
		path := filepath.Join(dir, "acl")
		if err := os.WriteFile(path, []byte(o.ACL+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write acl file: %w", err)
		}
		fmt.Fprintf(&conf, "acl_file %s\n", path)
	}
	return conf.String(), nil
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.output = &testlog.Buffer{Max: 1 << 20}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.output, b.output
	p, err := testproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", b.bin, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			return fmt.Errorf("mosquitto exited at start (%v): %s", p.Err(), b.output.String())
		default:
		}
		if testproc.Listening(b.addrs...) {
			b.proc = p
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop(os.Kill, 0)
	return fmt.Errorf("mosquitto did not listen on %s within 10s: %s", strings.Join(b.addrs, ", "), b.output.String())
}

// PID is the broker's process id, 0 while it is stopped.
func (b *Broker) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return 0
	}
	return b.proc.Cmd.Process.Pid
}

// Stop kills the broker (an outage, as far as clients can tell). It is safe to call twice.
func (b *Broker) Stop() { b.stop(os.Kill, 0) }

// StopGraceful stops the broker with SIGTERM, so a persistent broker saves its sessions and queues.
func (b *Broker) StopGraceful() { b.stop(syscall.SIGTERM, 0) }

// StopWithin stops the broker with SIGTERM, killing it when it has not exited within d.
func (b *Broker) StopWithin(d time.Duration) error {
	if b.stop(syscall.SIGTERM, d) {
		return fmt.Errorf("mosquitto did not stop within %v of SIGTERM; killed", d)
	}
	return nil
}

// stop signals the broker, waits for it (at most within, then it is killed; 0: as long as it takes)
// and for its ports to close; killed tells whether it had to be killed.
func (b *Broker) stop(sig os.Signal, within time.Duration) (killed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return false
	}
	killed = b.proc.Stop(sig, within)
	for _, a := range b.addrs {
		for i := 0; i < 100; i++ { // wait for the port to close, bounded
			c, err := net.DialTimeout("tcp", a, 50*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.proc = nil
	return killed
}

// Restart starts the broker again on the same port after Stop; only for a broker a test started.
func (b *Broker) Restart() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("testbroker: restart: %v", err)
	}
}
