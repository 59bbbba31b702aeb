package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/senml"
)

// TestProc: CPUTime grows while this process spins, and ReadMemory sees 64 MiB it touches.
func TestProc(t *testing.T) {
	pid := os.Getpid()
	c0, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for i := 0; i < 1e6; i++ {
			x += i
		}
		if c, err := CPUTime(pid); err != nil || c-c0 >= 50*time.Millisecond {
			break
		}
	}
	c1, err := CPUTime(pid)
	if err != nil || c1-c0 < 50*time.Millisecond {
		t.Fatalf("cpu time %v -> %v (%v) after 10 s of spinning (%d)", c0, c1, err, x)
	}
	m0, err := ReadMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i)
	}
	m1, err := ReadMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m1.RSS-m0.RSS < 48<<20 || m1.Peak < m1.RSS {
		t.Fatalf("after touching 64 MiB: %+v -> %+v", m0, m1)
	}
	runtime.KeepAlive(big)
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("cpu time of a process that does not exist")
	}
}

// TestPackLen reads the record count of real packs across the CBOR array header's sizes.
func TestPackLen(t *testing.T) {
	chans := []senml.Channel{{Name: "/s/t", Unit: "Cel"}}
	for _, n := range []int{1, 23, 24, 255, 256, 9999} {
		e, err := senml.NewEncoder("gw", "b", chans, n)
		if err != nil {
			t.Fatal(err)
		}
		rs := make([]buffer.Reading, n)
		for i := range rs {
			rs[i] = buffer.Reading{Time: int64(i) * 1e6, Value: float64(i)}
		}
		p, err := e.Encode(1, rs)
		if err != nil {
			t.Fatal(err)
		}
		if got := packLen(p); got != int64(n) {
			t.Errorf("%d readings: packLen %d", n, got)
		}
	}
	for _, p := range [][]byte{nil, {0xa1}, {0x98}, {0x9f}} {
		if packLen(p) != 0 {
			t.Errorf("packLen(% x) != 0", p)
		}
	}
}

// TestSpecs: generated configurations pass the daemon's own validation; Synthetic picks as few
// sensors as the 10 ms minimum interval allows.
func TestSpecs(t *testing.T) {
	for _, c := range []struct {
		rate     float64
		n        int
		interval time.Duration
	}{{1e6, 100, 10 * time.Millisecond}, {1e4, 1, 10 * time.Millisecond}, {5000, 1, 20 * time.Millisecond}, {25000, 3, 12 * time.Millisecond}} {
		ss := Synthetic(c.rate)
		if len(ss) != c.n || ss[0].Interval != c.interval {
			t.Errorf("rate %v: %d sensors at %v, want %d at %v", c.rate, len(ss), ss[0].Interval, c.n, c.interval)
		}
		if got := OfferedRate(ss); got < c.rate*0.97 || got > c.rate*1.03 {
			t.Errorf("rate %v: offered %v", c.rate, got)
		}
	}
	sim, err := SensorsOf(filepath.Join("..", "..", "..", "configs", "sim.yaml"), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// 13: the eleven of the benchmark figures and, since the Modbus driver, two RS-485 slaves whose
	// register maps must survive the round trip through OptionsText.
	if len(sim) != 13 || sim[0].Interval != 10*time.Millisecond || len(sim[7].Pins) != 1 || !strings.Contains(sim[7].Options, "speed-trap") ||
		!strings.Contains(sim[12].Options, "scale: 0.0001") {
		t.Fatalf("sim.yaml sensors: %+v", sim)
	}
	for _, s := range []Spec{
		{GatewayID: "bench-1", Sensors: Synthetic(1e6), MaxReadings: 1000, MaxAge: 200 * time.Millisecond, BufferCapacity: 1 << 17, MaxInflight: 64},
		{GatewayID: "bench-2", Seed: 42, Sensors: sim},
	} {
		if err := s.Check("tcp://127.0.0.1:1883", t.TempDir()); err != nil {
			t.Errorf("%s: %v\n%s", s.GatewayID, err, s.YAML("tcp://127.0.0.1:1883", "/x"))
		}
	}
	bad := Spec{GatewayID: "bench-3", Sensors: []Sensor{{Name: "x", Driver: "synthetic", Bus: "sim", Interval: time.Millisecond}}}
	if err := bad.Check("tcp://127.0.0.1:1883", t.TempDir()); err == nil {
		t.Fatal("a 1 ms interval passed the daemon's validation")
	}
}

// buildDaemon builds waysided as the suite does (static, stripped) into a temp dir.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "waysided")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/wayside-iot/wayside/cmd/waysided")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build waysided: %v\n%s", err, out)
	}
	return bin
}

func startBroker(t *testing.T) *Broker {
	t.Helper()
	if _, err := MosquittoBinary(); err != nil && os.Getenv("WAYSIDE_SKIP_BROKER_TESTS") == "1" {
		t.Skip("mosquitto not installed; skipped because WAYSIDE_SKIP_BROKER_TESTS=1")
	}
	b, err := StartBroker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// TestMeasure runs the real daemon on the synthetic load against a real mosquitto for a short window:
// the subscriber counts readings in the window, every pack decodes, nothing is duplicated or lost, and
// the daemon's CPU time and memory are read.
func TestMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildDaemon(t)
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Measure(ctx, Run{Binary: bin, Dir: t.TempDir(), Broker: b,
		Spec:   Spec{GatewayID: "bench-test", Sensors: Synthetic(10000), MaxReadings: 100, MaxAge: 100 * time.Millisecond, ReplayRate: 10000},
		Warmup: 300 * time.Millisecond, Window: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Received == 0 || res.Rate <= 0 || res.Window < 1500*time.Millisecond || res.Bytes < res.Received {
		t.Fatalf("window: %d readings, %v/s over %v, %d bytes", res.Received, res.Rate, res.Window, res.Bytes)
	}
	if res.DecodeErrors != 0 || res.Duplicates != 0 || res.BootIDs != 1 || res.Unreceived() != 0 || res.Readings < res.Received {
		t.Fatalf("checks: %d decode errors, %d duplicates, %d boot ids, %d unreceived, %d readings in all",
			res.DecodeErrors, res.Duplicates, res.BootIDs, res.Unreceived(), res.Readings)
	}
	if res.Produced == 0 || res.Spooled == 0 || res.RingDropped != 0 || res.Produced > int64(res.Stopped.Readings) {
		t.Fatalf("local API: %d produced, %d spooled, %d dropped in the window; %d in the run", res.Produced, res.Spooled, res.RingDropped, res.Stopped.Readings)
	}
	if res.Stopped.Spooled == 0 || res.Stopped.SpoolBacklog != 0 || res.Stopped.Readings < res.Stopped.Spooled || res.Memory.RSS < 1<<20 || res.RSSMax < res.Memory.RSS || res.Memory.Peak < res.Memory.RSS {
		t.Fatalf("daemon: %+v, memory %+v, max RSS %d", res.Stopped, res.Memory, res.RSSMax)
	}
}

// TestMeasureReportsDaemonFailure: a daemon that cannot start is reported with its log.
func TestMeasureReportsDaemonFailure(t *testing.T) {
	b := startBroker(t)
	fake := filepath.Join(t.TempDir(), "waysided")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'no such sensor' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Measure(context.Background(), Run{Binary: fake, Dir: t.TempDir(), Broker: b,
		Spec:   Spec{GatewayID: "bench-fail", Sensors: Synthetic(10000)},
		Warmup: time.Second, Window: time.Second, Start: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "no such sensor") {
		t.Fatalf("err = %v", err)
	}
}
