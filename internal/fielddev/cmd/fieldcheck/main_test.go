package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// pack is a SenML-CBOR pack (RFC 8428 labels: -2 base name, 2 value) as mosquitto_sub -F '%t %x'
// prints it.
func pack(t *testing.T, topic string, recs ...map[int]any) string {
	t.Helper()
	b, err := cbor.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return topic + " " + hex.EncodeToString(b) + "\n"
}

func TestCheck(t *testing.T) {
	in := pack(t, "wayside/v1/gw/telemetry",
		map[int]any{-2: "gw/env1/temperature", 2: 20.5}, map[int]any{2: 21.0},
		map[int]any{-2: "gw/loop1/volume", 2: 3.0}) +
		pack(t, "wayside/v1/gw/telemetry", map[int]any{-2: "gw/loop1/volume", 2: 4.0}) +
		pack(t, "wayside/v1/gw/status", map[int]any{-2: "gw/env1/temperature", 2: 99.0}) + // not telemetry
		"wayside/v1/gw/telemetry zz\n"
	var ws wants
	for _, w := range []string{"temp=gw/env1/temperature,15,25", "pulses=gw/loop1/volume,5,100,sum", "gps=gw/gps1/lat,52,53", "hot=gw/env1/temperature,30,40"} {
		if err := ws.Set(w); err != nil {
			t.Fatal(err)
		}
	}
	lines, ok := check(strings.NewReader(in), "/telemetry", ws)
	if ok {
		t.Error("check passed with a missing channel and a value out of range")
	}
	want := []string{
		"temp PASS gw/env1/temperature: 2 readings, last 21 ",
		"pulses PASS gw/loop1/volume: 2 readings, sum 7 ",
		"gps FAIL no gw/gps1/lat in 2 packs (1 undecodable)",
		"hot FAIL gw/env1/temperature: 2 readings, last 21 ",
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	if err := ws.Set("bad=x,1"); err == nil {
		t.Error("want with two fields accepted")
	}
}
