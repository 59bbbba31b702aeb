package cli

// Local commands for the people who sign cloud commands (package cloudsync/command): cmd-keygen makes
// a key pair, cmd-sign writes a signed request (COSE_Sign1) for mosquitto_pub -f. Neither talks to the
// daemon.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	cloudcmd "github.com/wayside-iot/wayside/cloudsync/command"
)

// signFlags are the flags of cmd-keygen and cmd-sign. cmdOpts has no room for them, so they are kept
// per run, keyed by the run's *cmdOpts (the flags func and the run func receive the same pointer).
type signFlags struct {
	out     string // cmd-keygen
	key     string // cmd-sign
	keyID   string
	gateway string
	id      string
	format  string
}

var signFlagsByRun sync.Map // *cmdOpts → *signFlags

func signFlagsOf(o *cmdOpts) *signFlags {
	v, _ := signFlagsByRun.LoadOrStore(o, &signFlags{})
	return v.(*signFlags)
}

func cmdKeygenFlags(fs *flag.FlagSet, o *cmdOpts) {
	f := signFlagsOf(o)
	fs.StringVar(&f.out, "out", "", "write the private key to `FILE` (PEM, mode 0600; an existing file is never overwritten)")
}

func cmdSignFlags(fs *flag.FlagSet, o *cmdOpts) {
	f := signFlagsOf(o)
	fs.StringVar(&f.key, "key", "", "the private key `FILE` (PEM \"PRIVATE KEY\", from cmd-keygen or openssl genpkey -algorithm ed25519)")
	fs.StringVar(&f.keyID, "key-id", "", "the key's `ID`, as the gateways know it")
	fs.StringVar(&f.gateway, "gateway", "", "the target gateway's `ID`")
	fs.StringVar(&f.id, "id", "", "the request `ID` echoed in the answer (default: cli- and random hex)")
	fs.StringVar(&f.format, "format", "cose", "output `FORMAT`: cose (the raw COSE_Sign1 bytes, for mosquitto_pub -f), base64 (one line), "+
		"or json (a JSON string of the base64, for platforms whose command payload must be JSON: Azure direct methods)")
}

// cmdKeygen writes a new Ed25519 private key to --out and prints the public key for the gateways.
func (a *App) cmdKeygen(_ context.Context, o *cmdOpts, args []string) error {
	f := signFlagsOf(o)
	defer signFlagsByRun.Delete(o)
	if err := noArgs(args); err != nil {
		return err
	}
	if f.out == "" {
		return usagef("cmd-keygen needs --out FILE, where the private key goes")
	}
	pub, priv, err := cloudcmd.GenerateKey()
	if err != nil {
		return err
	}
	pemKey, err := cloudcmd.MarshalPrivateKey(priv)
	if err != nil {
		return err
	}
	if err := writeKeyFile("cmd-keygen", f.out, pemKey); err != nil {
		return err
	}
	pubB64 := cloudcmd.EncodePublicKey(pub)
	if a.json {
		b, _ := json.MarshalIndent(struct {
			PrivateKeyFile string `json:"private_key_file"`
			PublicKey      string `json:"public_key"`
		}{f.out, pubB64}, "", "  ")
		fmt.Fprintf(a.Stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintln(a.Stdout, pubB64)
	fmt.Fprintf(a.Stderr, "wrote the private key to %s: keep it secret, whoever holds it can command the gateways.\n"+
		"The line above is the public key (base64) for the gateways' configuration, under a key id of your choice.\n", f.out)
	return nil
}

// cmdSign prints a signed command request: COMMAND [ARGS_JSON].
func (a *App) cmdSign(_ context.Context, o *cmdOpts, args []string) error {
	f := signFlagsOf(o)
	defer signFlagsByRun.Delete(o)
	if len(args) < 1 || len(args) > 2 {
		return usagef("usage: wayside cmd-sign --key FILE --key-id ID --gateway GW [--id REQ] COMMAND [ARGS_JSON]")
	}
	var missing []string
	for _, m := range []struct{ flag, v string }{{"--key FILE", f.key}, {"--key-id ID", f.keyID}, {"--gateway GW", f.gateway}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return usagef("cmd-sign needs %s", strings.Join(missing, ", "))
	}
	switch f.format {
	case "cose", "base64", "json":
	default:
		return usagef("cmd-sign: --format %q: want cose, base64 or json", f.format)
	}
	name := args[0]
	var raw json.RawMessage
	if len(args) == 2 {
		raw = json.RawMessage(args[1])
	}
	if err := cloudcmd.CheckArgs(name, raw); err != nil {
		var ce *cloudcmd.Error
		if errors.As(err, &ce) {
			return usagef("%s", ce.Message)
		}
		return usagef("%v", err)
	}
	b, err := os.ReadFile(f.key)
	if err != nil {
		return fmt.Errorf("cmd-sign: read the key: %w", err)
	}
	priv, err := cloudcmd.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("cmd-sign: %s: %w", f.key, err)
	}
	if fi, err := os.Stat(f.key); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(a.Stderr, "wayside: warning: %s is readable by others (mode %04o); chmod 600 it\n", f.key, fi.Mode().Perm())
	}
	id := f.id
	if id == "" {
		r := make([]byte, 8)
		rand.Read(r)
		id = "cli-" + hex.EncodeToString(r)
	}
	out, err := cloudcmd.Sign(priv, f.keyID, cloudcmd.Request{ID: id, Gateway: f.gateway, Command: name, Args: raw})
	if err != nil {
		var ce *cloudcmd.Error
		if errors.As(err, &ce) { // a field the gateway would refuse: -gateway, -key-id, -id
			return usagef("%s", ce.Message)
		}
		return fmt.Errorf("cmd-sign: %w", err)
	}
	switch f.format {
	case "base64":
		_, err = fmt.Fprintln(a.Stdout, base64.StdEncoding.EncodeToString(out))
	case "json":
		_, err = fmt.Fprintf(a.Stdout, "%q\n", base64.StdEncoding.EncodeToString(out))
	default:
		_, err = a.Stdout.Write(out)
	}
	return err
}

// writeKeyFile writes a private key to a new file, mode 0600, fsync'd; it never overwrites one, and
// removes what it wrote when the write fails. cmd names the command in the errors.
func writeKeyFile(cmd, path string, key []byte) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %s exists; refusing to overwrite a key: choose another --out or move it away", cmd, path)
	}
	if err != nil {
		return fmt.Errorf("%s: create %s: %w", cmd, path, err)
	}
	_, err = file.Write(key)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("%s: write %s: %w", cmd, path, err)
	}
	return nil
}
