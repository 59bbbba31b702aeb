package command

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestBuiltinArgs(t *testing.T) {
	for _, tc := range []struct {
		cmd, args string
		want      string // "" for valid
	}{
		{CmdSetInterval, `{"sensor":"env1","interval":"5s"}`, ""},
		{CmdSetInterval, `{"interval":"100ms","sensor":"a.b_c-1"}`, ""},
		{CmdSetInterval, `{"sensor":"env1","interval":"24h"}`, ""},
		{CmdSetInterval, `{"sensor":"env1","interval":"99ms"}`, "args.interval: 99ms is out of range; use 100ms to 24h0m0s"},
		{CmdSetInterval, `{"sensor":"env1","interval":"24h0m0.001s"}`, "args.interval: 24h0m0.001s is out of range"},
		{CmdSetInterval, `{"sensor":"env1","interval":"-5s"}`, "out of range"},
		{CmdSetInterval, `{"sensor":"env1","interval":"5 s"}`, `args.interval: "5 s" is not a duration`},
		{CmdSetInterval, `{"sensor":"env1","interval":5}`, `args.interval: want a duration string`},
		{CmdSetInterval, `{"sensor":"env1"}`, "args.interval: missing"},
		{CmdSetInterval, `{"interval":"5s"}`, "args.sensor: missing"},
		{CmdSetInterval, `{"sensor":7,"interval":"5s"}`, "args.sensor: want a string, got number"},
		{CmdSetInterval, `{"sensor":"env 1","interval":"5s"}`, `args.sensor: "env 1" is not a sensor name`},
		{CmdSetInterval, `{"Sensor":"env1","interval":"5s"}`, "args.Sensor: unknown field; valid: sensor, interval"},
		{CmdSetInterval, `{"sensor":"env1","interval":"5s","every":"1s"}`, "args.every: unknown field"},
		{CmdSetInterval, ``, "args.sensor: missing"},
		{CmdSetInterval, `[]`, "args: want a JSON object"},
		{CmdSetLogLevel, `{"level":"debug"}`, ""},
		{CmdSetLogLevel, `{"level":"DEBUG"}`, `args.level: "DEBUG" is not a level; use debug, info, warn, error`},
		{CmdSetLogLevel, `{"level":null}`, `args.level: "" is not a level`},
		{CmdSetLogLevel, `{}`, "args.level"},
		{CmdPing, ``, ""},
		{CmdPing, `{}`, ""},
		{CmdFlushSpool, `{"now":true}`, "args.now: unknown field; this command takes no arguments"},
		{CmdReloadConfig, `{}`, ""},
		{CmdSnapshot, `{}`, ""},
		{CmdGetStatus, `{"x":1}`, "takes no arguments"},
		{"reboot", `{}`, `"reboot" is not a built-in command`},
	} {
		err := CheckArgs(tc.cmd, json.RawMessage(tc.args))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.cmd, tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: %v, want an error containing %q", tc.cmd, tc.args, err, tc.want)
		case tc.want != "" && tc.cmd != "reboot" && CodeOf(err) != CodeBadRequest:
			t.Errorf("%s %s: code %q", tc.cmd, tc.args, CodeOf(err))
		}
	}
	for _, name := range Builtin {
		if !ValidName(name) {
			t.Errorf("built-in %q is not a valid name", name)
		}
	}
}

func TestDecodeArgsValues(t *testing.T) {
	var a SetIntervalArgs
	if err := DecodeArgs(json.RawMessage(`{"sensor":"co2","interval":"1m30s"}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.Sensor != "co2" || time.Duration(a.Interval) != 90*time.Second {
		t.Errorf("decoded %+v", a)
	}
	b, _ := json.Marshal(a)
	if string(b) != `{"sensor":"co2","interval":"1m30s"}` {
		t.Errorf("re-encoded %s", b)
	}
	// Nested structs refuse unknown fields too; untagged fields use their Go name.
	var n struct {
		Inner struct {
			X int `json:"x"`
		} `json:"inner"`
		Plain  string
		hidden int
		Skip   int `json:"-"`
	}
	if err := DecodeArgs(json.RawMessage(`{"inner":{"x":1,"y":2}}`), &n); err == nil || !strings.Contains(err.Error(), `args.inner: json: unknown field "y"`) {
		t.Errorf("nested unknown field: %v", err)
	}
	if err := DecodeArgs(json.RawMessage(`{"Plain":"p","inner":{"x":3}}`), &n); err != nil || n.Plain != "p" || n.Inner.X != 3 {
		t.Errorf("decoded %+v: %v", n, err)
	}
	for _, k := range []string{"hidden", "Skip", "-"} {
		if err := DecodeArgs(json.RawMessage(`{"`+k+`":1}`), &n); err == nil {
			t.Errorf("field %q accepted", k)
		}
	}
	if err := DecodeArgs(nil, a); err == nil || !strings.Contains(err.Error(), "pointer to a struct") {
		t.Errorf("non-pointer: %v", err)
	}
}

func TestTyped(t *testing.T) {
	h := Typed(func(_ context.Context, a SetLogLevelArgs) (any, error) { return map[string]string{"set": a.Level}, nil })
	if _, err := h(context.Background(), json.RawMessage(`{"level":"loud"}`)); CodeOf(err) != CodeBadRequest {
		t.Errorf("invalid level: %v", err)
	}
	res, err := h(context.Background(), json.RawMessage(`{"level":"warn"}`))
	if err != nil || res.(map[string]string)["set"] != "warn" {
		t.Errorf("valid level: %v %v", res, err)
	}
	if CodeOf(nil) != "" || CodeOf(context.Canceled) != CodeFailed {
		t.Error("CodeOf")
	}
}
