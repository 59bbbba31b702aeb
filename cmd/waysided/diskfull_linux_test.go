package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
	"github.com/wayside-iot/wayside/gateway/localapi/client"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// diskFullConfig samples fast into small batches so a small disk fills in seconds; %[1]s is the broker,
// %[2]s the state directory on the small filesystem, %[3]s the local API socket.
const diskFullConfig = `
gateway: {id: df-gw-1, board: sim, log_level: info}
sensors:
  - {name: env1,  driver: bme280,  bus: i2c1, interval: 10ms}
  - {name: air1,  driver: sht4x,   bus: i2c1, interval: 10ms}
  - {name: loop1, driver: pulse,   bus: sim,  pin: GPIO17, interval: 10ms}
  - {name: noise, driver: ads1115, bus: i2c1, interval: 10ms}
  - {name: radar, driver: ops243,  bus: uart2, interval: 10ms}
  - {name: bay1,  driver: vl53l0x, bus: i2c2, interval: 10ms}
  - {name: light, driver: bh1750,  bus: i2c2, interval: 10ms}
cloud: {brokers: [%[1]s], reconnect: {min: 200ms, max: 1s}}
batch: {max_readings: 10, max_age: 100ms}
spool: {dir: %[2]s, quota: 64MiB, segment_size: 4MiB, replay_rate: 500}
local_api: {socket: %[3]s}
clock: {trust: always}
`

// diskSize is the small filesystem: a few seconds of this config's batches.
const diskSize = 320 << 10

