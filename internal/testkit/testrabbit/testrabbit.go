// Package testrabbit runs a real RabbitMQ cluster for tests: Debian's rabbitmq-server with its MQTT
// plugin, each node on free loopback ports (AMQP 0-9-1, MQTT, Erlang distribution) with its own epmd port,
// its data in a temporary directory, clustered with rabbitmqctl join_cluster, stopped when the test
// ends. Tests fail with install instructions when rabbitmq-server is missing, unless
// WAYSIDE_SKIP_CLUSTER_TESTS=1 is set (then they skip).
package testrabbit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

const serverBin = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// Node is one running RabbitMQ node.
type Node struct {
	Name    string // rabbit name, e.g. ws1-3f2a@localhost
	MQTTURL string // tcp://127.0.0.1:port of its MQTT listener
	MQTT    string // host:port
	// AMQPURL is amqp://guest:guest@127.0.0.1:port/ of its AMQP 0-9-1 listener (the default vhost; the
	// nodes allow guest from anywhere, loopback_users = none, and listen on loopback only).
	AMQPURL string
	AMQP    string // host:port

	c    *Cluster
	dir  string
	env  []string
	mu   sync.Mutex
	proc *testproc.Proc
	out  *testlog.Buffer
}

// Cluster is a set of clustered nodes.
type Cluster struct {
	Nodes []*Node
	t     testing.TB
	base  string
	epmd  int
}

// Available fails (or skips) the test when rabbitmq-server is not installed.
func Available(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(serverBin); err == nil {
		return
	}
	testproc.Missing(t, "rabbitmq-server", "WAYSIDE_SKIP_CLUSTER_TESTS",
		"this test needs RabbitMQ and "+serverBin+" is missing: install it with "+
			"`sudo apt-get install -y rabbitmq-server` (or run scripts/deps.sh cluster), or set WAYSIDE_SKIP_CLUSTER_TESTS=1 to skip it")
}

// Start runs n nodes and clusters them (n = 1 is a single node).
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	Available(t)
	base, err := os.MkdirTemp("", "wayside-rabbit-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, base: base}
	t.Cleanup(func() { os.RemoveAll(base) })
	cookie := make([]byte, 16)
	rand.Read(cookie)
	// The Erlang cookie is read from $HOME, shared by the nodes and rabbitmqctl.
	if err := os.WriteFile(filepath.Join(base, ".erlang.cookie"), []byte(strings.ToUpper(hex.EncodeToString(cookie))), 0o400); err != nil {
		t.Fatal(err)
	}
	ports, err := testproc.FreePorts(1 + 3*n)
	if err != nil {
		t.Fatal(err)
	}
	c.epmd = ports[0]
	t.Cleanup(c.stopEPMD)
	suffix := hex.EncodeToString(cookie[:3])
	for i := range n {
		amqp, dist, mqtt := ports[1+3*i], ports[2+3*i], ports[3+3*i]
		nd := &Node{c: c, Name: fmt.Sprintf("ws%d-%s@localhost", i+1, suffix), dir: filepath.Join(base, fmt.Sprint("n", i+1)),
			MQTT: fmt.Sprintf("127.0.0.1:%d", mqtt), AMQP: fmt.Sprintf("127.0.0.1:%d", amqp)}
		nd.MQTTURL = "tcp://" + nd.MQTT
		nd.AMQPURL = "amqp://guest:guest@" + nd.AMQP + "/"
		os.MkdirAll(nd.dir, 0o700)
		conf := fmt.Sprintf("distribution.listener.interface = 127.0.0.1\ndistribution.listener.port_range.min = %d\n"+
			"distribution.listener.port_range.max = %d\nmqtt.listeners.tcp.default = 127.0.0.1:%d\nmqtt.allow_anonymous = true\n"+
			"loopback_users = none\nlog.console = false\n", dist, dist, mqtt)
		os.WriteFile(filepath.Join(nd.dir, "rabbitmq.conf"), []byte(conf), 0o600)
		os.WriteFile(filepath.Join(nd.dir, "enabled_plugins"), []byte("[rabbitmq_mqtt].\n"), 0o600)
		nd.env = append(os.Environ(), "HOME="+base, "RABBITMQ_NODENAME="+nd.Name, "RABBITMQ_USE_LONGNAME=false",
			"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", fmt.Sprintf("RABBITMQ_NODE_PORT=%d", amqp),
			// Without it the node derives its distribution port as the AMQP port + 20000 and refuses to
			// boot when that passes 65535, whatever the config says.
			fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist), fmt.Sprintf("ERL_EPMD_PORT=%d", c.epmd),
			"RABBITMQ_MNESIA_BASE="+filepath.Join(nd.dir, "mnesia"), "RABBITMQ_LOG_BASE="+filepath.Join(nd.dir, "log"),
			"RABBITMQ_CONFIG_FILE="+filepath.Join(nd.dir, "rabbitmq.conf"), "RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(nd.dir, "enabled_plugins"),
			"RABBITMQ_PID_FILE="+filepath.Join(nd.dir, "pid"), "RUNNING_UNDER_SYSTEMD=1") // exec erl: the process is the node
		c.Nodes = append(c.Nodes, nd)
	}
	// Boot every node at once (each takes seconds), then join the others to the first.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.Nodes {
		t.Cleanup(nd.Stop)
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nd.start() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("testrabbit: %v", err)
		}
	}
	for _, nd := range c.Nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.Nodes[0].Name}, {"start_app"}} {
			if out, err := nd.Ctl(args...); err != nil {
				t.Fatalf("testrabbit: rabbitmqctl -n %s %s: %v: %s", nd.Name, strings.Join(args, " "), err, out)
			}
		}
		if err := nd.awaitListeners(); err != nil {
			t.Fatalf("testrabbit: %v", err)
		}
	}
	return c
}

