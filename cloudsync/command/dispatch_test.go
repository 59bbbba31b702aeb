package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHandlerPanic(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, send := e.handle("panic", e.sign(e.req("panic", "")))
	if !send || resp.OK || resp.Error.Code != CodeFailed || resp.ID != "req-1" || resp.Command != "panic" {
		t.Fatalf("answer %s", resp.Encode())
	}
	if strings.Contains(string(resp.Encode()), "secret-panic-value") {
		t.Error("the panic value reached the answer")
	}
	if s := e.d.Stats(); s.Panics != 1 || s.Failed != 1 {
		t.Errorf("stats %+v", s)
	}
	logged := e.logs.FilterMessage("command handler panicked").All()
	if len(logged) != 1 || !strings.Contains(logged[0].ContextMap()["stack"].(string), "dispatch_test.go") {
		t.Errorf("panic logs %+v", logged)
	}
	// The dispatcher keeps working.
	e.wantCode(CmdPing, e.sign(e.req(CmdPing, "")), "")
}

func TestHandlerResults(t *testing.T) {
	e := newEnv(t, envConfig{timeout: 50 * time.Millisecond})
	for _, tc := range []struct {
		cmd, args string
		want      Code
		msg       string
	}{
		{"fail-plain", "", CodeFailed, "the disk is on fire"},
		{CmdSetInterval, `{"sensor":"env9","interval":"1s"}`, CodeBadRequest, `args.sensor: no sensor "env9"`},
		{"slow", "", CodeFailed, "timed out after 50ms"},
		{"scalar", "", CodeFailed, "not a JSON object"},
		{"nothing", "", "", ""},
	} {
		start := time.Now()
		resp := e.wantCode(tc.cmd, e.sign(e.req(tc.cmd, tc.args)), tc.want)
		if tc.want != "" && (resp.Error == nil || !strings.Contains(resp.Error.Message, tc.msg)) {
			t.Errorf("%s: %s, want a message with %q", tc.cmd, resp.Encode(), tc.msg)
		}
		if tc.want == "" && resp.Result != nil {
			t.Errorf("%s: result %s, want none", tc.cmd, resp.Result)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %s", tc.cmd, d)
		}
	}
}

func TestHandlerCancelled(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, _ := e.d.Handle(ctx, "slow", e.sign(e.req("slow", "")))
	if resp.Error == nil || resp.Error.Code != CodeFailed || !strings.Contains(resp.Error.Message, "stopping") {
		t.Errorf("answer %s", resp.Encode())
	}
}

func TestUnknownCommand(t *testing.T) {
	e := newEnv(t, envConfig{burst: 1, every: time.Hour})
	e.handle("x", []byte("garbage")) // uses the only token
	resp, send := e.handle("frobnicate", e.sign(e.req("frobnicate", "")))
	if !send || resp.Error == nil || resp.Error.Code != CodeUnknownCommand || resp.ID != "req-1" {
		t.Errorf("answer %s (send %v)", resp.Encode(), send)
	}
	// An unsigned request for an unknown command learns nothing more than unauthorized.
	b, _ := Sign(testKey(3), "city", e.req("frobnicate", ""))
	resp, _ = e.d.Handle(context.Background(), "frobnicate", b)
	if resp.Error.Code != CodeUnauthorized {
		t.Errorf("forged unknown command: %s", resp.Encode())
	}
}

// TestErrorRateLimit floods the command topic with garbage: only a burst of refusals is answered,
// then one per ErrorEvery, while accepted commands are always answered.
func TestErrorRateLimit(t *testing.T) {
	e := newEnv(t, envConfig{burst: 3, every: time.Second})
	sent := 0
	for range 10 {
		if _, send := e.handle(CmdPing, []byte(`{"not":"a request"}`)); send {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("%d of 10 refusals answered, want the burst of 3", sent)
	}
	if resp, send := e.handle(CmdPing, e.sign(e.req(CmdPing, ""))); !send || !resp.OK {
		t.Errorf("a valid command while the bucket is empty: %s send=%v", resp.Encode(), send)
	}
	p := e.sign(e.req(CmdPing, ""))
	if resp, send := e.handle(CmdPing, p); !send || !resp.OK {
		t.Errorf("a second valid command: %s send=%v", resp.Encode(), send)
	}
	if _, send := e.handle(CmdPing, p); send {
		t.Error("a replay answered while the bucket is empty")
	}
	e.clk.Add(time.Second)
	if _, send := e.handle(CmdPing, p); !send {
		t.Error("no token after ErrorEvery")
	}
	if _, send := e.handle(CmdPing, p); send {
		t.Error("two tokens after one ErrorEvery")
	}
	e.clk.Add(time.Hour) // refills to the burst, not beyond
	sent = 0
	for range 10 {
		if _, send := e.handle(CmdPing, []byte(`[]`)); send {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("%d answered after a long pause, want the burst of 3", sent)
	}
	// A wall clock stepped back (NTP correcting a bad RTC) neither refills nor stops the bucket.
	e.clk.Add(-24 * time.Hour)
	if _, send := e.handle(CmdPing, []byte(`[]`)); send {
		t.Error("a refusal answered after the clock stepped back")
	}
	e.clk.Add(time.Second)
	if _, send := e.handle(CmdPing, []byte(`[]`)); !send {
		t.Error("no token one ErrorEvery after the clock stepped back")
	}
	if s := e.d.Stats(); s.Suppressed != 7+1+1+7+1 || s.Refused != 10+1+1+1+10+2 {
		t.Errorf("stats %+v", s)
	}
	// The log is limited with the answers, and says how many were held back.
	refused := e.logs.FilterMessage("command refused").All()
	if len(refused) != 3+1+3+1 {
		t.Errorf("%d refusals logged, want 8", len(refused))
	}
	var held []uint64
	for _, entry := range refused {
		n, _ := entry.ContextMap()["suppressed_before"].(uint64)
		held = append(held, n)
	}
	if fmt.Sprint(held) != fmt.Sprint([]uint64{0, 0, 0, 8, 1, 0, 0, 8}) {
		t.Errorf("logged refusals report %v held back before them, want [0 0 0 8 1 0 0 8]", held)
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := func(context.Context, json.RawMessage) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		h    Handler
		want string
	}{
		{"Bad", h, "not a valid command name"},
		{strings.Repeat("a", 33), h, "not a valid command name"},
		{CmdPing, h, "already registered"},
		{"new", nil, "nil handler"},
	} {
		if err := e.d.Register(tc.name, tc.h); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%q): %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a verifier")
	}
}

// TestAnswerFields: garbage gets an answer with an empty id; an invalid topic name is not echoed.
func TestAnswerFields(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, _ := e.handle("Not A Name", []byte("{"))
	if resp.ID != "" || resp.Command != "" || resp.Error.Code != CodeBadRequest {
		t.Errorf("answer %s", resp.Encode())
	}
	var m map[string]any
	json.Unmarshal(resp.Encode(), &m)
	if _, ok := m["result"]; ok {
		t.Error("a refusal carries a result member")
	}
	// A long handler message is cut.
	e.d.Register("wordy", func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New(strings.Repeat("w", 2000))
	})
	resp = e.wantCode("wordy", e.sign(e.req("wordy", "")), CodeFailed)
	if len(resp.Error.Message) != maxMessage+3 {
		t.Errorf("message of %d bytes", len(resp.Error.Message))
	}
}

