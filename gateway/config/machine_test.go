package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExplicitZero: a number or duration the file sets to 0 is refused with its path and the valid
// range, where leaving the key out (or null) still means the default.
func TestExplicitZero(t *testing.T) {
	withCloud := func(kv string) string { return strings.Replace(good, "cloud: {", "cloud: {"+kv+", ", 1) }
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{good + "buffer: {capacity: 0}\n", []string{"buffer.capacity", "0 is not valid", "power of two between 2 and 16777216"}},
		{good + "spool: {segment_size: 0}\n", []string{"spool.segment_size", "0 bytes is not valid", "4KiB..1GiB"}},
		{good + "spool: {replay_rate: 0}\n", []string{"spool.replay_rate", "0 is not valid", "above 0 and up to 10000"}},
		{good + "spool: {sync_every: 0}\n", []string{"spool.sync_every", "1..100000"}},
		{good + "spool: {sync_interval: 0s}\n", []string{"spool.sync_interval", "1ms..1h"}},
		{good + "spool: {quota: 0}\n", []string{"spool.quota", "less than two segments"}},
		{good + "batch: {max_readings: 0}\n", []string{"batch.max_readings", "1..10000"}},
		{good + "batch: {max_age: 0s}\n", []string{"batch.max_age", "10ms..1h"}},
		{withCloud("max_inflight: 0"), []string{"cloud.max_inflight", "1..65535"}},
		{withCloud("keepalive: 0s"), []string{"cloud.keepalive", "at least 1s"}},
		{withCloud("status_interval: 0s"), []string{"cloud.status_interval", "at least 1s"}},
		{withCloud("reconnect: {min: 0s}"), []string{"cloud.reconnect", "min >= 10ms"}},
		{withCloud("reconnect: {spread: 5m}"), []string{"cloud.reconnect", "spread 5m0s", "min <= spread <= max"}},
		{withCloud("commands: {max_age: 0s}"), []string{"cloud.commands", "max_age 10s..24h"}},
		{withCloud("commands: {max_skew: 0s}"), []string{"cloud.commands", "max_skew above 0 up to 1h"}},
		{strings.Replace(good, "bus: i2c1,", "bus: i2c1, address: 0,", 1), []string{"sensors[0].address", "0x00", "0x08..0x77"}},
	} {
		_, err := Parse([]byte(tc.yaml), board)
		if err == nil {
			t.Errorf("%s: accepted", tc.want[0])
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.want[0], err, w)
			}
		}
	}
	// Null is "not set": the default. 0s is a valid clock.hold (send at once) and is kept.
	c, err := Parse([]byte(good+"buffer: {capacity: ~}\nspool: {replay_rate: }\nclock: {hold: 0s}\n"), board)
	if err != nil {
		t.Fatal(err)
	}
	if c.Buffer.Capacity != 16384 || c.Spool.ReplayRate != 20 || c.Clock.Hold != 0 || c.Spool.SegmentBytes != 4<<20 || c.Cloud.MaxInflight != 64 {
		t.Errorf("capacity %d, replay_rate %v, hold %v, segment %d, max_inflight %d: want 16384, 20, 0s, 4MiB, 64",
			c.Buffer.Capacity, c.Spool.ReplayRate, c.Clock.Hold.D(), c.Spool.SegmentBytes, c.Cloud.MaxInflight)
	}
}

// TestBrokerHostAndPort: a broker URL needs a host and a port 1..65535.
func TestBrokerHostAndPort(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"ssl://mqtt.city.example:99999", "port 99999"},
		{"tcp://127.0.0.1:0", "port 0"},
		{"ssl://:8883", "has no host"},
	} {
		_, err := Parse([]byte(strings.Replace(good, "tcp://127.0.0.1:1883", tc.url, 1)), board)
		if err == nil {
			t.Errorf("%s: accepted", tc.url)
			continue
		}
		for _, w := range []string{"cloud.brokers[0]", tc.want, "scheme://host:port"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.url, err, w)
			}
		}
	}
	if _, err := Parse([]byte(strings.Replace(good, "tcp://127.0.0.1:1883", "ssl://mqtt.city.example:65535", 1)), board); err != nil {
		t.Errorf("port 65535: %v", err)
	}
}

// withDirs is good with spool.dir and local_api as given.
func withDirs(spool, local string) string {
	return good + fmt.Sprintf("spool: {dir: %q}\nlocal_api: %s\n", spool, local)
}

