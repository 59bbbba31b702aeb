package command

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veraison/go-cose"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// t0 is the tests' wall clock: 2026-01-01T00:00:00Z.
var t0 = time.UnixMilli(1767225600000)

// clock is a settable clock shared by the verifier, the replay cache and the dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testKey is a fixed key, so requests (and the fuzz corpus) are reproducible.
func testKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

const testGateway = "gw-1"

type envConfig struct {
	maxEntries int
	burst      int
	every      time.Duration
	timeout    time.Duration
	maxBytes   int
}

// env is a verifier and a dispatcher over a real replay cache file, with handlers that count runs.
type env struct {
	t       testing.TB
	clk     *clock
	city    ed25519.PrivateKey // key id "city"
	backup  ed25519.PrivateKey // key id "backup"
	keys    map[string]ed25519.PublicKey
	path    string
	cfg     envConfig
	trusted atomic.Bool
	cache   *ReplayCache
	v       *Verifier
	d       *Dispatcher
	logs    *observer.ObservedLogs
	seq     int

	mu   sync.Mutex
	runs map[string]int
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	if cfg.burst == 0 {
		cfg.burst = 10000
	}
	e := &env{t: t, clk: &clock{t: t0}, city: testKey(1), backup: testKey(100), cfg: cfg,
		path: filepath.Join(t.TempDir(), DefaultReplayFile), runs: map[string]int{}}
	e.keys = map[string]ed25519.PublicKey{"city": e.city.Public().(ed25519.PublicKey), "backup": e.backup.Public().(ed25519.PublicKey)}
	e.trusted.Store(true)
	e.open()
	t.Cleanup(func() { e.cache.Close() })
	return e
}