// TestDiskFull runs the daemon as its own process with its state directory on a 320 KiB tmpfs, a
// quota far above it and the broker down (issue #15, item 1). The disk fills: the oldest batches are
// evicted and counted, sampling goes on, nothing is lost; the status shows the spool against the
// disk, not the quota. Then the rest of the disk is filled by another file and the daemon restarts on
// it: it must start (renewing its sequence lease by evicting) and keep sampling. When the broker comes
// back the backlog drains, and every batch made is either delivered or counted as evicted.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("TestDiskFull needs root to mount a small tmpfs (CI runs as root); run the tests as root to include it")
	}
	bin, err := buildDaemon()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0750", diskSize), "tmpfs", state).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", state).Run() })

	broker := testbroker.Start(t, testbroker.Persistent(t.TempDir()))
	sub := newSeqCollector(t, broker.URL, "df-gw-1", state)
	broker.StopGraceful() // the outage: the gateway never reaches it until the end

	sock := filepath.Join(t.TempDir(), "local.sock")
	cfgPath := filepath.Join(t.TempDir(), "waysided.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(diskFullConfig, broker.URL, state, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	api := client.New(sock)

	// Run 1: fill the disk.
	d1 := startDaemon(t, bin, cfgPath)
	var st *apitype.Status
	for i := 0; ; i++ {
		if st = d1.status(t, api); st.Spool.EvictedDiskFull > 0 {
			break
		}
		if i == 300 {
			t.Fatalf("the disk never filled in 30 s: %+v", st.Spool)
		}
		time.Sleep(100 * time.Millisecond)
	}
	full := st
	time.Sleep(2 * time.Second) // keep going on the full disk
	st = d1.status(t, api)
	t.Logf("run 1, disk full: readings %d -> %d, spool %d bytes of limit %d (quota %d, disk %d), evicted %d (disk full %d), lost %d",
		full.Pipeline.Readings, st.Pipeline.Readings, st.Spool.Bytes, st.Spool.LimitBytes, st.Spool.QuotaBytes,
		st.Spool.DiskBytes, st.Spool.Evicted, st.Spool.EvictedDiskFull, st.Spool.Lost)
	if st.Pipeline.Readings <= full.Pipeline.Readings || st.Pipeline.Batches <= full.Pipeline.Batches {
		t.Errorf("sampling stopped on the full disk: %d readings, %d batches 2 s later (were %d, %d)",
			st.Pipeline.Readings, st.Pipeline.Batches, full.Pipeline.Readings, full.Pipeline.Batches)
	}
	if st.Spool.Lost != 0 {
		t.Errorf("%d batches lost on the full disk: eviction should have made room", st.Spool.Lost)
	}
	if st.Spool.DiskBytes != diskSize || st.Spool.LimitBytes > diskSize || st.Spool.Bytes > diskSize || st.Spool.Fill > 1 {
		t.Errorf("status shows the spool as %d of %d on a %d-byte disk (want the disk's size %d and a limit within it)",
			st.Spool.Bytes, st.Spool.LimitBytes, st.Spool.DiskBytes, diskSize)
	}
	if !hasProblem(st, "disk full") {
		t.Errorf("no disk-full problem in the status: %q", st.Problems)
	}
	s1 := d1.stop(t)
	if !strings.Contains(d1.out.String(), "disk full: evicted the oldest spool segment") || strings.Contains(d1.out.String(), "spool over quota") {
		t.Errorf("the log should say disk full, not over quota")
	}

	// Run 2: another file takes the rest of the disk; the daemon must start and keep sampling.
	filler, err := fillDisk(filepath.Join(state, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filled the disk: %d more bytes in %s", filler, filepath.Join(state, "filler"))
	d2 := startDaemon(t, bin, cfgPath)
	time.Sleep(1500 * time.Millisecond)
	st = d2.status(t, api)
	if st.Pipeline.Batches == 0 || st.Spool.Lost != 0 {
		t.Errorf("after a start on a full disk: %d batches spooled, %d lost", st.Pipeline.Batches, st.Spool.Lost)
	}

	// The broker comes back: the backlog drains.
	broker.Restart()
	for i := 0; ; i++ {
		st = d2.status(t, api)
		if st.Cloud.Connected && st.Spool.Backlog <= 20 { // live batches keep coming, about 70 a second
			break
		}
		if i == 300 {
			t.Fatalf("backlog not drained 30 s after the broker came back: %+v", st.Spool)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s2 := d2.stop(t)
	if s2.Backlog != 0 {
		t.Errorf("run 2 stopped with %d batches unacknowledged", s2.Backlog)
	}

	// Every batch made is delivered or counted as evicted (and none lost).
	made := s1.Batches + s2.Batches
	evicted := s1.Evicted + s2.Evicted
	var delivered map[uint64]bool
	for i := 0; i < 100; i++ {
		if delivered = sub.seqs(); uint64(len(delivered))+evicted >= made {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("batches made %d (run 1 %d, run 2 %d): delivered %d, evicted %d (run 1 %d, run 2 %d), lost %d",
		made, s1.Batches, s2.Batches, len(delivered), evicted, s1.Evicted, s2.Evicted, s1.Lost+s2.Lost)
	if uint64(len(delivered))+evicted != made || s1.Lost+s2.Lost != 0 {
		t.Errorf("accounting: %d delivered + %d evicted != %d made (lost %d)", len(delivered), evicted, made, s1.Lost+s2.Lost)
	}
	if s2.Evicted == 0 {
		t.Errorf("run 2 started on a full disk without evicting anything: its lease renewal must have made room")
	}
	if max(s1.LastSeq, s2.LastSeq) == 0 || !delivered[s2.LastSeq] {
		t.Errorf("the last batch (seq %d) was not delivered", s2.LastSeq)
	}
}

func startDaemon(t *testing.T, bin, cfgPath string) *procDaemon {
	t.Helper()
	d := launchDaemon(t, bin, cfgPath)
	d.ns.expect(t, "READY=1", 20*time.Second)
	return d
}

func (d *procDaemon) status(t *testing.T, api *client.Client) *apitype.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := api.Status(ctx)
	if err != nil {
		t.Fatalf("local API status: %v", err)
	}
	return st
}

// stopped is what the daemon's last log line says about its run.
type stopped struct {
	Batches uint64 `json:"batches"`
	Backlog int    `json:"spool_backlog"`
	Evicted uint64 `json:"spool_evicted"`
	Lost    uint64 `json:"spool_lost"`
	LastSeq uint64 `json:"last_seq"`
}

// stop sends SIGTERM, waits for the exit and reads the "gateway stopped" log line.
func (d *procDaemon) stop(t *testing.T) stopped {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			t.Fatalf("waysided exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waysided did not stop within 30 s")
	}
	for _, line := range strings.Split(d.out.String(), "\n") {
		if strings.Contains(line, `"msg":"gateway stopped"`) {
			var s stopped
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("stop line %q: %v", line, err)
			}
			return s
		}
	}
	t.Fatal("no 'gateway stopped' line in the log")
	return stopped{}
}

func hasProblem(st *apitype.Status, s string) bool {
	for _, p := range st.Problems {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// fillDisk writes path until the filesystem is full and returns how much it wrote.
func fillDisk(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for i := 0; i < 1<<20; i++ {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, errors.New("the disk never filled")
}

// seqCollector records the sequence numbers of the gateway's telemetry on a persistent session, so
// that it misses nothing across the broker's restart.
type seqCollector struct {
	mu   sync.Mutex
	op   *cityopen.Opener
	seen map[uint64]bool
}

// newSeqCollector subscribes to the gateway's telemetry and opens each batch as the city does, with
// the gateway key in stateDir (read at the first batch: the daemon makes it at its first start).
func newSeqCollector(t *testing.T, url, gatewayID, stateDir string) *seqCollector {
	t.Helper()
	c := &seqCollector{seen: map[uint64]bool{}}
	topic := profile.PrefixTopics("wayside/v1", gatewayID).Telemetry
	var cl mqtt.Client
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("df-subscriber").SetCleanSession(false).
		SetOrderMatters(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
	cl = mqtt.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	if tok := cl.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		c.mu.Lock()
		if c.op == nil {
			id, err := gateway.ReadIdentity(stateDir)
			pub, _ := base64.StdEncoding.DecodeString(id.PublicKey)
			if err == nil {
				c.op, err = cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}})
			}
			if err != nil {
				c.mu.Unlock()
				t.Errorf("gateway key: %v", err)
				return
			}
		}
		op := c.op
		c.mu.Unlock()
		b, err := op.Open(m.Payload())
		if err != nil {
			t.Errorf("open batch: %v", err)
			return
		}
		p := b.Pack
		c.mu.Lock()
		c.seen[p.Seq] = true
		c.mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return c
}

func (c *seqCollector) seqs() map[uint64]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint64]bool, len(c.seen))
	for k := range c.seen {
		out[k] = true
	}
	return out
}
