package main

import (
	"encoding/json"
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

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testlog"
)

// daemonConfig is a sim-board configuration for the process tests; %s are the broker URL, the state
// directory and the interval of env1 (so a reload can change it).
const daemonConfig = `
gateway: {id: sd-gw-1, board: sim, log_level: info}
sensors:
  - {name: env1,  driver: bme280, bus: i2c1, interval: %[3]s}
  - {name: loop1, driver: pulse,  bus: sim,  pin: GPIO17, interval: 100ms}
cloud: {brokers: [%[1]s]}
batch: {max_readings: 20, max_age: 200ms}
spool: {dir: %[2]s}
local_api: {socket: %[2]s/local.sock}
clock: {trust: always}
`

// buildDaemon compiles waysided once per test binary run.
var buildDaemon = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "waysided-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "waysided")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// procDaemon is waysided running as its own process: its notify socket and its output.
type procDaemon struct {
	cmd    *exec.Cmd
	out    *testlog.Buffer
	exited chan error // cmd.Wait's result; whoever takes it puts it back for the next reader
	ns     *notifySocket
}

// launchDaemon starts bin on cfgPath with a notify socket, env added to its environment. It does not
// wait for READY=1. The process is killed when the test ends, and its output logged if the test failed.
func launchDaemon(t *testing.T, bin, cfgPath string, env ...string) *procDaemon {
	t.Helper()
	d := &procDaemon{cmd: exec.Command(bin, "-config", cfgPath, "-log-format", "json"), out: new(testlog.Buffer),
		exited: make(chan error, 1), ns: listenNotify(t)}
	d.cmd.Env = append(append(os.Environ(), "NOTIFY_SOCKET="+d.ns.path), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		err := <-d.exited
		d.exited <- err
		if t.Failed() {
			t.Logf("waysided output:\n%s", d.out.String())
		}
	})
	return d
}

// notifySocket is the service manager's end of sd_notify: a real unixgram socket.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifySocket{path: path, conn: conn, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

// expect waits for a message containing want, returning it and every message skipped on the way.
func (n *notifySocket) expect(t *testing.T, want string, timeout time.Duration) (string, []string) {
	t.Helper()
	var skipped []string
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed waiting for %q (seen %q)", want, skipped)
			}
			if strings.Contains(m, want) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q from waysided within %v (seen %q)", want, timeout, skipped)
		}
	}
}

// TestServiceLifecycle runs the real daemon as systemd would (Type=notify, WatchdogSec) against a real
// mosquitto: READY once started, watchdog pings while the pipeline runs, a SIGHUP with a broken config
// refused and the old one kept, a SIGHUP with a changed config reloaded (RELOADING, then READY), and
// SIGTERM draining to an orderly offline status and exit 0.
func TestServiceLifecycle(t *testing.T) {
	bin, err := buildDaemon()
	if err != nil {
		t.Fatal(err)
	}
	broker := testbroker.Start(t)
	state := t.TempDir()
	cfgPath := filepath.Join(state, "waysided.yaml")
	writeConfig := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(fmt.Sprintf(daemonConfig, broker.URL, state, "100ms"))
	d := launchDaemon(t, bin, cfgPath, "WATCHDOG_USEC=900000")
	cmd, out, exited, ns := d.cmd, d.out, d.exited, d.ns

	ready, _ := ns.expect(t, "READY=1", 20*time.Second)
	if !strings.Contains(ready, "STATUS=gateway sd-gw-1 on sim, 2 sensors") {
		t.Errorf("READY message %q lacks the status line", ready)
	}
	for i := 0; i < 3; i++ { // pings every 300 ms while the pipeline turns
		ns.expect(t, "WATCHDOG=1", 3*time.Second)
	}

	// A broken file: refused, the running pipeline kept, no RELOADING.
	writeConfig("gateway: {id: sd-gw-1, board: sim\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	refused, skipped := ns.expect(t, "STATUS=reload refused", 10*time.Second)
	for _, m := range skipped {
		if strings.Contains(m, "RELOADING=1") {
			t.Errorf("a refused reload said RELOADING: %q", m)
		}
	}
	if !strings.Contains(refused, "gateway sd-gw-1") {
		t.Errorf("refusal status %q does not say what keeps running", refused)
	}
	for i := 0; !strings.Contains(out.String(), "reload refused"); i++ { // the output is copied by a goroutine
		if i == 100 {
			t.Fatal("no 'reload refused' in the log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns.expect(t, "WATCHDOG=1", 3*time.Second) // still alive, still pinging

	// Options meant for another driver (a radar's units on the BME280): refused the same way, the
	// log naming the option's path.
	writeConfig(strings.Replace(fmt.Sprintf(daemonConfig, broker.URL, state, "100ms"),
		"interval: 100ms}", "interval: 100ms, options: {units: mph}}", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ns.expect(t, "STATUS=reload refused", 10*time.Second)
	for i := 0; !strings.Contains(out.String(), "sensors[0].options.units"); i++ {
		if i == 100 {
			t.Fatal("the refused reload's log does not name sensors[0].options.units")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns.expect(t, "WATCHDOG=1", 3*time.Second)

	// A valid change: RELOADING with a monotonic timestamp, then READY with the new config hash.
	writeConfig(fmt.Sprintf(daemonConfig, broker.URL, state, "250ms"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	reloading, _ := ns.expect(t, "RELOADING=1", 10*time.Second)
	if !strings.Contains(reloading, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", reloading)
	}
	ready2, _ := ns.expect(t, "READY=1", 20*time.Second)
	if ready2 == ready {
		t.Errorf("READY after reload reports the old config: %q", ready2)
	}
	ns.expect(t, "WATCHDOG=1", 3*time.Second)

	// SIGTERM: STOPPING, drain, orderly offline, exit 0 well within a 30 s stop timeout.
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ns.expect(t, "STOPPING=1", 10*time.Second)
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("waysided exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waysided did not exit within 30 s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	st := retainedStatus(t, broker.URL, "sd-gw-1")
	if st.State != "offline" || !st.Clean {
		t.Errorf("retained status after SIGTERM = %+v, want an orderly offline", st)
	}
}

// retainedStatus reads the retained status message of gateway.
func retainedStatus(t *testing.T, url, gateway string) cloudsync.Status {
	t.Helper()
	got := make(chan []byte, 1)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("sd-test-reader"))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	topic := profile.PrefixTopics("wayside/v1", gateway).Status
	if tok := cl.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- append([]byte(nil), m.Payload()...):
		default:
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case b := <-got:
		var st cloudsync.Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("status %q: %v", b, err)
		}
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("no retained status")
	}
	return cloudsync.Status{}
}
