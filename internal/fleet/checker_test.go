package fleet

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// signedBatch builds a signed batch the way docs/mqtt.md lays it out, with fxamacker/cbor and
// crypto/ed25519 rather than the gateway's encoder and signer: COSE_Sign1 (RFC 9052 section 4.2, tag
// 18) with protected header {1: -8 (EdDSA, RFC 9053 section 2.2), -65537: seq} and a SenML pack
// (RFC 8428 section 6: bn is -2, n 0, u 1, v 2, t 6) whose first record carries "seq". edit, when
// set, changes the records before they are encoded.
func signedBatch(t testing.TB, priv ed25519.PrivateKey, gw string, hseq, pseq uint64, n int, edit func([]map[any]any)) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	pack := make([]map[any]any, n)
	for i := range pack {
		pack[i] = map[any]any{0: fmt.Sprintf("c%d", i), 1: "Cel", 2: 20.5 + float64(i), 6: float64(i)}
	}
	pack[0][-2] = gw + "/load/"
	pack[0][-3] = 1.79e9
	pack[0]["seq"] = pseq
	if edit != nil {
		edit(pack)
	}
	payload, err := em.Marshal(pack)
	if err != nil {
		t.Fatal(err)
	}
	prot, err := em.Marshal(map[int64]any{1: -8, -65537: hseq})
	if err != nil {
		t.Fatal(err)
	}
	toSign, err := em.Marshal([]any{"Signature1", prot, []byte{}, payload})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := em.Marshal(cbor.Tag{Number: 18, Content: []any{prot, map[int64]any{}, payload, ed25519.Sign(priv, toSign)}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestCheckerVerify pins what the fleet's checker accepts and what it refuses.
func TestCheckerVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	c, err := newCheckerState(Prefix, map[string]ed25519.PublicKey{"gw-0001": pub})
	if err != nil {
		t.Fatal(err)
	}
	// Records i = 0..99: v 20.5 + i, t i, bt 1.79e9 on the first: Σv = 100 × 20.5 + 4950 = 7000,
	// Σ(bt + t) = 100 × 1.79e9 + 4950 s.
	seq, sum, err := c.verify("gw-0001", signedBatch(t, priv, "gw-0001", 7, 7, 100, nil))
	if want := (sums{100, 7_000_000_000, 179_000_004_950_000}); err != nil || seq != 7 || sum != want {
		t.Fatalf("a good batch: seq %d, %+v, %v; want 7, %+v, nil", seq, sum, err, want)
	}
	// A base value of 100 on the first record adds 100 to every value; a base time of 1.8e9 from
	// record 50 on moves those 50 records 1e7 s later (RFC 8428 section 4.6: base fields carry over).
	_, sum, err = c.verify("gw-0001", signedBatch(t, priv, "gw-0001", 8, 8, 100, func(p []map[any]any) {
		p[0][-5] = 100.0
		p[50][-3] = 1.8e9
	}))
	if want := (sums{100, 17_000_000_000, 179_500_004_950_000}); err != nil || sum != want {
		t.Fatalf("base value and a second base time: %+v, %v; want %+v", sum, err, want)
	}
	flipped := signedBatch(t, priv, "gw-0001", 7, 7, 3, nil)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name, gw, want string
		msg            []byte
	}{
		{"unknown gateway", "gw-0002", "unknown gateway", signedBatch(t, priv, "gw-0002", 1, 1, 3, nil)},
		{"not CBOR", "gw-0001", "not CBOR", []byte{0xff, 0x00}},
		{"another key", "gw-0001", "does not verify", signedBatch(t, other, "gw-0001", 1, 1, 3, nil)},
		{"signature bit", "gw-0001", "does not verify", flipped},
		{"seq differs", "gw-0001", "pack seq", signedBatch(t, priv, "gw-0001", 8, 7, 3, nil)},
		{"no seq in pack", "gw-0001", "pack seq", signedBatch(t, priv, "gw-0001", 1, 1, 3, func(p []map[any]any) { delete(p[0], "seq") })},
		{"other gateway's name", "gw-0001", "base name", signedBatch(t, priv, "gw-0009", 1, 1, 3, nil)},
		{"record without value", "gw-0001", "record 2 has no value", signedBatch(t, priv, "gw-0001", 1, 1, 3, func(p []map[any]any) { delete(p[2], 2) })},
	} {
		if _, _, err := c.verify(tc.gw, tc.msg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := signedBatch(b, priv, "gw-0001", 7, 7, 100, nil)
	c, err := newCheckerState(Prefix, map[string]ed25519.PublicKey{"gw-0001": pub})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.verify("gw-0001", msg); err != nil {
			b.Fatal(err)
		}
	}
}
