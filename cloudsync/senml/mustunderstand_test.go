package senml

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// refMustUnderstand is the check as it was first written: every record decoded into a generic map,
// then its text keys looked at. mustUnderstand must agree with it on every pack Decode gets past its
// first decode. ok is false where the generic decode fails for another reason than the rule: it also
// checked the contents of registered tags (tag 1 around a number) in the values of labels Decode
// ignores, which the rule does not ask for and mustUnderstand does not do.
func refMustUnderstand(data []byte) (err error, ok bool) {
	var recs []map[any]cbor.RawMessage
	if err := decMode.Unmarshal(data, &recs); err != nil {
		return err, false
	}
	for _, r := range recs {
		for k := range r {
			if l, ok := k.(string); ok && strings.HasSuffix(l, "_") && l != LabelUntrusted {
				return errTruncated, true // any error: only whether there is one is compared
			}
		}
	}
	return nil, true
}

func TestMustUnderstandAgrees(t *testing.T) {
	packs := []any{
		// Labels of RFC 8428 table 6 as integers, then text labels: known, unknown, must-understand.
		[]map[any]any{{-2: "urn:dev:x:", 0: "temp", 2: 20.5}, {0: "hum", 2: 40}},
		[]map[any]any{{0: "a", 2: 1, "wf_": 1}},                  // our untrusted-time label: understood
		[]map[any]any{{0: "a", 2: 1, "wf": 1}},                   // not must-understand
		[]map[any]any{{0: "a", 2: 1}, {0: "b", 2: 2, "x_": 1}},   // unknown, in the second record
		[]map[any]any{{0: "a", 2: 1, "ok": []any{1, "y_", 2.5}}}, // "y_" is a value, not a label
		[]map[any]any{{0: "a", 2: 1, "t": cbor.Tag{Number: 1, Content: 5}}},
		[]map[any]any{{0: "a", 2: 1, strings.Repeat("l", 30) + "_": true}}, // a long label (1-byte length)
		[]map[any]any{{0: "a", 2: 1, "k": strings.Repeat("v", 300)}},       // a long value (2-byte length)
		[]map[any]any{{0: "a", 2: float32(1.5), 6: int64(1) << 40, "b": []byte{1, 2}}},
	}
	em, err := cbor.CoreDetEncOptions().EncMode() // sorted keys: the same packs, so the same mutations, every run
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	for _, p := range packs {
		b, err := em.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	// Random single-byte changes of those: whatever still passes Decode's first decode must get the
	// same verdict from both checks.
	r := rand.New(rand.NewPCG(3, 4))
	base := append([][]byte(nil), inputs...)
	for range 20000 {
		b := append([]byte(nil), base[r.IntN(len(base))]...)
		b[r.IntN(len(b))] = byte(r.IntN(256))
		inputs = append(inputs, b)
	}
	checked, refused, truncated32 := 0, 0, 0
	for _, b := range inputs {
		var recs []decRecord
		if decMode.Unmarshal(b, &recs) != nil {
			continue // Decode stops before mustUnderstand
		}
		want, ok := refMustUnderstand(b)
		if !ok {
			continue
		}
		checked++
		got := mustUnderstand(b)
		if got == errTruncated && want == nil && strconv.IntSize == 32 {
			// A string head with an 8-byte length beyond the pack (0x7b fb40348000000000 ...): on a
			// 32-bit platform fxamacker/cbor takes the length modulo 2^32 and reads on, so both its
			// decodes accept the pack; the walker compares the full length and refuses it. Decode is
			// the stricter for it, and right (RFC 8949 section 3: the string must have that length).
			truncated32++
			continue
		}
		if (got != nil) != (want != nil) {
			t.Errorf("pack % x: mustUnderstand %v, the map-based check %v", b, got, want)
		}
		if want != nil {
			refused++
		}
	}
	if checked < 1000 || refused < 5 {
		t.Fatalf("only %d packs reached the check, %d refused: the mutations do not exercise it", checked, refused)
	}
	t.Logf("%d packs compared, %d refused by both, %d refused only by the walker (32-bit lengths)", checked, refused, truncated32)
}
