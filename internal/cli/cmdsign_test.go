package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/internal/cli"
)

// runLocal runs the CLI in-process (cmd-keygen and cmd-sign need no daemon).
func runLocal(t *testing.T, args ...string) result {
	t.Helper()
	var so, se bytes.Buffer
	a := &cli.App{Stdout: &so, Stderr: &se, LookupEnv: func(string) (string, bool) { return "", false }}
	code := a.Run(context.Background(), args)
	return result{so.String(), se.String(), code}
}

func TestCmdKeygen(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "city.pem")
	r := runLocal(t, "cmd-keygen", "-out", keyFile)
	mustOK(t, r, "cmd-keygen")
	pub, err := command.ParsePublicKey([]byte(r.stdout))
	if err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("stdout %q is not one public key line: %v", r.stdout, err)
	}
	contains(t, "stderr", r.stderr, keyFile, "keep it secret", "public key")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	pemKey, _ := os.ReadFile(keyFile)
	priv, err := command.ParsePrivateKey(pemKey)
	if err != nil || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatalf("the key file does not hold the private half of the printed key: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, strings.Split(string(pemKey), "\n")[1][:20]) {
		t.Error("the private key was printed")
	}

	// Never overwrites.
	r = runLocal(t, "cmd-keygen", "-out", keyFile)
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("second keygen: %+v", r)
	}
	if again, _ := os.ReadFile(keyFile); !bytes.Equal(again, pemKey) {
		t.Error("the key file changed")
	}
	// --json for scripts.
	r = runLocal(t, "cmd-keygen", "--json", "-out", filepath.Join(dir, "second.pem"))
	var out struct {
		PrivateKeyFile string `json:"private_key_file"`
		PublicKey      string `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.PrivateKeyFile != filepath.Join(dir, "second.pem") {
		t.Errorf("--json: %+v %v", r, err)
	} else if _, err := command.ParsePublicKey([]byte(out.PublicKey)); err != nil {
		t.Errorf("--json public key: %v", err)
	}
	for _, args := range [][]string{{"cmd-keygen"}, {"cmd-keygen", "-out", filepath.Join(dir, "x"), "extra"}} {
		if r := runLocal(t, args...); r.code != cli.ExitUsage {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := runLocal(t, "cmd-keygen", "-out", filepath.Join(dir, "no", "such", "dir")); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "no/such/dir") {
		t.Errorf("unwritable -out: %+v", r)
	}
}

// gatewayFor is the receiving side: a verifier and dispatcher holding pub as key "city".
func gatewayFor(t *testing.T, gw string, pub ed25519.PublicKey) *command.Dispatcher {
	t.Helper()
	cache, err := command.OpenReplayCache(filepath.Join(t.TempDir(), command.DefaultReplayFile), command.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	v, err := command.NewVerifier(command.VerifierOptions{Gateway: gw, Keys: map[string]ed25519.PublicKey{"city": pub}, Replay: cache})
	if err != nil {
		t.Fatal(err)
	}
	d, err := command.New(command.Options{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	d.Register(command.CmdSetInterval, command.Typed(func(_ context.Context, a command.SetIntervalArgs) (any, error) {
		return map[string]any{"sensor": a.Sensor, "ms": time.Duration(a.Interval).Milliseconds()}, nil
	}))
	d.Register(command.CmdPing, command.Ping(time.Now, nil))
	return d
}

func TestCmdSign(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "city.pem")
	r := runLocal(t, "cmd-keygen", "-out", keyFile)
	mustOK(t, r, "cmd-keygen")
	pub, _ := command.ParsePublicKey([]byte(r.stdout))
	d := gatewayFor(t, "gw-7", pub)

	// Flags before and after the positional arguments; args with whitespace.
	r = runLocal(t, "cmd-sign", "-key", keyFile, "-key-id", "city", "set-interval", `{"sensor": "env1", "interval": "5s"}`, "-gateway", "gw-7", "-id", "tech-1")
	mustOK(t, r, "cmd-sign")
	if !strings.HasPrefix(r.stdout, "\xd2\x84") || r.stderr != "" {
		t.Errorf("cmd-sign wrote %q, stderr %q; want a tagged COSE_Sign1", r.stdout, r.stderr)
	}
	payload := []byte(r.stdout)
	resp, _ := d.Handle(context.Background(), "set-interval", payload)
	if !resp.OK || resp.ID != "tech-1" || string(resp.Result) != `{"ms":5000,"sensor":"env1"}` {
		t.Fatalf("the gateway answered %s", resp.Encode())
	}
	if resp, _ := d.Handle(context.Background(), "set-interval", payload); resp.Error == nil || resp.Error.Code != command.CodeReplayed {
		t.Errorf("replay: %s", resp.Encode())
	}
	// Default id; no args; the JSON-string form of Azure direct methods.
	r = runLocal(t, "cmd-sign", "-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "-format", "json", "ping")
	mustOK(t, r, "cmd-sign ping")
	if strings.Count(r.stdout, "\n") != 1 || r.stdout[0] != '"' {
		t.Errorf("cmd-sign -format json printed %q; want one JSON string", r.stdout)
	}
	if resp, _ := d.Handle(context.Background(), "ping", []byte(r.stdout)); !resp.OK || !strings.HasPrefix(resp.ID, "cli-") || len(resp.ID) != 20 {
		t.Errorf("ping: %s", resp.Encode())
	}
	// Signed for another gateway, or with another key id: refused by this one.
	r = runLocal(t, "cmd-sign", "-key", keyFile, "-key-id", "city", "-gateway", "gw-8", "ping")
	if resp, _ := d.Handle(context.Background(), "ping", []byte(r.stdout)); resp.Error == nil || resp.Error.Code != command.CodeWrongGateway {
		t.Errorf("other gateway: %s", resp.Encode())
	}

	os.WriteFile(filepath.Join(dir, "pub.txt"), []byte(command.EncodePublicKey(pub)), 0o600)
	os.WriteFile(filepath.Join(dir, "open.pem"), mustRead(t, keyFile), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-key", keyFile, "-key-id", "city", "ping"}, cli.ExitUsage, "needs --gateway GW"},
		{[]string{"-gateway", "gw-7", "ping"}, cli.ExitUsage, "needs --key FILE, --key-id ID"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7"}, cli.ExitUsage, "usage: wayside cmd-sign"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "reboot"}, cli.ExitUsage, `"reboot" is not a built-in command`},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "set-interval", `{"sensor":"env1","interval":"1ms"}`}, cli.ExitUsage, "args.interval: 1ms is out of range"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "set-interval", `{"sensor":"env1"`}, cli.ExitUsage, "args: want a JSON object"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw 7", "ping"}, cli.ExitUsage, `gateway: "gw 7" is not a gateway id`},
		{[]string{"-key", keyFile, "-key-id", "ci/ty", "-gateway", "gw-7", "ping"}, cli.ExitUsage, "kid:"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "-format", "hex", "ping"}, cli.ExitUsage, "--format"},
		{[]string{"-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "-id", "has space", "ping"}, cli.ExitUsage, "id: want"},
		{[]string{"-key", filepath.Join(dir, "missing.pem"), "-key-id", "city", "-gateway", "gw-7", "ping"}, cli.ExitFailure, "missing.pem"},
		{[]string{"-key", filepath.Join(dir, "pub.txt"), "-key-id", "city", "-gateway", "gw-7", "ping"}, cli.ExitFailure, `want a PEM "PRIVATE KEY"`},
		{[]string{"-key", filepath.Join(dir, "open.pem"), "-key-id", "city", "-gateway", "gw-7", "ping"}, cli.ExitOK, "readable by others"},
	} {
		r := runLocal(t, append([]string{"cmd-sign"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("cmd-sign %v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stderr, command.EncodePublicKey(pub)) {
			t.Errorf("cmd-sign %v printed key material", tc.args)
		}
	}
	if r := runLocal(t, "help"); !strings.Contains(r.stdout, "cmd-sign") || !strings.Contains(r.stdout, "cmd-keygen") {
		t.Errorf("help lacks the commands:\n%s", r.stdout)
	}
}

// TestCmdSignOpenSSLKey signs with a key made by openssl, as a city's key management may.
func TestCmdSignOpenSSLKey(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	keyFile := filepath.Join(t.TempDir(), "ossl.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	os.Chmod(keyFile, 0o600)
	pubPEM, err := exec.Command(openssl, "pkey", "-in", keyFile, "-pubout").Output()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := command.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	r := runLocal(t, "cmd-sign", "-key", keyFile, "-key-id", "city", "-gateway", "gw-7", "ping")
	mustOK(t, r, "cmd-sign")
	if resp, _ := gatewayFor(t, "gw-7", pub).Handle(context.Background(), "ping", []byte(r.stdout)); !resp.OK {
		t.Errorf("answer %s", resp.Encode())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
