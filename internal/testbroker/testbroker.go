// Package testbroker owns the real MQTT broker tests run against: it finds the mosquitto binary, starts
// it on a free loopback port with a config written to the test's temp dir, and stops it when the test
// ends. Tests fail with install instructions when mosquitto is missing, unless
// WAYSIDE_SKIP_BROKER_TESTS=1 is set.
package testbroker

import (
	"bytes"
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
)

// Broker is a running mosquitto.
type Broker struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// URL is tcp://Addr, for the gateway config and paho.
	URL string

	t      testing.TB
	bin    string
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	output *bytes.Buffer
	exited chan error
}

// Persistent is a Start option: the broker keeps sessions and queued messages across a graceful
// restart, in dir.
func Persistent(dir string) string {
	return fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 0", dir)
}

// Binary returns the mosquitto binary's path, or fails (or skips) the test with how to install it.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("WAYSIDE_SKIP_BROKER_TESTS") == "1" {
		t.Skip("mosquitto not installed; skipped because WAYSIDE_SKIP_BROKER_TESTS=1")
	}
	t.Fatal("this test needs a real MQTT broker and mosquitto is not installed: " +
		"install it with `sudo apt-get install -y mosquitto` (Debian/Ubuntu) or `brew install mosquitto` (macOS), " +
		"or set WAYSIDE_SKIP_BROKER_TESTS=1 to skip broker tests")
	return ""
}

// Start runs mosquitto on a free loopback port; extra lines are appended to its config. It is
// stopped when the test ends.
func Start(t testing.TB, extra ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, bin: Binary(t)}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before mosquitto binds it
		port, err := freePort()
		if err != nil {
			t.Fatalf("testbroker: %v", err)
		}
		b.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		b.URL = "tcp://" + b.Addr
		b.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
		// As root, mosquitto drops to the mosquitto user, which cannot write the test's files.
		user := ""
		if os.Geteuid() == 0 {
			user = "user root\n"
		}
		conf := fmt.Sprintf(user+"listener %d 127.0.0.1\nallow_anonymous true\n"+
			"log_dest stderr\nlog_type error\nlog_type warning\n%s\n", port, strings.Join(extra, "\n"))
		if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
			t.Fatalf("testbroker: %v", err)
		}
		if lastErr = b.start(); lastErr == nil {
			t.Cleanup(b.Stop)
			return b
		}
	}
	t.Fatalf("testbroker: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.output = new(bytes.Buffer)
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.output, b.output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("mosquitto exited at start (%v): %s", err, b.output.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			b.cmd = cmd
			b.exited = exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("mosquitto did not listen on %s within 10s: %s", b.Addr, b.output.String())
}

// Stop kills the broker (an outage, as far as clients can tell). It is safe to call twice.
func (b *Broker) Stop() { b.stop(os.Kill) }

// StopGraceful stops the broker with SIGTERM, so a persistent broker saves its sessions and queues.
func (b *Broker) StopGraceful() { b.stop(syscall.SIGTERM) }

func (b *Broker) stop(sig os.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(sig)
	<-b.exited
	for i := 0; i < 100; i++ { // wait for the port to close, bounded
		c, err := net.DialTimeout("tcp", b.Addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	b.cmd = nil
}

// Restart starts the broker again on the same port after Stop.
func (b *Broker) Restart() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("testbroker: restart: %v", err)
	}
}