// TestSpoolDir: the state directory may not be on a virtual filesystem, nor be (or be under) a file;
// a relative one is allowed.
func TestSpoolDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "proc")
	if err := os.Symlink("/proc/self", link); err != nil {
		t.Fatal(err)
	}
	off := "{socket: off}"
	for _, tc := range []struct{ dir, want string }{
		{"/proc/wayside", "under /proc, a virtual filesystem"},
		{"/sys/wayside", "under /sys"},
		{"/dev/shm/wayside", "under /dev"},
		{"/proc", "under /proc"},
		{file, "exists and is not a directory"},
		{filepath.Join(file, "spool"), file + " is a file"},
		{filepath.Join(link, "spool"), "leads to /proc/"},
	} {
		_, err := Parse([]byte(withDirs(tc.dir, off)), board)
		if err == nil || !strings.Contains(err.Error(), "spool.dir") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spool.dir %s: error %v, want spool.dir and %q", tc.dir, err, tc.want)
		}
	}
	for _, dir := range []string{"./var/sim", "var/lib", tmp, filepath.Join(tmp, "a", "b"), "/processes/wayside"} {
		if _, err := Parse([]byte(withDirs(dir, off)), board); err != nil {
			t.Errorf("spool.dir %s: %v", dir, err)
		}
	}
}

// TestSocketDir: the daemon creates only the socket's own directory, so a socket whose directory and
// its parent are both missing is refused, unless it is in spool.dir (which the daemon creates).
func TestSocketDir(t *testing.T) {
	tmp := t.TempDir()
	spool := filepath.Join(tmp, "state")
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{
		filepath.Join(tmp, "local.sock"),
		filepath.Join(tmp, "run", "local.sock"),   // the daemon makes run/
		filepath.Join(spool, "local.sock"),        // the spool makes state/
		filepath.Join(spool, "api", "local.sock"), // and the API state/api/
	} {
		if _, err := Parse([]byte(withDirs(spool, fmt.Sprintf("{socket: %q}", ok))), board); err != nil {
			t.Errorf("socket %s: %v", ok, err)
		}
	}
	for _, tc := range []struct{ sock, want string }{
		{filepath.Join(tmp, "run", "wayside", "local.sock"), "neither " + filepath.Join(tmp, "run", "wayside") + " nor its parent"},
		{filepath.Join(file, "local.sock"), "is not a directory"},
		{filepath.Join(spool, "a", "b", "local.sock"), "neither " + filepath.Join(spool, "a", "b") + " nor its parent"},
	} {
		_, err := Parse([]byte(withDirs(spool, fmt.Sprintf("{socket: %q}", tc.sock))), board)
		if err == nil || !strings.Contains(err.Error(), "local_api.socket") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("socket %s: error %v, want local_api.socket and %q", tc.sock, err, tc.want)
		}
	}
}

// TestLocalAPIGroup: local_api.group must exist; the error says how to make it or which to use. Load is
// what a reload runs, so a reload refuses the file too.
func TestLocalAPIGroup(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "waysided.yaml")
	write := func(group string) {
		y := withDirs(tmp, fmt.Sprintf("{socket: %q, group: %s}", filepath.Join(tmp, "local.sock"), group))
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("no-such-group-wayside-test")
	_, err := Load(path, board)
	for _, w := range []string{"local_api.group", `"no-such-group-wayside-test" does not exist`, "groupadd no-such-group-wayside-test", "local_api.group: wayside"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("own group: %v", err)
	}
	write(g.Name)
	if _, err := Load(path, board); err != nil {
		t.Errorf("group %s: %v", g.Name, err)
	}
}

// TestQuotaWarning: a quota larger than the filesystem holding spool.dir is valid but warned about,
// with both sizes and a quota to use.
func TestQuotaWarning(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "not", "yet")
	// The real filesystem: none here holds 1PiB, and the test's holds the default 256MiB.
	c, err := Parse([]byte(withDirs(dir, "{socket: off}")), board)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("default quota warned: %v", c.Warnings)
	}
	huge := strings.Replace(withDirs(dir, "{socket: off}"), "spool: {", "spool: {quota: 1048576GiB, ", 1)
	if c, err = Parse([]byte(huge), board); err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings.Error(), "spool.quota: 1048576GiB is more than the whole filesystem holding "+dir) {
		t.Errorf("warnings %v", c.Warnings)
	}

	defer func(old func(string) (uint64, error)) { statFS = old }(statFS)
	var asked string
	statFS = func(p string) (uint64, error) { asked = p; return 100 << 20, nil }
	c, err = Parse([]byte(withDirs(dir, "{socket: off}")), board)
	if err != nil {
		t.Fatal(err)
	}
	if asked != tmp {
		t.Errorf("statfs of %s, want the nearest existing ancestor %s", asked, tmp)
	}
	want := "spool.quota: 256MiB is more than the whole filesystem holding " + dir + " (100MiB at " + tmp + "): the disk would fill before the quota evicts anything; lower spool.quota to at most half of it, e.g. 50MiB"
	if len(c.Warnings) != 1 || c.Warnings[0].Error() != want {
		t.Errorf("warnings %q\nwant %q", c.Warnings, want)
	}
	small := strings.Replace(withDirs(dir, "{socket: off}"), "spool: {", "spool: {quota: 64MiB, ", 1)
	if c, err = Parse([]byte(small), board); err != nil || len(c.Warnings) != 0 {
		t.Errorf("64MiB on 100MiB: %v, warnings %v", err, c.Warnings)
	}
}
