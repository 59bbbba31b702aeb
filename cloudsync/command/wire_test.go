package command

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

// The test vector of docs/mqtt.md ("Request"). The key's seed is the bytes 0..31.
// The expected message was made independently of this package and of go-cose: CBOR written by hand
// following RFC 8949 and RFC 9052 sections 4.2 and 4.4 (a Python script of twelve lines), the
// signature by pyca/cryptography 48's Ed25519 over the Sig_structure below.
var vector = struct {
	req     Request
	kid     string
	payload string
	tbs     string // hex of the Sig_structure (ToBeSigned)
	msg     string // hex of the tagged COSE_Sign1
	pubB64  string
	pubPEM  string
}{
	req: Request{ID: "req-0001", Gateway: "gw-0042", Command: "set-interval", IssuedAt: 1767225600000,
		Args: json.RawMessage(`{"sensor":"env1","interval":"5s"}`), Nonce: "EBESExQVFhcYGRobHB0eHw"},
	kid:     "city-ops-2026",
	payload: `{"id":"req-0001","gateway":"gw-0042","command":"set-interval","args":{"sensor":"env1","interval":"5s"},"issued_at":1767225600000,"nonce":"EBESExQVFhcYGRobHB0eHw"}`,
	tbs: "846a5369676e61747572653155a30127031832044d636974792d6f70732d323032364058a2" +
		"7b226964223a227265712d30303031222c2267617465776179223a2267772d30303432222c22636f6d6d616e64223a227365742d696e74657276616c222c" +
		"2261726773223a7b2273656e736f72223a22656e7631222c22696e74657276616c223a223573227d2c226973737565645f6174223a3137363732323536" +
		"30303030302c226e6f6e6365223a2245424553457851564668635947526f62484230654877227d",
	msg: "d28455a30127031832044d636974792d6f70732d32303236a058a2" +
		"7b226964223a227265712d30303031222c2267617465776179223a2267772d30303432222c22636f6d6d616e64223a227365742d696e74657276616c222c" +
		"2261726773223a7b2273656e736f72223a22656e7631222c22696e74657276616c223a223573227d2c226973737565645f6174223a3137363732323536" +
		"30303030302c226e6f6e6365223a2245424553457851564668635947526f62484230654877227d" +
		"58402b817dc234ae42f2ab2344602a004fb4c5d1ed58e19041fef61d5a48dae6b0946a94750d97ef20d976e7007ce961dc607f49ad3716cd930f348e97f8a0b19e07",
	pubB64: "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
	pubPEM: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n",
}

