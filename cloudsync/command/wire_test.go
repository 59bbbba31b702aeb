package command

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The reference vector of the package comment's format. The key's seed is the bytes 0..31; the
// signed bytes below were built independently (Python's struct.pack(">I", len(f)) + f for each field)
// and the signature made once by OpenSSL 3.0:
//
//	openssl pkeyutl -sign -rawin -inkey key.pem -in msg.bin | base64 -w0 | tr '+/' '-_' | tr -d '='
var vector = struct {
	req    Request
	signed string // hex
	sig    string
	pubB64 string
	pubPEM string
}{
	req: Request{ID: "req-0001", Gateway: "gw-0042", Command: "set-interval", IssuedAt: 1767225600000,
		Args: json.RawMessage(`{"sensor":"env1","interval":"5s"}`), Nonce: "EBESExQVFhcYGRobHB0eHw", KeyID: "city-ops-2026"},
	signed: "0000000e776179736964652d636d642d76310000000767772d303034320000000c7365742d696e74657276616c00000008" +
		"7265712d303030310000000d313736373232353630303030300000001645424553457851564668635947526f624842306548" +
		"770000000d636974792d6f70732d32303236000000217b2273656e736f72223a22656e7631222c22696e74657276616c223a" +
		"223573227d",
	sig:    "QWggMmltgiatyNkhd0DPpl95Hx_aI7cFEC3-rkGqA8EF8tH7TDmsZl27j8jN9WonhBvUBCIlRAE3z3GXmyLmCw",
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

func TestSigningInputLayout(t *testing.T) {
	r := Request{ID: "r1", Gateway: "g", Command: "ping", IssuedAt: 42, Nonce: "n", KeyID: "k"}
	// Written out by hand: tag, gateway, command, id, issued_at, nonce, key_id, args (absent: length 0).
	want := []byte{0, 0, 0, 14}
	want = append(want, "wayside-cmd-v1"...)
	want = append(want, 0, 0, 0, 1, 'g', 0, 0, 0, 4, 'p', 'i', 'n', 'g', 0, 0, 0, 2, 'r', '1', 0, 0, 0, 2, '4', '2',
		0, 0, 0, 1, 'n', 0, 0, 0, 1, 'k', 0, 0, 0, 0)
	if got := SigningInput(&r); !bytes.Equal(got, want) {
		t.Errorf("signing input\n got %x\nwant %x", got, want)
	}
	// Moving bytes between neighbouring fields changes the input (the reason for the lengths).
	a := SigningInput(&Request{ID: "ab", Gateway: "g", Command: "c"})
	b := SigningInput(&Request{ID: "b", Gateway: "g", Command: "ca"})
	if bytes.Equal(a, b) {
		t.Error("fields are not delimited")
	}
}

func TestReferenceVector(t *testing.T) {
	priv := vectorKey()
	r := vector.req
	if got := SigningInput(&r); hexOf(got) != vector.signed {
		t.Errorf("signing input\n got %s\nwant %s", hexOf(got), vector.signed)
	}
	out, err := Sign(priv, vector.req.KeyID, vector.req)
	if err != nil {
		t.Fatal(err)
	}
	var got Request
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Sig != vector.sig {
		t.Errorf("signature\n got %s\nwant %s (OpenSSL's)", got.Sig, vector.sig)
	}
	if !bytes.Equal(got.Args, vector.req.Args) {
		t.Errorf("args sent as %s, signed as %s", got.Args, vector.req.Args)
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
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, x := range b {
		s = append(s, digits[x>>4], digits[x&15])
	}
	return string(s)
}

// TestOpenSSLInterop signs with OpenSSL a request built by this package, reads OpenSSL's keys, and has
// OpenSSL read ours: the cloud side may well use it.
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

	r := Request{ID: "ossl-1", Gateway: testGateway, Command: CmdSetLogLevel, Args: json.RawMessage(`{"level":"debug"}`),
		IssuedAt: t0.UnixMilli(), Nonce: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16)), KeyID: "ossl"}
	msg := filepath.Join(dir, "msg.bin")
	os.WriteFile(msg, SigningInput(&r), 0o600)
	sig, err := exec.Command(openssl, "pkeyutl", "-sign", "-rawin", "-inkey", keyFile, "-in", msg).Output()
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Sign(priv, "ossl", r)
	if err != nil {
		t.Fatal(err)
	}
	var signed Request
	json.Unmarshal(ours, &signed)
	if signed.Sig != base64.RawURLEncoding.EncodeToString(sig) {
		t.Errorf("our signature %s differs from openssl's %x", signed.Sig, sig)
	}

	// OpenSSL verifies with the key we write and the signature we make.
	_, ourPriv, _ := GenerateKey()
	pemOut, err := MarshalPrivateKey(ourPriv)
	if err != nil {
		t.Fatal(err)
	}
	ourKey := filepath.Join(dir, "ours.pem")
	os.WriteFile(ourKey, pemOut, 0o600)
	os.WriteFile(filepath.Join(dir, "sig.bin"), ed25519.Sign(ourPriv, SigningInput(&r)), 0o600)
	out, err := exec.Command(openssl, "pkeyutl", "-verify", "-rawin", "-inkey", ourKey, "-in", msg,
		"-sigfile", filepath.Join(dir, "sig.bin")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified Successfully") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
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
		if !bytes.Contains(p, compact.Bytes()) {
			t.Errorf("signed request %s does not carry the compacted args %s verbatim", p, compact.Bytes())
		}
		e.wantCode("echo", p, "")
	}
	// A sender that keeps whitespace in args and around members, signing the bytes as they appear.
	r := e.req("echo", `{ "k" :  [ 1 , 2 ] }`)
	r.Nonce, r.KeyID = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 20)), "city"
	r.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(e.city, SigningInput(&r)))
	p := `{ "id" : "` + r.ID + `", "gateway":"gw-1","command" :"echo",` + "\n\t" + `"args" :  { "k" :  [ 1 , 2 ] }  ,"issued_at": ` +
		itoa(r.IssuedAt) + `, "nonce":"` + r.Nonce + `","key_id":"city","sig":"` + r.Sig + `" }`
	resp := e.wantCode("echo", []byte(p), "")
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
		{"bad key id", nil, "ci/ty", "key_id:"},
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
	json.Unmarshal(a, &ra)
	json.Unmarshal(b, &rb)
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
