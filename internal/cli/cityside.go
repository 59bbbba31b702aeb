package cli

// The city's side, local commands that never talk to a daemon: keys gen makes a city key pair for
// cloud.seal, open verifies (and decrypts) one telemetry batch and prints it as SenML JSON.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type cityFlags struct {
	suite, kid, out string   // keys gen
	keys, gateways  listFlag // open
	requireSealed   bool
}

var cityFlagsByRun sync.Map // *cmdOpts → *cityFlags

func cityFlagsOf(o *cmdOpts) *cityFlags {
	v, _ := cityFlagsByRun.LoadOrStore(o, &cityFlags{})
	return v.(*cityFlags)
}

func keysFlags(fs *flag.FlagSet, o *cmdOpts) {
	f := cityFlagsOf(o)
	var names []string
	for _, s := range cosebatch.Suites {
		names = append(names, s.Name)
	}
	fs.StringVar(&f.suite, "suite", cosebatch.DefaultSuite, "HPKE `SUITE`: "+strings.Join(names, ", "))
	fs.StringVar(&f.kid, "kid", "", "the key's `ID` (letters, digits, '-', '_', '.'), e.g. city-2026a")
	fs.StringVar(&f.out, "out", "", "write the private key to `FILE` (mode 0600; an existing file is never overwritten)")
}

func openFlags(fs *flag.FlagSet, o *cmdOpts) {
	f := cityFlagsOf(o)
	fs.Var(&f.keys, "key", "a city key `FILE` from wayside keys gen (repeat, or one file holding several keys, during a rotation)")
	fs.Var(&f.gateways, "gateway-key", "a registered gateway public `KEY` (base64, as wayside status shows it) or a file of them, one a line (repeat)")
	fs.BoolVar(&f.requireSealed, "require-sealed", false, "refuse a batch that is not sealed")
}

// cmdKeys is keys gen: a city key pair for cloud.seal.
func (a *App) cmdKeys(_ context.Context, o *cmdOpts, args []string) error {
	f := cityFlagsOf(o)
	defer cityFlagsByRun.Delete(o)
	if len(args) != 1 || args[0] != "gen" {
		return usagef("usage: wayside keys gen --kid ID --out FILE [--suite SUITE]")
	}
	if f.kid == "" || f.out == "" {
		return usagef("keys gen needs --kid ID and --out FILE")
	}
	suite, err := cosebatch.SuiteByName(f.suite)
	if err != nil {
		return usagef("--suite: %v", err)
	}
	k, err := cityopen.GenerateCityKey(suite, f.kid)
	if err != nil {
		return usagef("--kid: %v", err)
	}
	b, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	if err := writeKeyFile("keys gen", f.out, b); err != nil {
		return err
	}
	if a.json {
		out, _ := json.MarshalIndent(struct {
			PrivateKeyFile string `json:"private_key_file"`
			KeyID          string `json:"kid"`
			Suite          string `json:"suite"`
			PublicKey      string `json:"public_key"`
		}{f.out, k.KID, suite.Name, k.PublicKey()}, "", "  ")
		fmt.Fprintf(a.Stdout, "%s\n", out)
		return nil
	}
	fmt.Fprintf(a.Stdout, "cloud:\n  seal:\n    suite: %s\n    kid: %s\n    public_key: %s\n", suite.Name, k.KID, k.PublicKey())
	fmt.Fprintf(a.Stderr, "wrote the private key to %s: keep it secret and keep it after a rotation until no gateway's spool "+
		"holds batches sealed to it. The lines above go into the gateways' configuration.\n", f.out)
	return nil
}

// senmlJSON is one resolved record of RFC 8428 JSON (section 5): name, unit, value, time.
type senmlJSON struct {
	Name  string      `json:"n"`
	Unit  string      `json:"u,omitempty"`
	Value json.Number `json:"v"`
	Time  float64     `json:"t"`
	Flags uint32      `json:"wf,omitempty"`  // time corrected
	Untr  uint32      `json:"wf_,omitempty"` // time untrusted: must-understand, as on the wire
}