func vectorKey() ed25519.PrivateKey {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReferenceVector: Sign reproduces the independently made message byte for byte, and a gateway
// accepts it.
func TestReferenceVector(t *testing.T) {
	priv := vectorKey()
	got, err := Sign(priv, vector.kid, vector.req)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, vector.msg); !bytes.Equal(got, want) {
		t.Errorf("Sign\n got %x\nwant %x", got, want)
	}
	if !bytes.Contains(unhex(t, vector.msg), []byte(vector.payload)) || !bytes.Contains(unhex(t, vector.tbs), []byte(vector.payload)) {
		t.Error("the vector does not carry its payload")
	}
	sig := unhex(t, vector.msg)[len(unhex(t, vector.msg))-64:]
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), unhex(t, vector.tbs), sig) {
		t.Error("the vector's signature does not verify over its Sig_structure")
	}
	if pub := EncodePublicKey(priv.Public().(ed25519.PublicKey)); pub != vector.pubB64 {
		t.Errorf("public key %s, want %s", pub, vector.pubB64)
	}
	for _, form := range []string{vector.pubB64, vector.pubPEM, strings.TrimRight(vector.pubB64, "=") + "\n"} {
		pub, err := ParsePublicKey([]byte(form))
		if err != nil || !pub.Equal(priv.Public()) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", form, pub, err)
		}
	}
	// A gateway gw-0042 holding the key accepts it at its time.
	c, err := OpenReplayCache(t.TempDir()+"/n", ReplayOptions{Now: func() time.Time { return time.UnixMilli(vector.req.IssuedAt) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := NewVerifier(VerifierOptions{Gateway: "gw-0042", Replay: c, Now: func() time.Time { return time.UnixMilli(vector.req.IssuedAt) },
		Keys: map[string]ed25519.PublicKey{vector.kid: priv.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := v.Verify(CmdSetInterval, unhex(t, vector.msg)); err != nil || r.KeyID != vector.kid || string(r.Args) != `{"sensor":"env1","interval":"5s"}` {
		t.Errorf("Verify: %+v, %v", r, err)
	}
}

// TestCOSEWGExample checks go-cose, which signs and verifies commands, against the COSE working
// group's example eddsa-sig-01 (github.com/cose-wg/Examples, eddsa-examples/eddsa-sig-01.json,
// "EdDSA-01: EdDSA - 25519 - sign0"): the key is RFC 8032 section 7.1 TEST 1's. The gateway itself
// refuses that message for its content type 0 (text/plain), and says so.
func TestCOSEWGExample(t *testing.T) {
	const (
		d   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60" // RFC 8032 7.1 TEST 1 SECRET KEY
		x   = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" // its PUBLIC KEY
		out = "D28445A201270300A10442313154546869732069732074686520636F6E74656E742E58407142FD2FF96D56DB85BEE905A76BA1D0B7321A95C8C4D3607C5781932B7AFB8711497DFA751BF40B58B3BCC32300B1487F3DB34085EEF013BF08F4A44D6FEF0D"
	)
	priv := ed25519.NewKeyFromSeed(unhex(t, d))
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), unhex(t, x)) {
		t.Fatal("RFC 8032 TEST 1 key pair does not match")
	}
	signer, _ := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	m := cose.Sign1Message{Headers: cose.Headers{
		Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA, cose.HeaderLabelContentType: 0},
		Unprotected: cose.UnprotectedHeader{cose.HeaderLabelKeyID: []byte("11")},
	}, Payload: []byte("This is the content.")}
	if err := m.Sign(nil, nil, signer); err != nil {
		t.Fatal(err)
	}
	got, _ := m.MarshalCBOR()
	if !bytes.Equal(got, unhex(t, out)) {
		t.Errorf("go-cose\n got %X\nwant %s", got, out)
	}
	var back cose.Sign1Message
	verifier, _ := cose.NewVerifier(cose.AlgorithmEdDSA, priv.Public())
	if err := back.UnmarshalCBOR(unhex(t, out)); err != nil || back.Verify(nil, verifier) != nil {
		t.Errorf("the example does not verify: %v", err)
	}
	tampered := unhex(t, out)
	tampered[20] ^= 1
	if back.UnmarshalCBOR(tampered) == nil && back.Verify(nil, verifier) == nil {
		t.Error("a tampered example verifies")
	}
	if _, err := openEnvelope(unhex(t, out)); err == nil || !strings.Contains(err.Error(), "content type") {
		t.Errorf("openEnvelope: %v, want a content type refusal", err)
	}
}

// TestOpenSSLInterop has OpenSSL sign a request's Sig_structure, assembled here byte by byte with the
// kid in the unprotected header and no content type (what a minimal pycose or cose-js sender makes),
// and reads OpenSSL's keys.
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "city.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	pubPEM, err := exec.Command(openssl, "pkey", "-in", keyFile, "-pubout").Output()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := os.ReadFile(keyFile)
	priv, err := ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("openssl's private and public keys do not match as read")
	}
	e := newEnv(t, envConfig{})
	e.keys["ossl"] = pub
	e.open()
	payload := []byte(`{"id":"ossl-1","gateway":"gw-1","command":"set-log-level","args":{"level":"debug"},"issued_at":` +
		itoa(t0.UnixMilli()) + `,"nonce":"BwcHBwcHBwcHBwcHBwcHBw"}`)
	prot := []byte{0xa1, 0x01, 0x27} // {1: -8}
	tbs := append([]byte{0x84, 0x6a}, "Signature1"...)
	tbs = append(append(tbs, 0x43), prot...)
	tbs = append(tbs, 0x40, 0x58, byte(len(payload)))
	tbs = append(tbs, payload...)
	msgFile := filepath.Join(dir, "tbs.bin")
	os.WriteFile(msgFile, tbs, 0o600)
	sig, err := exec.Command(openssl, "pkeyutl", "-sign", "-rawin", "-inkey", keyFile, "-in", msgFile).Output()
	if err != nil || len(sig) != 64 {
		t.Fatalf("openssl sign: %v (%d bytes)", err, len(sig))
	}
	msg := append([]byte{0xd2, 0x84, 0x43}, prot...)
	msg = append(msg, 0xa1, 0x04, 0x44, 'o', 's', 's', 'l') // {4: h'ossl'}
	msg = append(append(msg, 0x58, byte(len(payload))), payload...)
	msg = append(append(msg, 0x58, 0x40), sig...)
	e.wantCode(CmdSetLogLevel, msg, "")
	msg[len(msg)-1] ^= 1
	e.wantCode(CmdSetLogLevel, msg, CodeUnauthorized)
}

