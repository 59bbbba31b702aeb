package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
)

const bootID = "00112233445566778899aabbccddeeff"

var (
	_, gwKey, _    = ed25519.GenerateKey(nil)
	_, otherKey, _ = ed25519.GenerateKey(nil)
	seq            uint64
)

// pack is a SenML-CBOR pack (RFC 8428 labels: -2 base name, 2 value; the first record with the
// batch's seq and boot id) signed as a COSE_Sign1 by key, as mosquitto_sub -F '%t %x' prints it.
func pack(t *testing.T, key ed25519.PrivateKey, topic string, recs ...map[any]any) string {
	t.Helper()
	seq++
	recs[0]["seq"], recs[0]["bid"] = seq, bootID
	b, err := cbor.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cosebatch.NewSigner(key, bootID, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return topic + " " + hex.EncodeToString(s.Sign(seq, b)) + "\n"
}

func TestCheck(t *testing.T) {
	in := pack(t, gwKey, "wayside/v1/gw/telemetry",
		map[any]any{-2: "gw/env1/temperature", 2: 20.5}, map[any]any{2: 21.0},
		map[any]any{-2: "gw/loop1/volume", 2: 3.0}) +
		pack(t, gwKey, "wayside/v1/gw/telemetry", map[any]any{-2: "gw/loop1/volume", 2: 4.0}) +
		pack(t, gwKey, "wayside/v1/gw/status", map[any]any{-2: "gw/env1/temperature", 2: 99.0}) + // not telemetry
		pack(t, otherKey, "wayside/v1/gw/telemetry", map[any]any{-2: "gw/loop1/volume", 2: 50.0}) + // another key
		"wayside/v1/gw/telemetry zz\n"
	var ws wants
	for _, w := range []string{"temp=gw/env1/temperature,15,25", "pulses=gw/loop1/volume,5,100,sum", "gps=gw/gps1/lat,52,53", "hot=gw/env1/temperature,30,40"} {
		if err := ws.Set(w); err != nil {
			t.Fatal(err)
		}
	}
	op, err := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{gwKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	lines, ok := check(strings.NewReader(in), "/telemetry", op, ws)
	if ok {
		t.Error("check passed with a missing channel and a value out of range")
	}
	want := []string{
		"batches-verify FAIL 2 of 4 telemetry batches did not verify",
		"temp PASS gw/env1/temperature: 2 readings, last 21 ",
		"pulses PASS gw/loop1/volume: 2 readings, sum 7 ",
		"gps FAIL no gw/gps1/lat in 2 packs (2 undecodable)",
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
