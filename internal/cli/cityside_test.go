package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/internal/cli"
)

func runStdin(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	var so, se bytes.Buffer
	a := &cli.App{Stdout: &so, Stderr: &se, Stdin: bytes.NewReader(stdin), LookupEnv: func(string) (string, bool) { return "", false }}
	code := a.Run(context.Background(), args)
	return result{so.String(), se.String(), code}
}

// TestKeysGenAndOpen: a city key from keys gen, a batch a gateway signed and sealed to its public
// key, and open printing the readings as SenML JSON, with every refusal a clear error.
func TestKeysGenAndOpen(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "city.key")
	r := runLocal(t, "keys", "gen", "--kid", "city-a", "--out", keyFile)
	mustOK(t, r, "keys gen")
	contains(t, "stdout", r.stdout, "seal:", "kid: city-a", "suite: x25519-chacha20poly1305", "public_key: ")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}
	pubLine := r.stdout[strings.Index(r.stdout, "public_key: ")+len("public_key: "):]
	cityPub, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(pubLine))
	if r := runLocal(t, "keys", "gen", "--kid", "city-a", "--out", keyFile); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("second keys gen: %+v", r)
	}
	if r := runLocal(t, "keys", "gen", "--kid", "x", "--out", filepath.Join(dir, "k2"), "--suite", "rsa"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "unknown suite") {
		t.Errorf("bad suite: %+v", r)
	}

	// A gateway's batch, signed and sealed.
	seed := bytes.Repeat([]byte{7}, 32)
	gw := ed25519.NewKeyFromSeed(seed)
	enc, _ := senml.NewEncoder("gw-9", "0123456789abcdef0123456789abcdef", []senml.Channel{{Name: "/env1/temperature", Unit: "Cel"}}, 10)
	pack, _ := enc.Encode(77, []buffer.Reading{{Time: 1767225600000e6, Value: 21.5}, {Time: 1767225601000e6, Value: 21.75}})
	signer, _ := cosebatch.NewSigner(gw, "0123456789abcdef0123456789abcdef", 256)
	signed := bytes.Clone(signer.Sign(77, pack))
	suite, _ := cosebatch.SuiteByName("x25519-chacha20poly1305")
	sealer, err := cosebatch.NewSealer(suite, "city-a", cityPub)
	if err != nil {
		t.Fatal(err)
	}
	sealedMsg, _ := sealer.Seal(signed)
	gwKey := base64.StdEncoding.EncodeToString(gw.Public().(ed25519.PublicKey))
	keysFile := filepath.Join(dir, "gateways.txt")
	os.WriteFile(keysFile, []byte("# registered gateways\ngw-9 "+gwKey+"\n"), 0o644)

	for _, gk := range []string{gwKey, keysFile} {
		r = runStdin(t, sealedMsg, "open", "--key", keyFile, "--gateway-key", gk)
		mustOK(t, r, "open")
		var recs []struct {
			N string  `json:"n"`
			U string  `json:"u"`
			V float64 `json:"v"`
			T float64 `json:"t"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 || recs[0].N != "gw-9/env1/temperature" ||
			recs[0].U != "Cel" || recs[1].V != 21.75 || recs[1].T != 1767225601 {
			t.Errorf("open printed %s (%v)", r.stdout, err)
		}
		contains(t, "stderr", r.stderr, "seq 77", "sealed to city key city-a")
	}
	// Unsigned-by-a-registered-key, without a gateway key, tampered, wrong city key, not sealed when required.
	other := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey))
	tampered := bytes.Clone(sealedMsg)
	tampered[len(tampered)-5] ^= 1
	otherCity := filepath.Join(dir, "other.key")
	mustOK(t, runLocal(t, "keys", "gen", "--kid", "city-a", "--out", otherCity), "keys gen")
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		want  string
	}{
		{"another gateway's key", sealedMsg, []string{"--key", keyFile, "--gateway-key", other}, cli.ExitFailure, "not registered"},
		{"no gateway key", sealedMsg, []string{"--key", keyFile}, cli.ExitFailure, "NOT VERIFIED"},
		{"tampered", tampered, []string{"--key", keyFile, "--gateway-key", gwKey}, cli.ExitFailure, "does not authenticate"},
		{"wrong city key", sealedMsg, []string{"--key", otherCity, "--gateway-key", gwKey}, cli.ExitFailure, "cannot decrypt"},
		{"no city key", sealedMsg, []string{"--gateway-key", gwKey}, cli.ExitFailure, "no city key"},
		{"truncated", sealedMsg[:40], []string{"--key", keyFile, "--gateway-key", gwKey}, cli.ExitFailure, "malformed"},
		{"not sealed", signed, []string{"--key", keyFile, "--gateway-key", gwKey, "--require-sealed"}, cli.ExitFailure, "not sealed"},
		{"bad gateway key", sealedMsg, []string{"--key", keyFile, "--gateway-key", "AAAA"}, cli.ExitUsage, "--gateway-key"},
	} {
		r := runStdin(t, tc.stdin, append([]string{"open"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
		if tc.want != "NOT VERIFIED" && r.stdout != "" {
			t.Errorf("%s: printed %q", tc.name, r.stdout)
		}
	}
	// A signed batch opens without a city key.
	r = runStdin(t, signed, "open", "--gateway-key", gwKey)
	mustOK(t, r, "open signed")
	contains(t, "stderr", r.stderr, "not sealed")
}
