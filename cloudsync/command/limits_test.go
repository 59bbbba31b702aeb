package command

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/veraison/go-cose"
)

// TestLimits sends requests beyond each decoder limit, and at it.
func TestLimits(t *testing.T) {
	e := newEnv(t, envConfig{})
	valid := e.sign(e.req("echo", `{"a":1}`))
	str := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	nest := func(depth int, open, close, leaf string) string {
		return strings.Repeat(open, depth) + leaf + strings.Repeat(close, depth)
	}
	members := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		return b.String() + "}"
	}
	array := func(n int) string { return `{"a":[` + strings.TrimSuffix(strings.Repeat("0,", n), ",") + `]}` }
	// Args at the limits are accepted (signed for real); beyond them refused before any other check.
	for _, args := range []string{
		`{"a":` + nest(6, `{"a":`, `}`, `1`) + `}`, // depth 8: request, args, 6 objects
		`{"a":` + nest(6, `[`, `]`, `1`) + `}`,
		array(256),
		members(256),
		`{"s":` + str(1024) + `}`,
		`{` + str(1024) + `:1}`,
		`{"n":` + strings.Repeat("1", 64) + `}`,
	} {
		e.wantCode("echo", e.sign(e.req("echo", args)), "")
	}
	withArgs := func(args string) []byte { return set(t, valid, "args", args) }
	cases := []struct {
		name    string
		payload []byte
		want    Code
		msg     string
	}{
		{"too large", withArgs(`{"a":"` + strings.Repeat("x", 1000) + `","b":[` + strings.Repeat(`"`+strings.Repeat("y", 1000)+`",`, 16) + `1]}`), CodeTooLarge, "bytes, more than 16384"},
		{"too deep (objects)", withArgs(`{"a":` + nest(7, `{"a":`, `}`, `1`) + `}`), CodeTooLarge, "deeper than 8"},
		{"too deep (arrays)", withArgs(`{"a":` + nest(7, `[`, `]`, `1`) + `}`), CodeTooLarge, "deeper than 8"},
		{"very deep", withArgs(`{"a":` + nest(5000, `[`, `]`, ``) + `}`), CodeTooLarge, "deeper than 8"},
		{"array too long", withArgs(array(257)), CodeTooLarge, "more than 256 elements"},
		{"too many members", withArgs(members(257)), CodeTooLarge, "more than 256 members"},
		{"string too long", withArgs(`{"s":` + str(1025) + `}`), CodeTooLarge, "longer than 1024"},
		{"key too long", withArgs(`{` + str(1025) + `:1}`), CodeTooLarge, "longer than 1024"},
		{"escaped string counted unescaped", withArgs(`{"s":"` + strings.Repeat(`\u00e9`, 513) + `"}`), CodeTooLarge, "longer than 1024"},
		{"number too long", withArgs(`{"n":` + strings.Repeat("1", 65) + `}`), CodeTooLarge, "number is longer"},
		{"duplicate top-level key", rewrap(t, valid, func(j []byte) []byte { return append([]byte(`{"id":"x",`), j[1:]...) }), CodeBadRequest, `duplicate key "id"`},
		{"duplicate nested key", withArgs(`{"a":{"b":1,"b":2}}`), CodeBadRequest, `duplicate key "b" at depth 3`},
		{"unknown field", set(t, valid, "extra", `1`), CodeBadRequest, `unknown field "extra"`},
		{"field in another case", rewrap(t, valid, func(j []byte) []byte { return bytes.Replace(j, []byte(`"id"`), []byte(`"ID"`), 1) }), CodeBadRequest, `unknown field "ID"`},
		{"args null", withArgs(`null`), CodeBadRequest, "args: want a JSON object"},
		{"args array", withArgs(`[]`), CodeBadRequest, "args: want a JSON object"},
		{"args string", withArgs(`"{}"`), CodeBadRequest, "args: want a JSON object"},
		{"trailing object", rewrap(t, valid, func(j []byte) []byte { return append(j, " {}"...) }), CodeBadRequest, "data after"},
		{"trailing garbage", rewrap(t, valid, func(j []byte) []byte { return append(j, "x"...) }), CodeBadRequest, "not valid JSON"},
		{"truncated", rewrap(t, valid, func(j []byte) []byte { return j[:len(j)-1] }), CodeBadRequest, "ends before"},
		{"array", e.signRaw("city", []byte(`[1,2]`)), CodeBadRequest, "must be a JSON object"},
		{"string", e.signRaw("city", []byte(`"ping"`)), CodeBadRequest, "must be a JSON object"},
		{"empty", e.signRaw("city", []byte{}), CodeBadRequest, "ends before"},
		{"invalid JSON", e.signRaw("city", []byte(`{"id":}`)), CodeBadRequest, "not valid JSON"},
		{"invalid UTF-8", rewrap(t, valid, func(j []byte) []byte { return bytes.Replace(j, []byte(`"a"`), []byte("\"\xff\""), 1) }), CodeBadRequest, "UTF-8"},
		{"not COSE: the old JSON request", []byte(`{"id":"x"}`), CodeBadRequest, "COSE_Sign1"},
		{"not COSE: empty", []byte{}, CodeBadRequest, "COSE_Sign1"},
		{"untagged COSE_Sign1", valid[1:], CodeBadRequest, "tag 18"},
		{"COSE trailing data", append(append([]byte{}, valid...), 0), CodeBadRequest, "not a valid COSE_Sign1"},
		{"JSON string not base64", []byte(`"***"`), CodeBadRequest, "not base64"},
		{"detached payload", remsg(t, valid, func(m *cose.Sign1Message) { m.Payload = nil }), CodeBadRequest, "detached"},
		{"critical header", remsg(t, valid, func(m *cose.Sign1Message) {
			m.Headers.RawProtected = nil
			m.Headers.Protected[cose.HeaderLabelCritical] = []any{int64(-70000)}
			m.Headers.Protected[int64(-70000)] = 1
		}), CodeBadRequest, "crit"},
		{"content type CBOR", remsg(t, valid, func(m *cose.Sign1Message) {
			m.Headers.RawProtected = nil
			m.Headers.Protected[cose.HeaderLabelContentType] = 60
		}), CodeBadRequest, "content type"},
		{"kid missing", remsg(t, valid, func(m *cose.Sign1Message) {
			m.Headers.RawProtected = nil
			delete(m.Headers.Protected, cose.HeaderLabelKeyID)
		}), CodeBadRequest, "kid: want"},
		{"kid a text string", remsg(t, valid, func(m *cose.Sign1Message) {
			m.Headers.RawProtected = []byte{0xa2, 0x01, 0x27, 0x04, 0x64, 'c', 'i', 't', 'y'} // {1: -8, 4: "city"}
		}), CodeBadRequest, "protected header"},
		{"issued_at float", set(t, valid, "issued_at", `1767225600000.5`), CodeBadRequest, "issued_at: want an integer"},
		{"issued_at exponent", set(t, valid, "issued_at", `1.7e12`), CodeBadRequest, "issued_at: want an integer"},
		{"issued_at huge", set(t, valid, "issued_at", `99999999999999999999`), CodeBadRequest, "issued_at: want an integer"},
		{"issued_at string", set(t, valid, "issued_at", `"1767225600000"`), CodeBadRequest, "issued_at: want a number"},
		{"issued_at zero", set(t, valid, "issued_at", `0`), CodeBadRequest, "issued_at: want unix milliseconds"},
		{"issued_at negative", set(t, valid, "issued_at", `-5`), CodeBadRequest, "issued_at: want unix milliseconds"},
		{"id number", set(t, valid, "id", `7`), CodeBadRequest, "id: want a string"},
		{"id null", set(t, valid, "id", `null`), CodeBadRequest, "id: want a string"},
		{"nonce missing", set(t, valid, "nonce", ""), CodeBadRequest, "nonce: missing"},
		{"old field key_id", set(t, valid, "key_id", `"city"`), CodeBadRequest, `unknown field "key_id"`},
		{"id too long", set(t, valid, "id", str(65)), CodeBadRequest, "id: want 1 to 64"},
		{"id with a space", set(t, valid, "id", `"a b"`), CodeBadRequest, "id: want"},
		{"command name", set(t, valid, "command", `"Echo"`), CodeBadRequest, "command:"},
		{"nonce too short", set(t, valid, "nonce", `"`+base64.RawURLEncoding.EncodeToString(make([]byte, 15))+`"`), CodeBadRequest, "nonce:"},
		{"nonce too long", set(t, valid, "nonce", `"`+base64.RawURLEncoding.EncodeToString(make([]byte, 65))+`"`), CodeBadRequest, "nonce:"},
		{"nonce standard base64", set(t, valid, "nonce", `"+/+/+/+/+/+/+/+/+/+/+/"`), CodeBadRequest, "nonce:"},
		{"kid syntax", e.signRaw("a/b", inner(t, valid)), CodeBadRequest, "kid:"},
	}
	big := cases[0].payload
	if len(big) <= DefaultLimits.MaxBytes {
		t.Fatalf("the too-large payload has only %d bytes", len(big))
	}
	for _, tc := range cases {
		resp := e.wantCode("echo", tc.payload, tc.want)
		if resp.Error != nil && !strings.Contains(resp.Error.Message, tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.name, resp.Error.Message, tc.msg)
		}
	}
	if s := e.d.Stats(); s.Panics != 0 || int(s.Refused) != len(cases) || e.ran("echo") != 7 {
		t.Errorf("stats %+v, echo ran %d times", s, e.ran("echo"))
	}
}

// TestSizeBoundary puts a signed request of exactly the size limit through, and one byte more.
func TestSizeBoundary(t *testing.T) {
	e := newEnv(t, envConfig{maxBytes: 2000})
	r := e.req("echo", "")
	sized := func(n int) []byte {
		pad := `{"p":["` + strings.Repeat("x", 900) + `","`
		r.Nonce = ""
		r.Args = json.RawMessage(pad + `"]}`)
		b := e.sign(r)
		r.Nonce = ""
		r.Args = json.RawMessage(pad + strings.Repeat("y", n-len(b)) + `"]}`)
		return e.sign(r)
	}
	if p := sized(2000); len(p) != 2000 {
		t.Fatalf("request of %d bytes", len(p))
	} else {
		e.wantCode("echo", p, "")
	}
	if p := sized(2001); len(p) != 2001 {
		t.Fatalf("request of %d bytes", len(p))
	} else {
		e.wantCode("echo", p, CodeTooLarge)
	}
}
