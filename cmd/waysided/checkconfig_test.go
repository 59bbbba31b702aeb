package main

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/gateway"
)

// TestCheckConfig: -check-config prints "valid" and then each warning with its path (exit 0), or the
// errors (exit 1), here explicit zeros that used to mean the default.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "waysided.yaml")
	check := func(extra string) (int, string, string) {
		y := fmt.Sprintf(`gateway: {id: cc-1, board: sim}
sensors: [{name: env1, driver: bme280, bus: i2c1, interval: 1s}]
cloud: {brokers: ["tcp://127.0.0.1:1883"]}
spool: {dir: %q%s}
local_api: {socket: off}
`, filepath.Join(dir, "state"), extra)
		if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := checkConfig(file, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, out, errOut := check(""); code != 0 || !strings.Contains(out, file+": valid (gateway cc-1") || errOut != "" {
		t.Fatalf("valid file: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	// No filesystem here holds a petabyte: valid, with a warning naming both sizes.
	code, out, errOut := check(", quota: 1048576GiB")
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("huge quota: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, w := range []string{file + ": warning: spool.quota: 1048576GiB is more than the whole filesystem holding", "lower spool.quota to at most half of it, e.g."} {
		if !strings.Contains(errOut, w) {
			t.Errorf("huge quota: stderr %q lacks %q", errOut, w)
		}
	}
	code, out, errOut = check(", replay_rate: 0, segment_size: 0")
	if code != 1 || out != "" {
		t.Fatalf("explicit zeros: exit %d, stdout %q", code, out)
	}
	for _, w := range []string{"spool.replay_rate: 0 is not valid", "spool.segment_size: 0 bytes is not valid; use 4KiB..1GiB"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("explicit zeros: stderr %q lacks %q", errOut, w)
		}
	}
}

// TestCheckConfigGatewayKey: -check-config says where the gateway key will be before the first start,
// and shows its public key and kid once the daemon has made it.
func TestCheckConfigGatewayKey(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	file := filepath.Join(dir, "waysided.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`gateway: {id: cc-2, board: sim}
sensors: [{name: env1, driver: bme280, bus: i2c1, interval: 1s}]
cloud: {brokers: ["tcp://127.0.0.1:1883"]}
spool: {dir: %q}
local_api: {socket: off}
`, state)), 0o600)
	var stdout, stderr bytes.Buffer
	if code := checkConfig(file, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "gateway key: none yet in "+state) {
		t.Fatalf("before the first start: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// What the daemon writes at its first start (gateway.loadOrCreateKey): a PKCS #8 Ed25519 key.
	os.MkdirAll(state, 0o700)
	pemKey, _ := command.MarshalPrivateKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	os.WriteFile(filepath.Join(state, gateway.KeyFile), pemKey, 0o600)
	stdout.Reset()
	id, _ := gateway.ReadIdentity(state)
	if code := checkConfig(file, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "gateway key: "+id.PublicKey+" (kid "+id.KeyID) {
		t.Fatalf("after: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), strings.Split(string(pemKey), "\n")[1][:20]) {
		t.Error("the private key was printed")
	}
}