// wireValue prints a value sent at float32 precision (docs/mqtt.md "Telemetry") as the shortest
// decimal that float32 reads back, 13.27 rather than 13.270000457763672.
func wireValue(v float64) json.Number {
	if f := float32(v); float64(f) == v {
		return json.Number(strconv.FormatFloat(v, 'g', -1, 32))
	}
	return json.Number(strconv.FormatFloat(v, 'g', -1, 64))
}

// cmdOpen reads one batch on stdin, opens it and prints its readings as SenML JSON.
func (a *App) cmdOpen(_ context.Context, o *cmdOpts, args []string) error {
	f := cityFlagsOf(o)
	defer cityFlagsByRun.Delete(o)
	if len(args) != 0 {
		return usagef("usage: wayside open [--key CITY_KEY]... [--gateway-key KEY]... < batch.cbor")
	}
	var opts cityopen.Options
	for _, path := range f.keys {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("open: --key: %w", err)
		}
		ks, err := cityopen.ParseCityKeys(b)
		if err != nil {
			return fmt.Errorf("open: --key %s: %w", path, err)
		}
		opts.CityKeys = append(opts.CityKeys, ks...)
	}
	for _, g := range f.gateways {
		keys, err := gatewayKeys(g)
		if err != nil {
			return usagef("--gateway-key %.60s: %v", g, err)
		}
		opts.Gateways = append(opts.Gateways, keys...)
	}
	opts.RequireSealed, opts.Unverified = f.requireSealed, len(opts.Gateways) == 0
	op, err := cityopen.New(opts)
	if err != nil {
		return usagef("%v", err)
	}
	stdin := a.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	msg, err := io.ReadAll(io.LimitReader(stdin, cityopen.MaxBatch+1))
	if err != nil {
		return fmt.Errorf("open: read stdin: %w", err)
	}
	b, err := op.Open(msg)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	recs := make([]senmlJSON, len(b.Pack.Readings))
	for i, r := range b.Pack.Readings {
		recs[i] = senmlJSON{Name: r.Name, Unit: r.Unit, Value: wireValue(r.Value), Time: float64(r.UnixMilli()) / 1000}
		if r.Flags&buffer.FlagClockUntrusted != 0 {
			recs[i].Untr = r.Flags
		} else {
			recs[i].Flags = r.Flags
		}
	}
	out, _ := json.MarshalIndent(recs, "", "  ")
	fmt.Fprintf(a.Stdout, "%s\n", out)
	sealed := "not sealed"
	if b.Sealed {
		sealed = "sealed to city key " + b.CityKID
	}
	fmt.Fprintf(a.Stderr, "seq %d, boot %s, gateway key %x, %s, %d readings\n", b.Seq, b.BootID, b.GatewayKID, sealed, len(recs))
	if !b.Verified {
		fmt.Fprintf(a.Stderr, "wayside: NOT VERIFIED: no --gateway-key given for kid %x; the readings above may be forged\n", b.GatewayKID)
		return &exitError{code: ExitFailure}
	}
	return nil
}

// gatewayKeys reads --gateway-key: base64 of a 32-byte Ed25519 key, or a file of them, one a line
// (a line may start with a gateway id and a space).
func gatewayKeys(v string) ([]ed25519.PublicKey, error) {
	text := v
	if raw, err := base64.StdEncoding.DecodeString(v); err != nil || len(raw) != ed25519.PublicKeySize {
		b, ferr := os.ReadFile(v)
		if ferr != nil {
			return nil, errors.New("not a base64 Ed25519 public key, nor a readable file")
		}
		text = string(b)
	}
	var keys []ed25519.PublicKey
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("line %q: want base64 of a 32-byte Ed25519 public key", line)
		}
		keys = append(keys, raw)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return keys, nil
}
