package command

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/veraison/go-cose"
	"go.uber.org/zap"
)

// set replaces one member of a COSE_Sign1 request's JSON with raw JSON (re-encoding the object sorts
// its members), keeping the signature.
func set(t *testing.T, p []byte, field, raw string) []byte {
	t.Helper()
	return rewrap(t, p, func(j []byte) []byte {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		if raw == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(raw)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func field(t *testing.T, p []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	json.Unmarshal(inner(t, p), &m)
	return string(m[name])
}

// resign re-signs a request after mod changes its COSE message (headers, signature).
func remsg(t *testing.T, p []byte, mod func(m *cose.Sign1Message)) []byte {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(p); err != nil {
		t.Fatal(err)
	}
	mod(&m)
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAccepted(t *testing.T) {
	e := newEnv(t, envConfig{})
	p := e.sign(e.req(CmdSetInterval, `{"sensor":"env1","interval":"5s"}`))
	resp, send := e.handle(CmdSetInterval, p)
	if !send || !resp.OK || resp.ID != "req-1" || resp.Command != CmdSetInterval || string(resp.Result) != `{"interval_ms":5000,"sensor":"env1"}` {
		t.Fatalf("answer %s (send %v)", resp.Encode(), send)
	}
	resp = e.wantCode(CmdPing, e.sign(e.req(CmdPing, "")), "")
	var pong PingResult
	if err := json.Unmarshal(resp.Result, &pong); err != nil || !pong.Pong || pong.Time != t0.UnixMilli() || !pong.ClockTrusted {
		t.Errorf("ping result %s: %v", resp.Result, err)
	}
	e.wantCode("nothing", e.sign(e.req("nothing", "")), "")
	if e.ran(CmdSetInterval) != 1 || e.ran(CmdPing) != 1 {
		t.Errorf("runs %v", e.runs)
	}
	if s := e.d.Stats(); s.Accepted != 3 || s.Refused != 0 {
		t.Errorf("stats %+v", s)
	}
	// The accepted command is logged with its id, name and key id; nothing about the key itself.
	if n := e.logs.FilterMessage("command").FilterField(zap.String("key_id", "city")).Len(); n != 3 {
		t.Errorf("%d accepted commands logged, want 3", n)
	}
}

// TestTamper changes one thing in a signed request at a time: every change is refused with its code
// and the handler never runs.
func TestTamper(t *testing.T) {
	e := newEnv(t, envConfig{})
	const args = `{"sensor":"env1","interval":"5s"}`
	fresh := func() []byte { return e.sign(e.req(CmdSetInterval, args)) }
	flipSig := func(p []byte) []byte { return remsg(t, p, func(m *cose.Sign1Message) { m.Signature[10] ^= 1 }) }
	setKid := func(kid string) func(p []byte) []byte {
		return func(p []byte) []byte {
			return remsg(t, p, func(m *cose.Sign1Message) {
				m.Headers.RawProtected = nil
				m.Headers.Protected[cose.HeaderLabelKeyID] = []byte(kid)
			})
		}
	}
	for _, tc := range []struct {
		name  string
		topic string
		mod   func(p []byte) []byte
		want  Code
	}{
		{"control: untouched", CmdSetInterval, func(p []byte) []byte { return p }, ""},
		{"members re-ordered", CmdSetInterval, func(p []byte) []byte { return set(t, p, "id", field(t, p, "id")) }, CodeUnauthorized},
		{"gateway", CmdSetInterval, func(p []byte) []byte { return set(t, p, "gateway", `"gw-2"`) }, CodeWrongGateway},
		{"gateway: signed for another, relabelled", CmdSetInterval, func([]byte) []byte {
			r := e.req(CmdSetInterval, args)
			r.Gateway = "gw-2"
			return set(t, e.sign(r), "gateway", `"gw-1"`)
		}, CodeUnauthorized},
		{"command and topic", CmdSetLogLevel, func(p []byte) []byte { return set(t, p, "command", `"set-log-level"`) }, CodeUnauthorized},
		{"command only", CmdSetInterval, func(p []byte) []byte { return set(t, p, "command", `"set-log-level"`) }, CodeBadRequest},
		{"topic only", CmdSetLogLevel, func(p []byte) []byte { return p }, CodeBadRequest},
		{"id", CmdSetInterval, func(p []byte) []byte { return set(t, p, "id", `"req-999"`) }, CodeUnauthorized},
		{"args value", CmdSetInterval, func(p []byte) []byte { return bytes.Replace(p, []byte(`"5s"`), []byte(`"6s"`), 1) }, CodeUnauthorized},
		{"args whitespace", CmdSetInterval, func(p []byte) []byte {
			return rewrap(t, p, func(j []byte) []byte { return bytes.Replace(j, []byte(`{"sensor":`), []byte(`{ "sensor":`), 1) })
		}, CodeUnauthorized},
		{"args removed", CmdSetInterval, func(p []byte) []byte { return set(t, p, "args", "") }, CodeUnauthorized},
		{"args added", CmdPing, func([]byte) []byte { return set(t, e.sign(e.req(CmdPing, "")), "args", `{}`) }, CodeUnauthorized},
		{"issued_at", CmdSetInterval, func(p []byte) []byte {
			var n int64
			json.Unmarshal([]byte(field(t, p, "issued_at")), &n)
			return set(t, p, "issued_at", fmt.Sprint(n-1))
		}, CodeUnauthorized},
		{"nonce", CmdSetInterval, func(p []byte) []byte {
			n := field(t, p, "nonce")
			c := byte('A')
			if n[1] == 'A' {
				c = 'B'
			}
			return set(t, p, "nonce", `"`+string(c)+n[2:])
		}, CodeUnauthorized},
		{"kid to another known key", CmdSetInterval, setKid("backup"), CodeUnauthorized},
		{"kid unknown", CmdSetInterval, setKid("nobody"), CodeUnauthorized},
		{"kid moved to the unprotected header", CmdSetInterval, func(p []byte) []byte {
			return remsg(t, p, func(m *cose.Sign1Message) {
				m.Headers.RawProtected = nil
				delete(m.Headers.Protected, cose.HeaderLabelKeyID)
				m.Headers.RawUnprotected = nil
				m.Headers.Unprotected = cose.UnprotectedHeader{cose.HeaderLabelKeyID: []byte("city")}
			})
		}, CodeUnauthorized},
		{"alg changed to ES256", CmdSetInterval, func(p []byte) []byte {
			return remsg(t, p, func(m *cose.Sign1Message) {
				m.Headers.RawProtected = nil
				m.Headers.Protected[cose.HeaderLabelAlgorithm] = cose.AlgorithmES256
			})
		}, CodeBadRequest},
		{"sig bit", CmdSetInterval, flipSig, CodeUnauthorized},
		{"sig truncated", CmdSetInterval, func(p []byte) []byte {
			return remsg(t, p, func(m *cose.Sign1Message) { m.Signature = m.Signature[:60] })
		}, CodeBadRequest},
		{"message truncated", CmdSetInterval, func(p []byte) []byte { return p[:len(p)-1] }, CodeBadRequest},
		{"sig from another key", CmdSetInterval, func([]byte) []byte {
			b, _ := Sign(testKey(50), "city", e.req(CmdSetInterval, args))
			return b
		}, CodeUnauthorized},
		{"sig of the backup key under its id", CmdSetInterval, func([]byte) []byte {
			b, _ := Sign(e.backup, "backup", e.req(CmdSetInterval, args))
			return b
		}, ""},
	} {
		before := e.ran(CmdSetInterval) + e.ran(CmdSetLogLevel) + e.ran(CmdPing)
		resp := e.wantCode(tc.topic, tc.mod(fresh()), tc.want)
		ran := e.ran(CmdSetInterval) + e.ran(CmdSetLogLevel) + e.ran(CmdPing) - before
		if (tc.want == "") != (ran == 1) {
			t.Errorf("%s: handler ran %d times", tc.name, ran)
		}
		if tc.want != "" && !strings.HasPrefix(resp.ID, "req-") && !strings.HasPrefix(tc.name, "message truncated") &&
			!strings.HasPrefix(tc.name, "alg") && !strings.HasPrefix(tc.name, "sig truncated") {
			t.Errorf("%s: answer id %q, want the request's", tc.name, resp.ID)
		}
	}
}

// TestEveryByteFlipped flips each bit of every byte of a signed request in turn: each is refused
// (never run), with a JSON answer, never a panic.
func TestEveryByteFlipped(t *testing.T) {
	e := newEnv(t, envConfig{})
	p := e.sign(e.req(CmdSetLogLevel, `{"level":"warn"}`))
	for i := range p {
		for bit := range 8 {
			q := bytes.Clone(p)
			q[i] ^= 1 << bit
			if resp, _ := e.handle(CmdSetLogLevel, q); resp.OK {
				t.Fatalf("byte %d bit %d flipped: accepted", i, bit)
			}
		}
	}
	for n := range len(p) {
		if resp, _ := e.handle(CmdSetLogLevel, p[:n]); resp.OK {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	if e.ran(CmdSetLogLevel) != 0 {
		t.Error("the handler ran")
	}
	e.wantCode(CmdSetLogLevel, p, "")
}

func TestUnknownKeyAndWrongKey(t *testing.T) {
	e := newEnv(t, envConfig{})
	other := testKey(77)
	b, _ := Sign(other, "intruder", e.req(CmdPing, ""))
	if r := e.wantCode(CmdPing, b, CodeUnauthorized); !strings.Contains(r.Error.Message, `unknown kid "intruder"`) {
		t.Errorf("message %q", r.Error.Message)
	}
	b, _ = Sign(other, "city", e.req(CmdPing, ""))
	if r := e.wantCode(CmdPing, b, CodeUnauthorized); !strings.Contains(r.Error.Message, "signature does not verify") {
		t.Errorf("message %q", r.Error.Message)
	}
	if e.ran(CmdPing) != 0 {
		t.Error("ping ran")
	}
}

func TestFreshness(t *testing.T) {
	e := newEnv(t, envConfig{})
	at := func(d time.Duration) []byte {
		r := e.req(CmdPing, "")
		r.IssuedAt = e.clk.Now().Add(d).UnixMilli()
		return e.sign(r)
	}
	e.wantCode(CmdPing, at(-DefaultMaxAge), "")
	if r := e.wantCode(CmdPing, at(-DefaultMaxAge-time.Millisecond), CodeStale); r.Error != nil && !strings.Contains(r.Error.Message, "ago") {
		t.Errorf("expired: %q", r.Error.Message)
	}
	e.wantCode(CmdPing, at(DefaultMaxSkew), "")
	if r := e.wantCode(CmdPing, at(DefaultMaxSkew+time.Millisecond), CodeStale); r.Error != nil && !strings.Contains(r.Error.Message, "future") {
		t.Errorf("future: %q", r.Error.Message)
	}
	if e.ran(CmdPing) != 2 {
		t.Errorf("ping ran %d times, want 2", e.ran(CmdPing))
	}
}

// TestUntrustedClock: with the clock not trusted, ping and get-status pass whatever their issued_at
// (still signed, still not replayable), other commands are refused as stale.
func TestUntrustedClock(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.trusted.Store(false)
	old := e.req(CmdPing, "")
	old.IssuedAt = t0.Add(90 * 24 * time.Hour).UnixMilli() // the gateway's clock is three months behind
	p := e.sign(old)
	resp := e.wantCode(CmdPing, p, "")
	if !strings.Contains(string(resp.Result), `"clock_trusted":false`) {
		t.Errorf("ping result %s", resp.Result)
	}
	e.wantCode(CmdPing, p, CodeReplayed)
	e.wantCode(CmdGetStatus, e.sign(e.req(CmdGetStatus, "")), "")
	r := e.wantCode(CmdSetLogLevel, e.sign(e.req(CmdSetLogLevel, `{"level":"debug"}`)), CodeStale)
	if !strings.Contains(r.Error.Message, "not trusted") {
		t.Errorf("message %q", r.Error.Message)
	}
	forged, _ := Sign(testKey(9), "city", e.req(CmdPing, ""))
	e.wantCode(CmdPing, forged, CodeUnauthorized)
	// A gateway clock far ahead (a bad RTC): issued_at + max age is long past, yet the ping's nonce is
	// remembered for a freshness window from the gateway's now.
	behind := e.req(CmdPing, "")
	behind.IssuedAt = t0.Add(-90 * 24 * time.Hour).UnixMilli()
	p = e.sign(behind)
	e.wantCode(CmdPing, p, "")
	e.clk.Add(DefaultMaxAge)
	e.wantCode(CmdPing, p, CodeReplayed)
	// Once the clock is trusted, the same old request is judged on its time.
	e.trusted.Store(true)
	old.Nonce = ""
	e.wantCode(CmdPing, e.sign(old), CodeStale)
	if e.ran(CmdPing) != 2 || e.ran(CmdSetLogLevel) != 0 {
		t.Errorf("runs %v", e.runs)
	}
}

func TestReplay(t *testing.T) {
	e := newEnv(t, envConfig{})
	p := e.sign(e.req(CmdSetLogLevel, `{"level":"warn"}`))
	e.wantCode(CmdSetLogLevel, p, "")
	e.wantCode(CmdSetLogLevel, p, CodeReplayed)
	// The same nonce in another request (another id) is a replay too.
	r := e.req(CmdSetLogLevel, `{"level":"warn"}`)
	var first Request
	json.Unmarshal(inner(t, p), &first)
	r.Nonce = first.Nonce
	e.wantCode(CmdSetLogLevel, e.sign(r), CodeReplayed)
	// ...but not under another key: the pair (key_id, nonce) is remembered.
	b, _ := Sign(e.backup, "backup", r)
	e.wantCode(CmdSetLogLevel, b, "")

	// Restart: a new cache, verifier and dispatcher on the same file.
	e.clk.Add(time.Minute)
	e.open()
	e.wantCode(CmdSetLogLevel, p, CodeReplayed)
	if n := e.cache.Stats().Entries; n != 2 {
		t.Errorf("%d nonces after the restart, want 2", n)
	}
	// Past its max age the request is stale, and its nonce is forgotten at the next open.
	e.clk.Add(DefaultMaxAge)
	e.wantCode(CmdSetLogLevel, p, CodeStale)
	e.open()
	if n := e.cache.Stats().Entries; n != 0 {
		t.Errorf("%d nonces kept past their expiry", n)
	}
	if e.ran(CmdSetLogLevel) != 2 {
		t.Errorf("set-log-level ran %d times, want 2", e.ran(CmdSetLogLevel))
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	c, err := OpenReplayCache(t.TempDir()+"/n", ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := testKey(1).Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		o    VerifierOptions
		want string
	}{
		{VerifierOptions{Gateway: "gw 1", Keys: map[string]ed25519.PublicKey{"k": pub}, Replay: c}, "gateway id"},
		{VerifierOptions{Gateway: "gw", Replay: c}, "no public keys"},
		{VerifierOptions{Gateway: "gw", Keys: map[string]ed25519.PublicKey{"k/1": pub}, Replay: c}, `key id "k/1"`},
		{VerifierOptions{Gateway: "gw", Keys: map[string]ed25519.PublicKey{"k": pub[:16]}, Replay: c}, "16 bytes"},
		{VerifierOptions{Gateway: "gw", Keys: map[string]ed25519.PublicKey{"k": pub}}, "no replay cache"},
		{VerifierOptions{Gateway: "gw", Keys: map[string]ed25519.PublicKey{"k": pub}, Replay: c, MaxAge: time.Minute}, "give both the same"},
	} {
		if _, err := NewVerifier(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewVerifier: %v, want an error containing %q", err, tc.want)
		}
	}
}
