package cli_test

// These tests build the real wayside binary and run it against a real daemon on the sim board: the
// gateway and the local API server in-process (as cmd/waysided wires them), syncing to a real
// mosquitto (internal/testkit/testbroker), its socket in a short temporary directory. TestRealDaemon runs
// the waysided binary itself.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
	"github.com/wayside-iot/wayside/gateway/localapi/client"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testlog"
)

// binDir holds the binaries built once by TestMain; world-readable so another uid can run them.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var buildOnce sync.Map // binary name -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// build builds ./cmd/<name> from the module root once per test binary run.
func build(t *testing.T, name string, tags ...string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		r.path = filepath.Join(binDir, name)
		args := []string{"build", "-o", r.path, "-ldflags", "-X main.version=test-cli"}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		cmd := exec.Command("go", append(args, "./cmd/"+name)...)
		cmd.Dir = "../.."
		r.out, r.err = cmd.CombinedOutput()
	})
	if r.err != nil {
		t.Fatalf("go build %s: %v\n%s", name, r.err, r.out)
	}
	return r.path
}

// testConfig is the sim configuration of the gateway's integration tests (configs/testdata/sim.yaml)
// as these tests run it: their own gateway id, seed and batch age, without the pm and gps sensors, and
// with a local API socket; %s are the broker URL, the state directory, the socket and a group setting.
func testConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "testdata", "sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, e := range [][2]string{
		{"id: it-gw-1,", "id: cli-gw-1,"},
		{"sim: {seed: 7}", "sim: {seed: 3}"},
		{"  - {name: pm,     driver: pms5003, bus: uart1, interval: 60ms}\n", ""},
		{"  - {name: gps,    driver: nmea,    bus: uart0, interval: 200ms, phase: -50ms}\n", ""},
		{"max_age: 200ms}", "max_age: 100ms}"},
	} {
		if !strings.Contains(text, e[0]) {
			t.Fatalf("configs/testdata/sim.yaml lacks %q", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	return text + "local_api: {socket: %s%s}\n"
}

var testSensors = []string{"env1", "air1", "co2", "noise", "light", "loop1", "radar", "bay1"}

// daemon is a gateway and its local API on the sim board.
type daemon struct {
	socket string
	dir    string
	broker *testbroker.Broker
	cfg    *config.Config
	logs   *testlog.Buffer
}

// shortDir is a temporary directory with a path short enough for a unix socket (~108 bytes), open
// to every user so a test can run the CLI as another uid.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ws")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startDaemon runs a gateway and its local API in-process on testConfig; edits, when given, rewrite
// the configuration text first.
func startDaemon(t *testing.T, group string, edits ...func(string) string) *daemon {
	t.Helper()
	return startDaemonWith(t, group, nil, edits...)
}

// startDaemonWith is startDaemon with gw, when set, adjusting the gateway's options (a clock that is
// not trusted).
func startDaemonWith(t *testing.T, group string, gw func(*gateway.Options), edits ...func(string) string) *daemon {
	t.Helper()
	d := &daemon{broker: testbroker.Start(t), dir: shortDir(t), logs: &testlog.Buffer{}}
	d.socket = filepath.Join(d.dir, "local.sock")
	groupLine := ""
	if group != "" {
		groupLine = ", group: " + group
	}
	text := fmt.Sprintf(testConfig(t), d.broker.URL, filepath.Join(d.dir, "state"), d.socket, groupLine)
	for _, edit := range edits {
		text = edit(text)
	}
	cfg, err := config.Parse([]byte(text), boards.Check)
	if err != nil {
		t.Fatal(err)
	}
	d.cfg = cfg
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(d.logs), level))
	gopts := gateway.Options{Config: cfg, Version: "test-daemon", Log: log, DrainTimeout: 2 * time.Second}
	if gw != nil {
		gw(&gopts)
	}
	g, err := gateway.New(gopts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := localapi.New(localapi.Options{Gateway: g, Config: cfg, Version: "test-daemon", Level: level, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(d.socket); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop within 10s")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.logs.String())
		}
	})
	d.waitConnected(t, true)
	return d
}

