package packaging

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitWaitsForConfiguration: a fresh install must not crash-loop on the placeholder configuration.
// The unit runs check-configured as ExecCondition= on the file ExecStart= reads. systemd.service(5):
// an ExecCondition= command exiting 1-254 skips the start without failing the unit, so Restart= does
// not apply; exit 255 or a signal would fail it (and Restart=on-failure would loop again).
func TestUnitWaitsForConfiguration(t *testing.T) {
	u := parseUnit(t, unitPath)
	const conf = "/etc/wayside/waysided.yaml"
	cond, _ := u.last("Service", "ExecCondition")
	if f := strings.Fields(cond); len(f) != 2 || f[0] != checkConfiguredPath || f[1] != conf {
		t.Errorf("[Service] ExecCondition=%q, want %s %s", cond, checkConfiguredPath, conf)
	}
	if start, _ := u.last("Service", "ExecStart"); !strings.Contains(start, " "+conf+" ") {
		t.Errorf("ExecStart=%q reads another file than ExecCondition= checks (%s)", start, conf)
	}
	// A leading '-' would ignore the command's failure, '!' invert it: neither may be there.
	if strings.HasPrefix(cond, "-") || strings.HasPrefix(cond, "!") {
		t.Errorf("ExecCondition=%q: its exit status must count as is", cond)
	}

	shipped, err := os.ReadFile("waysided.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	configured := bytes.ReplaceAll(shipped, []byte("ssl://mqtt.city.example:8883"), []byte("ssl://mqtt.city.gov:8883"))
	if bytes.Equal(configured, shipped) {
		t.Fatal("packaging/waysided.yaml no longer names ssl://mqtt.city.example:8883: update this test")
	}
	for _, c := range []struct {
		name    string
		content []byte
		wait    bool
	}{
		{"shipped", shipped, true},
		{"configured", configured, false},
		// The placeholder left in a comment is no placeholder broker.
		{"commented", append([]byte("# was ssl://mqtt.city.example:8883\n"), configured...), false},
		{"inline list", []byte("cloud: {brokers: [\"mqtts://gw:pw@broker.example\"]}\n"), true},
		{"example.com is a real domain", []byte("cloud: {brokers: [tcp://example.com:1883]}\n"), false},
		{"example.org.example", []byte("cloud:\n  brokers:\n    - tcp://10.1.2.3:1883\n    - tcp://b.example.org.example:1883\n"), true},
	} {
		p := write(c.name+".yaml", c.content)
		out, err := exec.Command("sh", "check-configured", p).CombinedOutput()
		var exit *exec.ExitError
		switch {
		case !c.wait && err != nil:
			t.Errorf("%s: check-configured: %v\n%s\nwant exit 0: the daemon may start", c.name, err, out)
		case c.wait && !errors.As(err, &exit):
			t.Errorf("%s: check-configured: %v\n%s\nwant exit 1: the placeholder broker holds the start", c.name, err, out)
		case c.wait && exit.ExitCode() != 1:
			t.Errorf("%s: check-configured exit %d, want 1 (1-254 skips the start without failing the unit)", c.name, exit.ExitCode())
		case c.wait:
			for _, want := range []string{p, "waysided -check-config " + p, "systemctl restart waysided", "cloud.brokers"} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("%s: check-configured says\n%s\nwant it to mention %q", c.name, out, want)
				}
			}
		}
	}
	// An unreadable or missing file is the daemon's to report: the condition lets it start.
	if out, err := exec.Command("sh", "check-configured", filepath.Join(dir, "missing.yaml")).CombinedOutput(); err != nil {
		t.Errorf("check-configured on a missing file: %v\n%s\nwant exit 0 (waysided says what is wrong)", err, out)
	}
}