// TestArgsBytesAsSent checks that args go out byte for byte as signed, whatever they contain, and
// that the gateway signs over the bytes as received (whitespace included).
func TestArgsBytesAsSent(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, args := range []string{
		`{"a": "<b>&amp;</b>",  "u": "\u2028 é \"q\" \\ \/"}`,
		"{\n  \"nested\": {\"x\": [1, 2.5e3, -0, true, null]}\n}",
		`{}`,
		"{\"ls\":\"\u2028\u2029\"}",
	} {
		p := e.sign(e.req("echo", args))
		var compact bytes.Buffer
		json.Compact(&compact, []byte(args))
		if field(t, p, "args") != compact.String() {
			t.Errorf("signed request %s does not carry the compacted args %s verbatim", p, compact.Bytes())
		}
		e.wantCode("echo", p, "")
	}
	// A sender that keeps whitespace in the JSON, signing the bytes as they are.
	r := e.req("echo", "")
	p := `{ "id" : "` + r.ID + `", "gateway":"gw-1","command" :"echo",` + "\n\t" + `"args" :  { "k" :  [ 1 , 2 ] }  ,"issued_at": ` +
		itoa(r.IssuedAt) + `, "nonce":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 20)) + `" }`
	resp := e.wantCode("echo", e.signRaw("city", []byte(p)), "")
	if string(resp.Result) != `{"args_bytes":20}` {
		t.Errorf("echo saw args of %s, want the 20 bytes as sent", resp.Result)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSignRefuses(t *testing.T) {
	priv := testKey(1)
	base := Request{ID: "x", Gateway: "gw-1", Command: "ping"}
	for _, tc := range []struct {
		name string
		mod  func(*Request)
		key  string
		want string
	}{
		{"bad command", func(r *Request) { r.Command = "Ping" }, "city", "command:"},
		{"bad gateway", func(r *Request) { r.Gateway = "gw 1" }, "city", "gateway:"},
		{"bad id", func(r *Request) { r.ID = "" }, "city", "id:"},
		{"bad key id", nil, "ci/ty", "kid:"},
		{"args array", func(r *Request) { r.Args = json.RawMessage(`[1]`) }, "city", "args:"},
		{"args invalid", func(r *Request) { r.Args = json.RawMessage(`{"a":}`) }, "city", "args are not valid JSON"},
		{"args duplicate", func(r *Request) { r.Args = json.RawMessage(`{"a":1,"a":2}`) }, "city", "duplicate key"},
		{"args too deep", func(r *Request) { r.Args = json.RawMessage(`{"a":[[[[[[[1]]]]]]]}`) }, "city", "nested deeper"},
		{"short nonce", func(r *Request) { r.Nonce = "AAAA" }, "city", "nonce:"},
	} {
		r := base
		if tc.mod != nil {
			tc.mod(&r)
		}
		if _, err := Sign(priv, tc.key, r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Sign error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Sign(ed25519.PrivateKey{1, 2}, "city", base); err == nil {
		t.Error("Sign accepted a truncated private key")
	}
	// Defaults: a random nonce and the current time.
	a, _ := Sign(priv, "city", base)
	b, _ := Sign(priv, "city", base)
	var ra, rb Request
	json.Unmarshal(inner(t, a), &ra)
	json.Unmarshal(inner(t, b), &rb)
	if ra.Nonce == rb.Nonce || ra.IssuedAt == 0 || len(ra.Nonce) != 32 {
		t.Errorf("nonces %q %q, issued_at %d", ra.Nonce, rb.Nonce, ra.IssuedAt)
	}
}

func TestParseKeys(t *testing.T) {
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	ecPrivDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	b64 := EncodePublicKey(pub)
	for _, tc := range []struct {
		in   string
		want string
	}{
		{b64[:20], "bytes, want 32"},
		{"not base64 at all!", "not base64"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})), "want Ed25519"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: ecDER})), `PEM "PUBLIC KEY"`},
		{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})), "public key:"},
	} {
		if _, err := ParsePublicKey([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePublicKey(%.30q): %v, want an error containing %q", tc.in, err, tc.want)
		}
	}

	pemKey, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey(pemKey)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	body := strings.Split(string(pemKey), "\n")[1]
	broken := strings.Replace(string(pemKey), body, body[:20]+"AAAA"+body[24:], 1)
	for _, in := range []string{broken, b64, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPrivDER}))} {
		_, err := ParsePrivateKey([]byte(in))
		if err == nil {
			t.Errorf("ParsePrivateKey accepted %.40q", in)
			continue
		}
		if strings.Contains(err.Error(), body[:16]) || strings.Contains(err.Error(), b64[:16]) {
			t.Errorf("error quotes the key: %v", err)
		}
	}
}