// log returns the tail of the node's log files, for a failing test's message.
func (nd *Node) log() string {
	files, _ := filepath.Glob(filepath.Join(nd.dir, "log", "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", f, data)
	}
	return b.String()
}

// Ctl runs rabbitmqctl against the node.
func (nd *Node) Ctl(args ...string) (string, error) {
	cmd := exec.Command("/usr/lib/rabbitmq/bin/rabbitmqctl", append([]string{"-n", nd.Name}, args...)...)
	cmd.Env = nd.env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (nd *Node) start() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.out = new(testlog.Buffer)
	cmd := exec.Command(serverBin)
	cmd.Env, cmd.Dir = nd.env, nd.dir
	cmd.Stdout, cmd.Stderr = nd.out, nd.out
	p, err := testproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", nd.Name, err)
	}
	nd.proc = p
	// await_startup fails at once until the node has registered with epmd: retry until it answers.
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := nd.Ctl("await_startup", "--timeout", "90")
		if err == nil {
			break
		}
		select {
		case <-p.Done():
			return fmt.Errorf("node %s exited at start: %s\n%s", nd.Name, nd.out, nd.log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s did not start within 90s: %v: %s\n%s", nd.Name, err, out, nd.log())
		}
		time.Sleep(300 * time.Millisecond)
	}
	return nd.awaitListeners()
}

// awaitListeners waits until the node's MQTT and AMQP listeners accept connections.
func (nd *Node) awaitListeners() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if testproc.Listening(nd.MQTT, nd.AMQP) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("node %s: MQTT listener %s or AMQP listener %s not up within 30s", nd.Name, nd.MQTT, nd.AMQP)
}

// Kill kills the node at once (a crash). Safe to call twice.
func (nd *Node) Kill() { nd.stop(syscall.SIGKILL) }

// Stop stops the node (SIGTERM: an orderly shutdown), waiting at most 30 s before killing it.
func (nd *Node) Stop() { nd.stop(syscall.SIGTERM) }

func (nd *Node) stop(sig syscall.Signal) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.proc == nil {
		return
	}
	nd.proc.Stop(sig, 30*time.Second)
	nd.proc = nil
}

// stopEPMD stops the epmd the first node started on the cluster's own port.
func (c *Cluster) stopEPMD() {
	bins, _ := filepath.Glob("/usr/lib/erlang/erts-*/bin/epmd")
	if p, err := exec.LookPath("epmd"); err == nil {
		bins = append([]string{p}, bins...)
	}
	if len(bins) > 0 {
		exec.Command(bins[0], "-port", fmt.Sprint(c.epmd), "-kill").Run()
	}
}