func TestConcurrentHandle(t *testing.T) {
	e := newEnv(t, envConfig{})
	p := e.sign(e.req(CmdPing, ""))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[Code]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.d.Handle(context.Background(), CmdPing, p)
			mu.Lock()
			if resp.Error == nil {
				codes[""]++
			} else {
				codes[resp.Error.Code]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[""] != 1 || codes[CodeReplayed] != 7 || e.ran(CmdPing) != 1 {
		t.Errorf("8 racing copies: %v, ping ran %d times", codes, e.ran(CmdPing))
	}
}

// TestRefusalEchoesReadableID: every refusal of a payload whose id can be read (one JSON object within
// the limits, each member once, "id" a string) echoes that id, including those refused for another
// member's shape before the request is decoded in full (#20); payloads whose id cannot be read
// unambiguously answer with an empty id.
func TestRefusalEchoesReadableID(t *testing.T) {
	e := newEnv(t, envConfig{burst: 100})
	signed := func(edit func(m map[string]any)) []byte {
		return rewrap(t, e.sign(e.req(CmdPing, "")), func(j []byte) []byte {
			var m map[string]any
			if err := json.Unmarshal(j, &m); err != nil {
				t.Fatal(err)
			}
			m["id"] = "req-echo-1"
			edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		})
	}
	echoed := []struct {
		name    string
		payload []byte
		topic   string
	}{
		{"nonce missing", signed(func(m map[string]any) { delete(m, "nonce") }), CmdPing},
		{"nonce a number", signed(func(m map[string]any) { m["nonce"] = 7 }), CmdPing},
		{"issued_at a string", signed(func(m map[string]any) { m["issued_at"] = "now" }), CmdPing},
		{"issued_at not an integer", signed(func(m map[string]any) { m["issued_at"] = 1.5 }), CmdPing},
		{"args an array", signed(func(m map[string]any) { m["args"] = []int{1} }), CmdPing},
		{"gateway missing", signed(func(m map[string]any) { delete(m, "gateway") }), CmdPing},
		{"bad signature", signed(func(m map[string]any) { m["nonce"] = "AAAAAAAAAAAAAAAAAAAAAA" }), CmdPing},
		{"wrong gateway", signed(func(m map[string]any) { m["gateway"] = "gw-2" }), CmdPing},
		{"topic mismatch", signed(func(map[string]any) {}), CmdGetStatus},
	}
	for _, tt := range echoed {
		resp, send := e.handle(tt.topic, tt.payload)
		if !send || resp.OK || resp.ID != "req-echo-1" {
			t.Errorf("%s: answer %s; want a refusal echoing id req-echo-1", tt.name, resp.Encode())
		}
	}
	notEchoed := []struct{ name, payload string }{
		{"not JSON", `{"id": "req-echo-1",`},
		{"duplicate id", `{"id": "req-echo-1", "id": "req-echo-2"}`},
		{"unknown field", `{"id": "req-echo-1", "who": 1}`},
		{"id a number", `{"id": 7, "gateway": "gw-1"}`},
		{"id not printable", `{"id": "req echo", "gateway": "gw-1"}`},
	}
	for _, tt := range notEchoed {
		resp, _ := e.handle(CmdPing, e.signRaw("city", []byte(tt.payload)))
		if resp.OK || resp.ID != "" || resp.Error == nil {
			t.Errorf("%s: answer %s; want a refusal with an empty id", tt.name, resp.Encode())
		}
	}
}
