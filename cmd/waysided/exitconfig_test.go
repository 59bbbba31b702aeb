package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBadConfigExitStatus: a configuration that does not load ends the daemon with EX_CONFIG (78),
// which the unit's RestartPreventExitStatus= names, so systemd does not restart it every 5 s.
func TestBadConfigExitStatus(t *testing.T) {
	bin, err := buildDaemon()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "waysided.yaml")
	if err := os.WriteFile(cfg, []byte("gateway: {id: gw-1, board: nosuchboard}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-config", cfg).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitConfig {
		t.Fatalf("exit %v, want %d; output:\n%s", err, exitConfig, out)
	}
	if !strings.Contains(string(out), "gateway.board") || !strings.Contains(string(out), "waysided -check-config "+cfg) {
		t.Errorf("output does not name the field and the check to run:\n%s", out)
	}
	unit, err := os.ReadFile("../../systemd/waysided.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nRestartPreventExitStatus="+strconv.Itoa(exitConfig)+"\n") {
		t.Errorf("the unit does not stop restarting on exit status %d", exitConfig)
	}
}