// open opens (or reopens, as after a restart) the replay cache, the verifier and the dispatcher.
func (e *env) open() {
	e.t.Helper()
	if e.cache != nil {
		e.cache.Close()
	}
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	c, err := OpenReplayCache(e.path, ReplayOptions{MaxEntries: e.cfg.maxEntries, Now: e.clk.Now, Log: zap.New(core)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.cache = c
	e.v, err = NewVerifier(VerifierOptions{Gateway: testGateway, Replay: c, Now: e.clk.Now, ClockTrusted: e.trusted.Load,
		Keys: e.keys, Limits: Limits{MaxBytes: e.cfg.maxBytes}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.d, err = New(Options{Verifier: e.v, Log: zap.New(core), Now: e.clk.Now, ErrorBurst: e.cfg.burst,
		ErrorEvery: e.cfg.every, Timeout: e.cfg.timeout})
	if err != nil {
		e.t.Fatal(err)
	}
	count := func(name string, h Handler) Handler {
		return func(ctx context.Context, args json.RawMessage) (any, error) {
			e.mu.Lock()
			e.runs[name]++
			e.mu.Unlock()
			return h(ctx, args)
		}
	}
	for name, h := range map[string]Handler{
		CmdPing: Ping(e.clk.Now, e.trusted.Load),
		CmdGetStatus: Typed(func(context.Context, NoArgs) (any, error) {
			return map[string]any{"state": "ok"}, nil
		}),
		CmdSetInterval: Typed(func(_ context.Context, a SetIntervalArgs) (any, error) {
			if a.Sensor != "env1" {
				return nil, Errorf(CodeBadRequest, "args.sensor: no sensor %q; sensors: env1", a.Sensor)
			}
			return map[string]any{"sensor": a.Sensor, "interval_ms": time.Duration(a.Interval).Milliseconds()}, nil
		}),
		CmdSetLogLevel: Typed(func(_ context.Context, a SetLogLevelArgs) (any, error) {
			return map[string]string{"level": a.Level}, nil
		}),
		// echo accepts any args object and returns how many bytes it had.
		"echo": func(_ context.Context, args json.RawMessage) (any, error) {
			return map[string]int{"args_bytes": len(args)}, nil
		},
		"panic": func(context.Context, json.RawMessage) (any, error) {
			panic("boom: secret-panic-value")
		},
		"fail-plain": func(context.Context, json.RawMessage) (any, error) {
			return nil, errors.New("the disk is on fire")
		},
		"slow": func(ctx context.Context, _ json.RawMessage) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"scalar":  func(context.Context, json.RawMessage) (any, error) { return 42, nil },
		"nothing": func(context.Context, json.RawMessage) (any, error) { return nil, nil },
	} {
		if err := e.d.Register(name, count(name, h)); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) ran(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[name]
}

// req returns a request for testGateway issued now, with a fresh id.
func (e *env) req(cmd, args string) Request {
	e.seq++
	r := Request{ID: fmt.Sprintf("req-%d", e.seq), Gateway: testGateway, Command: cmd, IssuedAt: e.clk.Now().UnixMilli()}
	if args != "" {
		r.Args = json.RawMessage(args)
	}
	return r
}

// sign signs r with the city key.
func (e *env) sign(r Request) []byte {
	e.t.Helper()
	b, err := Sign(e.city, "city", r)
	if err != nil {
		e.t.Fatalf("sign %s %.100s: %v", r.Command, r.Args, err)
	}
	return b
}

// signRaw signs any payload bytes with the city key under kid, as a COSE_Sign1.
func (e *env) signRaw(kid string, payload []byte) []byte {
	e.t.Helper()
	b, err := seal(e.city, kid, payload)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// inner returns the JSON payload of a COSE_Sign1 request.
func inner(t testing.TB, p []byte) []byte {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(p); err != nil {
		t.Fatalf("not a COSE_Sign1: %v", err)
	}
	return m.Payload
}

// rewrap replaces the payload of a COSE_Sign1 request by mod's result, keeping headers and signature.
func rewrap(t testing.TB, p []byte, mod func([]byte) []byte) []byte {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(p); err != nil {
		t.Fatalf("not a COSE_Sign1: %v", err)
	}
	m.Payload = mod(bytes.Clone(m.Payload))
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handle runs Handle and checks the answer's shape: valid JSON with exactly the documented members,
// ok exactly when there is no error, a known code, the gateway and the clock.
func (e *env) handle(name string, payload []byte) (Response, bool) {
	e.t.Helper()
	resp, send := e.d.Handle(context.Background(), name, payload)
	if err := checkAnswer(resp.Encode(), testGateway); err != nil {
		e.t.Fatalf("answer to %.80q: %v\n%s", payload, err, resp.Encode())
	}
	if resp.At != e.clk.Now().UnixMilli() {
		e.t.Errorf("answer at %d, want the clock %d", resp.At, e.clk.Now().UnixMilli())
	}
	return resp, send
}

// checkAnswer decodes an answer strictly and checks the documented invariants.
func checkAnswer(b []byte, gateway string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	for k := range m {
		if !slices.Contains([]string{"id", "command", "ok", "result", "error", "gateway", "at"}, k) {
			return fmt.Errorf("unexpected member %q", k)
		}
	}
	var r struct {
		ID      *string          `json:"id"`
		Command *string          `json:"command"`
		OK      *bool            `json:"ok"`
		Result  *json.RawMessage `json:"result"`
		Error   *struct {
			Code    Code   `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Gateway string `json:"gateway"`
		At      *int64 `json:"at"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	switch {
	case r.ID == nil || r.Command == nil || r.OK == nil || r.At == nil:
		return errors.New("id, command, ok or at missing")
	case *r.ID != "" && !validRequestID(*r.ID):
		return fmt.Errorf("id %q is not a valid request id", *r.ID)
	case *r.Command != "" && !ValidName(*r.Command):
		return fmt.Errorf("command %q is not a valid name", *r.Command)
	case r.Gateway != gateway:
		return fmt.Errorf("gateway %q", r.Gateway)
	case *r.OK != (r.Error == nil):
		return fmt.Errorf("ok %v with error %v", *r.OK, r.Error)
	case r.Error != nil && !slices.Contains(Codes, r.Error.Code):
		return fmt.Errorf("unknown code %q", r.Error.Code)
	case r.Error != nil && (r.Error.Message == "" || len(r.Error.Message) > maxMessage+3):
		return fmt.Errorf("message of %d bytes", len(r.Error.Message))
	case r.Result != nil && (len(*r.Result) == 0 || (*r.Result)[0] != '{'):
		return fmt.Errorf("result %s is not an object", *r.Result)
	case r.Result != nil && !*r.OK:
		return errors.New("result on a failure")
	}
	return nil
}

// wantCode runs Handle and requires the answer's code ("" for success).
func (e *env) wantCode(name string, payload []byte, want Code) Response {
	e.t.Helper()
	resp, _ := e.handle(name, payload)
	got := Code("")
	if resp.Error != nil {
		got = resp.Error.Code
	}
	if got != want {
		e.t.Errorf("%s %.120s: code %q (%v), want %q", name, payload, got, resp.Error, want)
	}
	return resp
}