// waitConnected waits until the daemon's cloud link is (or is not) connected.
func (d *daemon) waitConnected(t *testing.T, want bool) {
	t.Helper()
	cl := client.New(d.socket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := cl.Cloud(ctx)
		cancel()
		if err == nil && c.Connected == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cloud link connected=%v not reached within 10s (last error %v)", want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the wayside binary with args, bounded in time, with the environment of a plain pipe
// (no colour). cred, when set, runs it as another user.
func run(t *testing.T, cred *syscall.Credential, env []string, args ...string) result {
	t.Helper()
	bin := build(t, "wayside")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/"}, env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run wayside %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("wayside %s did not finish within 20s", strings.Join(args, " "))
	}
	return result{so.String(), se.String(), code}
}

func (d *daemon) cli(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, nil, append([]string{"--socket", d.socket}, args...)...)
}

func mustOK(t *testing.T, r result, args ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("wayside %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
}

func contains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("--json output is not a %T: %v\n%s", v, err, r.stdout)
	}
	return v
}

// TestCommands runs every read-only command, human and --json, against one daemon.
func TestCommands(t *testing.T) {
	d := startDaemon(t, "")
	// Let every sensor be sampled and a few batches be acknowledged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := client.New(d.socket).Status(context.Background())
		if err == nil && st.Cloud.Acked >= 2 && len(st.Problems) == 0 && allSampled(st.Sensors) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not settled within 10s: %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	t.Run("status", func(t *testing.T) {
		r := d.cli(t, "status")
		mustOK(t, r, "status")
		contains(t, "status", r.stdout, "cli-gw-1", "sim (simulated board)", "waysided test-daemon", "OK no problems found",
			"Clock", "trusted (policy always)", "Cloud", "connected "+d.broker.URL, "acked", "Ring", "of 4,096 readings", "Spool", "on disk",
			"SENSOR", "STATE", "LAST GOOD")
		for _, s := range testSensors {
			if !regexpLine(r.stdout, s, "ok") {
				t.Errorf("status has no line for sensor %s in state ok:\n%s", s, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("colour codes in output to a pipe:\n%q", r.stdout)
		}
	})
	t.Run("status --json", func(t *testing.T) {
		r := d.cli(t, "status", "--json")
		mustOK(t, r)
		st := decode[apitype.Status](t, r)
		if st.Gateway != "cli-gw-1" || st.Board != "sim" || st.Version != "test-daemon" || len(st.BootID) != 32 ||
			!st.Clock.Trusted || st.Clock.Trust != "always" || !st.Cloud.Connected || st.Cloud.Broker != d.broker.URL ||
			st.Cloud.Acked == 0 || st.Ring.Cap != 4096 || st.UptimeS <= 0 || st.Pipeline.Readings == 0 ||
			st.Spool.Dir != filepath.Join(d.dir, "state", "spool") || st.Spool.QuotaBytes == 0 || !st.Spool.DirWritable ||
			len(st.Sensors) != len(testSensors) || st.Problems == nil || st.LogLevel != "info" {
			t.Errorf("status JSON: %+v", st)
		}
		if r2 := d.cli(t, "--json", "status"); r2.code != 0 || !json.Valid([]byte(r2.stdout)) {
			t.Errorf("--json before the command: exit %d, %s", r2.code, r2.stdout)
		}
	})
	t.Run("sensors", func(t *testing.T) {
		r := d.cli(t, "sensors")
		mustOK(t, r)
		contains(t, "sensors", r.stdout, "ADDR/PIN", "EVERY", "NO DATA", "0x76", "GPIO17", "50ms", "bme280")
		ss := decode[[]apitype.Sensor](t, d.cli(t, "sensors", "--json"))
		if len(ss) != len(testSensors) {
			t.Fatalf("sensors JSON: %+v", ss)
		}
		for i, s := range ss {
			if s.Name != testSensors[i] || s.State != "ok" || s.Reads == 0 || s.LastGoodAt.IsZero() {
				t.Errorf("sensor %d: %+v", i, s)
			}
		}
		if ss[0].Address != "0x76" || ss[0].Bus != "i2c1" || ss[0].IntervalMs != 50 || ss[5].Pin != "GPIO17" {
			t.Errorf("sensor config fields: %+v %+v", ss[0], ss[5])
		}
	})
	t.Run("read", func(t *testing.T) {
		r := d.cli(t, "read", "env1")
		mustOK(t, r)
		contains(t, "read env1", r.stdout, "env1 (bme280)", "MEASUREMENT", "temperature", "Cel", "humidity", "%RH", "pressure", "Pa")
		rd := decode[apitype.Read](t, d.cli(t, "read", "env1", "--json"))
		if rd.Sensor != "env1" || rd.Driver != "bme280" || len(rd.Values) != 3 || rd.Values[0].Name != "temperature" ||
			rd.Values[0].Unit != "Cel" || rd.Values[0].Value < -40 || rd.Values[0].Value > 85 {
			t.Errorf("read JSON: %+v", rd)
		}
	})
	t.Run("read unknown", func(t *testing.T) {
		r := d.cli(t, "read", "nope")
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit %d, stdout %q; want 1 and nothing", r.code, r.stdout)
		}
		want := `wayside: unknown sensor "nope"; configured: ` + strings.Join(testSensors, ", ") + "\n"
		if r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		if r := d.cli(t, "read"); r.code != 2 || !strings.Contains(r.stderr, "read needs one sensor name") {
			t.Errorf("read without a name: exit %d, %q", r.code, r.stderr)
		}
	})
	t.Run("tail -n", func(t *testing.T) {
		start := time.Now()
		r := d.cli(t, "tail", "-n", "5", "env1", "radar")
		mustOK(t, r)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 5 {
			t.Fatalf("want 5 lines, got %d:\n%s", len(lines), r.stdout)
		}
		for _, l := range lines {
			if !strings.Contains(l, "env1/") && !strings.Contains(l, "radar/") {
				t.Errorf("line of another sensor: %q", l)
			}
		}
		contains(t, "tail stderr", r.stderr, "tailing env1, radar")
		if time.Since(start) > 10*time.Second {
			t.Errorf("tail -n 5 took %v", time.Since(start))
		}
		r = d.cli(t, "--json", "tail", "-n", "3", "air1")
		mustOK(t, r)
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		n := 0
		for sc.Scan() {
			var l apitype.TailLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Sensor != "air1" || l.Unit == "" || l.Time.IsZero() {
				t.Errorf("tail line %q: %+v %v", sc.Text(), l, err)
			}
			n++
		}
		if n != 3 {
			t.Errorf("want 3 NDJSON lines, got %d", n)
		}
		if r := d.cli(t, "tail", "nope"); r.code != 1 || !strings.Contains(r.stderr, `unknown sensor "nope"`) {
			t.Errorf("tail nope: exit %d, %q", r.code, r.stderr)
		}
	})
	t.Run("tail until Ctrl-C", func(t *testing.T) {
		cmd := exec.Command(build(t, "wayside"), "--socket", d.socket, "tail")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				default:
				}
			}
			exited <- cmd.Wait()
		}()
		for i := 0; i < 3; i++ {
			select {
			case <-lines:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("no reading within 10s; stderr %s", stderr.String())
			}
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("tail after Ctrl-C: %v; stderr %s", err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Fatal("tail did not stop within 5s of Ctrl-C")
		}
	})
	t.Run("cloud", func(t *testing.T) {
		r := d.cli(t, "cloud")
		mustOK(t, r)
		// Every topic of the generic profile (docs/mqtt.md): telemetry, status, events, commands, replies.
		contains(t, "cloud", r.stdout, "Link", "connected", d.broker.URL, "wayside-cli-gw-1", "wayside/v1/cli-gw-1/telemetry",
			"wayside/v1/cli-gw-1/status", "wayside/v1/cli-gw-1/events", "wayside/v1/cli-gw-1/cmd/+",
			"wayside/v1/cli-gw-1/reply/{name}", "In flight", "of 16", "round trip")
		c := decode[apitype.Cloud](t, d.cli(t, "cloud", "--json"))
		if !c.Connected || c.ClientID != "wayside-cli-gw-1" || c.MaxInflight != 16 || c.Published == 0 || c.LastAckRTTMs <= 0 ||
			c.EventsTopic != "wayside/v1/cli-gw-1/events" || c.CommandFilter != "wayside/v1/cli-gw-1/cmd/+" ||
			c.ReplyTopic != "wayside/v1/cli-gw-1/reply/{name}" {
			t.Errorf("cloud JSON: %+v", c)
		}
	})
	t.Run("spool", func(t *testing.T) {
		r := d.cli(t, "spool")
		mustOK(t, r)
		contains(t, "spool", r.stdout, "State dir", filepath.Join(d.dir, "state"), "writable", "free", "quota", "Sequence", "next",
			"Last batch", "readings", "Ring")
		sp := decode[apitype.Spool](t, d.cli(t, "spool", "--json"))
		if sp.StateDir != filepath.Join(d.dir, "state") || !sp.DirWritable || sp.DirFree == 0 || sp.NextSeq != sp.LastSeq+1 ||
			sp.LastSeq == 0 || sp.LeasedThrough < sp.LastSeq || sp.Appended == 0 || sp.Ring.Cap != 4096 {
			t.Errorf("spool JSON: %+v", sp)
		}
	})
	t.Run("scan i2c", func(t *testing.T) {
		r := d.cli(t, "scan", "i2c")
		mustOK(t, r)
		contains(t, "scan i2c", r.stdout, "i2c1", "i2c2", "0x76", "bme280 or bmp280", "env1 (bme280)", "0x44", "sht4x",
			"0x29", "vl53l0x", "bay1 (vl53l0x)")
		sc := decode[apitype.ScanI2C](t, d.cli(t, "scan", "i2c", "i2c2", "--json"))
		if !sc.Simulated || len(sc.Buses) != 1 || sc.Buses[0].Bus != "i2c2" {
			t.Fatalf("scan JSON: %+v", sc)
		}
		var addrs []string
		for _, dv := range sc.Buses[0].Devices {
			addrs = append(addrs, dv.Address)
		}
		if !slices.Equal(addrs, []string{"0x23", "0x29", "0x62"}) {
			t.Errorf("i2c2 addresses %v, want 0x23 0x29 0x62", addrs)
		}
		if r := d.cli(t, "scan", "i2c", "i2c9"); r.code != 1 || !strings.Contains(r.stderr, `board sim has no I2C bus "i2c9"; its I2C buses: i2c1, i2c2`) {
			t.Errorf("scan of an unknown bus: exit %d, %q", r.code, r.stderr)
		}
	})
	t.Run("selftest", func(t *testing.T) {
		r := d.cli(t, "selftest")
		mustOK(t, r)
		contains(t, "selftest", r.stdout, "RESULT", "OK      sensor env1 (bme280 on i2c1)", "cloud broker connected",
			"state directory writable", "clock trusted", "selftest passed: 11 of 11 checks ok")
		if strings.Contains(r.stdout, "FAIL") {
			t.Errorf("a check failed:\n%s", r.stdout)
		}
		st := decode[apitype.SelfTest](t, d.cli(t, "selftest", "--json"))
		if !st.OK || len(st.Checks) != len(testSensors)+3 {
			t.Errorf("selftest JSON: %+v", st)
		}
	})
	t.Run("version", func(t *testing.T) {
		r := d.cli(t, "version")
		mustOK(t, r)
		contains(t, "version", r.stdout, "wayside test-cli", "waysided test-daemon", "on gateway cli-gw-1")
		var v struct {
			Client string          `json:"client"`
			Daemon apitype.Version `json:"daemon"`
		}
		if err := json.Unmarshal([]byte(d.cli(t, "version", "--json").stdout), &v); err != nil || v.Client != "test-cli" ||
			v.Daemon.Version != "test-daemon" || v.Daemon.GoVersion == "" {
			t.Errorf("version JSON: %+v %v", v, err)
		}
	})
	t.Run("socket from env", func(t *testing.T) {
		r := run(t, nil, []string{"WAYSIDE_SOCKET=" + d.socket}, "log-level")
		if r.code != 0 || r.stdout != "info\n" {
			t.Errorf("WAYSIDE_SOCKET: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("browser refused", func(t *testing.T) {
		for _, h := range []string{"Origin", "Referer"} {
			req, _ := http.NewRequest(http.MethodGet, "http://local/localapi/v0/status", nil)
			req.Header.Set(h, "http://evil.example")
			resp, err := unixHTTP(d.socket).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Origin or Referer") {
				t.Errorf("%s header: %s %s", h, resp.Status, body)
			}
		}
		// The same request without the header is answered (curl's view).
		resp, err := unixHTTP(d.socket).Get("http://local/localapi/v0/status")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("plain GET status: %v %v", resp, err)
		}
		resp.Body.Close()
		// Actions are POST only.
		resp, err = unixHTTP(d.socket).Get("http://local/localapi/v0/read?sensor=env1")
		if err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET read: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func allSampled(ss []apitype.Sensor) bool {
	for _, s := range ss {
		if s.Good == 0 {
			return false
		}
	}
	return len(ss) > 0
}

// regexpLine tells whether some line starts with the sensor name and has state as a field.
func regexpLine(out, name, state string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 3 && f[0] == name && slices.Contains(f, state) {
			return true
		}
	}
	return false
}

func unixHTTP(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

func TestLogLevel(t *testing.T) {
	d := startDaemon(t, "")
	if r := d.cli(t, "log-level"); r.code != 0 || r.stdout != "info\n" {
		t.Fatalf("log-level: %+v", r)
	}
	r := d.cli(t, "log-level", "debug")
	mustOK(t, r)
	contains(t, "log-level debug", r.stdout, "log level debug (was info)")
	lv := decode[apitype.LogLevel](t, d.cli(t, "log-level", "--json"))
	if lv.Level != "debug" {
		t.Errorf("after set: %+v", lv)
	}
	// The daemon's logger follows: debug lines appear.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.logs.String(), "DEBUG") {
		if time.Now().After(deadline) {
			t.Fatalf("no debug line logged after log-level debug:\n%s", d.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = d.cli(t, "log-level", "loud")
	if r.code != 1 || !strings.Contains(r.stderr, `log level "loud" is not valid; use debug, info, warn or error`) {
		t.Errorf("bad level: %+v", r)
	}
}

// TestSelfTestFails stops the broker and expects the broker check to fail with exit status 1.
func TestSelfTestFails(t *testing.T) {
	d := startDaemon(t, "")
	d.broker.Stop()
	d.waitConnected(t, false)
	r := d.cli(t, "selftest")
	if r.code != 1 {
		t.Fatalf("selftest with the broker down: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	contains(t, "selftest", r.stdout, "FAIL    cloud broker connected", "not connected", "OK      sensor env1", "selftest FAILED: 10 of 11 checks ok")
	r = d.cli(t, "selftest", "--json")
	if r.code != 1 {
		t.Errorf("selftest --json: exit %d, want 1", r.code)
	}
	st := decode[apitype.SelfTest](t, r)
	if st.OK {
		t.Errorf("selftest JSON ok with the broker down: %+v", st)
	}
	// status lists the problem.
	s := d.cli(t, "status")
	contains(t, "status", s.stdout, "PROBLEMS (1)", "cloud link down", "disconnected")
}

func TestDaemonDown(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "local.sock")
	r := run(t, nil, nil, "--socket", sock, "status")
	want := "wayside: cannot reach waysided at " + sock + " (no such file or directory); is it running? try: sudo systemctl start waysided\n"
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("got exit %d, stderr %q, stdout %q; want 1 and %q", r.code, r.stderr, r.stdout, want)
	}
	// A stale socket left by a crash: nothing listens.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	r = run(t, nil, nil, "--socket", sock, "selftest")
	want = "wayside: cannot reach waysided at " + sock + " (connection refused); is it running? try: sudo systemctl start waysided\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("stale socket: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
	// config check needs no daemon (it runs the waysided binary next to wayside).
	build(t, "waysided")
	r = run(t, nil, nil, "--socket", sock, "config", "check", "../../configs/sim.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "../../configs/sim.yaml: valid (gateway sim-0001, board sim") {
		t.Errorf("config check: %+v", r)
	}
}

func TestConfigCheck(t *testing.T) {
	build(t, "waysided") // config check runs waysided -check-config, found next to wayside
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("gateway: {id: gw1, board: sim}\nsensors:\n  - {name: env1, driver: bme280, bus: i2c7, interval: 1s}\ncloud: {brokers: [tcp://127.0.0.1:1883]}\n"), 0o644)
	r := run(t, nil, nil, "config", "check", bad)
	if r.code != 1 || !strings.Contains(r.stderr, `sensors[0].bus: board sim has no i2c bus "i2c7"; valid: i2c1, i2c2`) {
		t.Errorf("bad config: %+v", r)
	}
	var out struct {
		File   string          `json:"file"`
		Valid  bool            `json:"valid"`
		Errors []*config.Error `json:"errors"`
	}
	r = run(t, nil, nil, "config", "check", "--json", bad)
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out.Valid || len(out.Errors) != 1 ||
		out.Errors[0].Path != "sensors[0].bus" {
		t.Errorf("config check --json: exit %d %+v %v\n%s", r.code, out, err, r.stdout)
	}
	r = run(t, nil, nil, "config", "check", "--json", "../../configs/example.yaml")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || !out.Valid {
		t.Errorf("example config: exit %d %+v %v %s", r.code, out, err, r.stderr)
	}
	// An auto gateway id, derived by the wayside binary from this host's machine id (.ci/run makes sure
	// there is one; gateway/config tests the derivation itself): the binary agrees with the config
	// package, the text names where the id came from and --json says it apart.
	auto := filepath.Join(dir, "auto.yaml")
	os.WriteFile(auto, []byte("gateway: {id: auto, board: sim}\nsensors:\n  - {name: env1, driver: bme280, bus: i2c1, interval: 1s}\ncloud: {brokers: [tcp://127.0.0.1:1883]}\n"), 0o644)
	want, wantErr := config.Load(auto, nil)
	r = run(t, nil, nil, "config", "check", auto)
	var autoOut struct {
		Gateway string `json:"gateway"`
		IDFrom  string `json:"gateway_id_from"`
	}
	rj := run(t, nil, nil, "config", "check", "--json", auto)
	jerr := json.Unmarshal([]byte(rj.stdout), &autoOut)
	if wantErr != nil {
		if r.code != 1 || !strings.Contains(r.stderr, "gateway.id: auto: ") {
			t.Errorf("auto id without a usable machine id (%v): %+v", wantErr, r)
		}
	} else {
		if line := ": valid (gateway " + want.Gateway.ID + " (auto, from " + want.Gateway.IDSource + "), board sim"; r.code != 0 || !strings.Contains(r.stdout, line) {
			t.Errorf("auto id: %+v; want %q", r, line)
		}
		if jerr != nil || autoOut.Gateway != want.Gateway.ID || autoOut.IDFrom != want.Gateway.IDSource {
			t.Errorf("auto id --json: %+v %v\n%s", autoOut, jerr, rj.stdout)
		}
	}
	if r := run(t, nil, nil, "config", "lint", "x"); r.code != 2 {
		t.Errorf("config lint: %+v", r)
	}
	if r := run(t, nil, nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	if r := run(t, nil, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "selftest") {
		t.Errorf("help: %+v", r)
	}
}

// TestLinksNoDrivers: config check runs waysided, so the wayside binary links no periph host driver,
// sensor driver, emulator or board profile.
func TestLinksNoDrivers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/wayside").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "periph.io/x/host") || strings.Contains(dep, "/drivers/") || strings.Contains(dep, "/boards") ||
			strings.HasSuffix(dep, "/gateway/config") {
			t.Errorf("cmd/wayside links %s", dep)
		}
	}
	// Without a waysided next to it or on PATH, config check says so.
	alone := filepath.Join(t.TempDir(), "wayside")
	b, err := os.ReadFile(build(t, "wayside"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "config", "check", "../../configs/sim.yaml")
	cmd.Env = []string{"PATH=/nonexistent"}
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "config check runs waysided -check-config, and there is no waysided next to wayside or on PATH") {
		t.Errorf("config check without waysided: %v\n%s", err, out)
	}
}

// otherGroup is an existing group that user nobody (65534) is not in.
func otherGroup(t *testing.T) (name string, gid uint32) {
	t.Helper()
	for _, n := range []string{"adm", "operator", "sys", "daemon", "backup"} {
		g, err := user.LookupGroup(n)
		if err != nil {
			continue
		}
		id, _ := strconv.ParseUint(g.Gid, 10, 32)
		if id == 0 || id == 65534 {
			continue
		}
		if u, err := user.LookupId("65534"); err == nil {
			if ids, _ := u.GroupIds(); slices.Contains(ids, g.Gid) {
				continue
			}
		}
		return n, uint32(id)
	}
	t.Skip("no suitable group for the permission test")
	return "", 0
}

// TestPermissions runs the CLI as user nobody against a daemon whose socket belongs to a group.
func TestPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the CLI as another user")
	}
	group, gid := otherGroup(t)
	d := startDaemon(t, group)
	fi, err := os.Stat(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Gid != gid {
		t.Fatalf("socket mode %v gid %d, want 0660 and %s (%d)", fi.Mode().Perm(), st.Gid, group, gid)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}

	// The socket's mode keeps nobody out: one line naming the group to join.
	r := run(t, nobody, nil, "--socket", d.socket, "status")
	want := fmt.Sprintf("wayside: permission denied on %s (permission denied); to use wayside, join group %s (sudo usermod -aG %s $USER, then log in again) or run it with sudo\n",
		d.socket, group, group)
	if r.code != 1 || r.stderr != want {
		t.Errorf("nobody, 0660 socket: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}

	// A member of the group (here by primary gid) may read and act.
	member := &syscall.Credential{Uid: 65534, Gid: gid}
	if r := run(t, member, nil, "--socket", d.socket, "log-level", "warn"); r.code != 0 || !strings.Contains(r.stdout, "log level warn") {
		t.Errorf("group member log-level warn: %+v", r)
	}

	// With the socket opened to everyone, nobody may read but not act: the daemon answers 403.
	if err := os.Chmod(d.socket, 0o666); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nobody, nil, "--socket", d.socket, "status"); r.code != 0 || !strings.Contains(r.stdout, "cli-gw-1") {
		t.Errorf("nobody, status on a 0666 socket: %+v", r)
	}
	for _, args := range [][]string{{"log-level", "debug"}, {"selftest"}, {"read", "env1"}} {
		r := run(t, nobody, nil, append([]string{"--socket", d.socket}, args...)...)
		want := fmt.Sprintf("wayside: access denied by waysided: uid 65534 may not use actions: only root, the daemon's user and members of group %s may; "+
			"to use this command, join group %s (sudo usermod -aG %s $USER, then log in again) or run it with sudo\n", group, group, group)
		if r.code != 1 || r.stderr != want {
			t.Errorf("nobody %v: exit %d, stderr %q; want %q", args, r.code, r.stderr, want)
		}
	}
	if lv := decode[apitype.LogLevel](t, d.cli(t, "log-level", "--json")); lv.Level != "warn" {
		t.Errorf("log level changed by a refused request: %+v", lv)
	}
}

// TestRealDaemon runs the waysided binary: the local API comes up on the configured socket, answers
// the CLI, and the socket is removed on SIGTERM.
func TestRealDaemon(t *testing.T) {
	bin := build(t, "waysided")
	b := testbroker.Start(t)
	dir := shortDir(t)
	sock := filepath.Join(dir, "local.sock")
	cfgPath := filepath.Join(dir, "waysided.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(testConfig(t), b.URL, filepath.Join(dir, "state"), sock, "")), 0o644)
	cmd := exec.Command(bin, "-config", cfgPath, "-log-format", "json")
	var logs testlog.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("waysided log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no socket within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket without a group: %v %v, want mode 0600", fi.Mode(), err)
	}
	r := run(t, nil, nil, "--socket", sock, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "waysided test-cli") {
		t.Errorf("version against waysided: %+v", r)
	}
	if r := run(t, nil, nil, "--socket", sock, "log-level", "debug"); r.code != 0 {
		t.Errorf("log-level debug: %+v", r)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("waysided exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("waysided did not stop within 15s of SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind after stop: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".local-api-*")); len(left) != 0 {
		t.Errorf("socket staging directories left behind: %v", left)
	}
	if !strings.Contains(logs.String(), `"log level changed"`) {
		t.Errorf("no log line for the level change")
	}
}

// TestStatusAutoID: a daemon whose gateway.id is auto shows the derived id and where it came from, in
// the status text and in its JSON.
func TestStatusAutoID(t *testing.T) {
	machineID := filepath.Join(t.TempDir(), "machine-id")
	os.WriteFile(machineID, []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	defer func(old []string) { config.MachineIDFiles = old }(config.MachineIDFiles)
	config.MachineIDFiles = []string{machineID}
	d := startDaemon(t, "", func(s string) string { return strings.Replace(s, "id: cli-gw-1,", "id: auto,", 1) })
	r := d.cli(t, "status")
	mustOK(t, r, "status")
	contains(t, "status", r.stdout, "gw-873b5bd14ea5 (auto, from "+machineID+")")
	st, err := client.New(d.socket).Status(context.Background())
	if err != nil || st.Gateway != "gw-873b5bd14ea5" || st.GatewayIDFrom != machineID {
		t.Fatalf("status: %+v %v", st, err)
	}
}

// TestStatusClockUntrusted: on a gateway whose clock is not trusted (policy ntp, NTP never syncs),
// the local API's status says so, as the retained MQTT status does, and lists it as a problem; the
// text status shows it and exits 1.
func TestStatusClockUntrusted(t *testing.T) {
	d := startDaemonWith(t, "", func(o *gateway.Options) { o.TrustClock = func() bool { return false } },
		func(s string) string { return s + "clock: {trust: ntp, hold: 0s}\n" })
	st, err := client.New(d.socket).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sub := testbroker.NewClient(t, testbroker.ClientOptions("clock-watch", d.broker.URL, "", ""))
	if err := sub.Connect(); err != nil {
		t.Fatal(err)
	}
	sub.Subscribe(st.Cloud.StatusTopic)
	var mq cloudsync.Status
	for mq.State != "online" || mq.Detail == nil {
		m := sub.Next()
		if err := json.Unmarshal(m.Payload(), &mq); err != nil {
			t.Fatalf("status payload %q: %v", m.Payload(), err)
		}
	}
	if st.Clock.Trusted || st.Clock.Trust != "ntp" || st.Clock.CorrectionMs != 0 {
		t.Errorf("local API clock %+v, want not trusted, policy ntp", st.Clock)
	}
	if got := (cloudsync.ClockSummary{Trusted: st.Clock.Trusted, Trust: st.Clock.Trust}); got != mq.Detail.Clock {
		t.Errorf("local API clock %+v, MQTT status clock %+v", got, mq.Detail.Clock)
	}
	if !slices.ContainsFunc(st.Problems, func(p string) bool { return strings.HasPrefix(p, "clock not trusted (policy ntp)") }) {
		t.Errorf("problems do not name the untrusted clock: %q", st.Problems)
	}
	r := d.cli(t, "status")
	if r.code != 1 {
		t.Errorf("status with problems: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	contains(t, "status", r.stdout, "PROBLEMS", "clock not trusted (policy ntp)",
		"not trusted (stamping from the monotonic clock; policy ntp)")
	if r := d.cli(t, "status", "--json"); r.code != 1 || decode[apitype.Status](t, r).Clock.Trusted {
		t.Errorf("status --json with problems: exit %d, %s", r.code, r.stdout)
	}
	r = d.cli(t, "selftest")
	if r.code != 1 || !regexp.MustCompile(`(?m)^FAIL +clock trusted +clock not trusted \(policy ntp\)`).MatchString(r.stdout) {
		t.Errorf("selftest with an untrusted clock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
