// Package e2e owns the end-to-end part of `make bench`: it starts a real mosquitto on a loopback port,
// writes waysided configurations (the sim board's sensors, or the synthetic load part at a given rate),
// runs the daemon as a separate process against the broker, counts the readings a separate paho
// subscriber receives at QoS 1 and checks them (every pack decoded with senml.Decode, batch sequence
// numbers unique), and reads the daemon's CPU time and memory from /proc. Every wait is bounded.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Broker is a mosquitto process on a loopback port.
type Broker struct {
	Addr string // 127.0.0.1:port
	URL  string // tcp://Addr

	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan error
}

// MosquittoBinary finds mosquitto on PATH or where Debian and Homebrew install it.
func MosquittoBinary() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("e2e: mosquitto is not installed: install it with `sudo apt-get install -y mosquitto` " +
		"(Debian/Ubuntu) or `brew install mosquitto` (macOS)")
}

// StartBroker runs mosquitto with a config written into dir: one listener on a free 127.0.0.1 port,
// anonymous clients, queues deep enough that a subscriber falling behind for a moment loses nothing
// (the suite counts every reading). It waits until the port accepts connections (at most 10 s).
func StartBroker(dir string) (*Broker, error) {
	bin, err := MosquittoBinary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before mosquitto binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		var conf strings.Builder
		if os.Geteuid() == 0 {
			conf.WriteString("user root\n") // as root, mosquitto would drop to a user that cannot read dir
		}
		fmt.Fprintf(&conf, "listener %d 127.0.0.1\nallow_anonymous true\n", port)
		conf.WriteString("max_queued_messages 1000000\nmax_inflight_messages 100\n")
		conf.WriteString("log_dest stderr\nlog_type error\nlog_type warning\n")
		path := filepath.Join(dir, fmt.Sprintf("mosquitto-%d.conf", attempt))
		if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
			return nil, fmt.Errorf("e2e: write mosquitto config: %w", err)
		}
		b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), out: &lockedBuffer{}, exited: make(chan error, 1)}
		b.URL = "tcp://" + b.Addr
		b.cmd = exec.Command(bin, "-c", path)
		b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
		if lastErr = b.start(); lastErr == nil {
			return b, nil
		}
	}
	return nil, lastErr
}

func (b *Broker) start() error {
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("e2e: start mosquitto: %w", err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-b.exited:
			return fmt.Errorf("e2e: mosquitto exited at start (%v): %s", err, b.out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
	}
	b.cmd.Process.Kill()
	<-b.exited
	return fmt.Errorf("e2e: mosquitto did not listen on %s within 10s: %s", b.Addr, b.out.String())
}

// PID is the broker's process id.
func (b *Broker) PID() int { return b.cmd.Process.Pid }

// Stop terminates the broker and waits for it (at most 5 s, then it is killed).
func (b *Broker) Stop() error {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		return nil
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		return fmt.Errorf("e2e: mosquitto did not stop within 5s of SIGTERM; killed")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("e2e: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a child's output; it keeps the first 1 MiB.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxOutput = 1 << 20

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := maxOutput - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
