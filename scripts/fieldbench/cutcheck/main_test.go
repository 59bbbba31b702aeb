package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// Payloads written by hand from RFC 8949's encoding rules, not by the gateway's encoder:
// 81 (array of 1) A1 (map of 1) 63 "seq" 11 (unsigned 17).
const (
	packSeq17  = "81a16373657111"
	sign1Seq17 = "d284" + "40" + "a0" + "47" + packSeq17 + "40" // tag 18, [h'', {}, h'<pack>', h'']
)

func TestSeqOf(t *testing.T) {
	for _, tc := range []struct{ name, hex string }{{"pack", packSeq17}, {"COSE_Sign1", sign1Seq17}} {
		b := mustHex(t, tc.hex)
		s, err := seqOf(b)
		if err != nil || s != 17 {
			t.Errorf("%s: seqOf = %d, %v; want 17", tc.name, s, err)
		}
	}
	if _, err := seqOf(mustHex(t, "81a0")); err == nil { // [{}]: no seq label
		t.Error("a pack without seq decoded")
	}
}

func TestCheckFindsAMissingBatch(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cycle := write("c1", "WB-RUN phase=cycle gw=g first=5\n"+
		`WB-SPOOL {"durable_seq": 4, "recovered": 2, "torn_records": 1, "cut_bytes": 37}`+"\n"+
		`WB-SPOOL {"durable_seq": 7, "recovered": 2, "torn_records": 1, "cut_bytes": 37}`+"\n"+
		`WB-SPOOL {"durable_seq": 9, "recov`) // torn by the cut: not counted
	deliver := write("d", "WB-RUN phase=deliver gw=g first=1001\n"+`WB-SPOOL {"durable_seq": 7, "recovered": 3}`+"\n")
	// Seq 5 and 6 delivered (seq 6 inside a COSE_Sign1), 7 not: 81 a1 63 "seq" 05 / 06.
	msgs := write("m", "wayside/v1/g/telemetry 81a16373657105\n"+
		"wayside/v1/g/telemetry d28440a04781a16373657106"+"40\n"+
		"wayside/v1/other/telemetry 81a16373657107\n")
	res, err := check("g", msgs, []string{cycle, deliver})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReportedSynced != 3 || res.Delivered != 2 || len(res.Missing) != 1 || res.Missing[0] != 7 {
		t.Errorf("reported %d delivered %d missing %v; want 3, 2, [7]", res.ReportedSynced, res.Delivered, res.Missing)
	}
	if res.TornRecords != 1 || res.CutBytes != 37 || res.Recovered != 3 || res.Cuts != 1 || res.Started != 2 {
		t.Errorf("accounting %+v", res)
	}
	if len(res.Problems) == 0 {
		t.Error("a missing batch is not a problem")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
