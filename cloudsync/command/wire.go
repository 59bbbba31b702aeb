package command

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/wayside-iot/wayside/internal/ident"
)

// Request is a command request: the JSON payload of the COSE_Sign1 message that travels on the wire
// (docs/mqtt.md, "Request"), and the message's kid.
type Request struct {
	ID      string `json:"id"`
	Gateway string `json:"gateway"`
	Command string `json:"command"`
	// Args is the args object's JSON exactly as it appears in the message (signed as such); nil when
	// absent.
	Args     json.RawMessage `json:"args,omitempty"`
	IssuedAt int64           `json:"issued_at"` // unix milliseconds
	Nonce    string          `json:"nonce"`     // base64url of 16..64 random bytes
	// KeyID is the COSE kid (header label 4) that chose the verifying key; not part of the JSON.
	KeyID string `json:"-"`
}

// Issued returns IssuedAt as a time.
func (r *Request) Issued() time.Time { return time.UnixMilli(r.IssuedAt) }

// Code is the machine-readable kind of a refused or failed command.
type Code string

// The error codes of a response. Every refusal of the verifier and the dispatcher carries one.
const (
	CodeBadRequest     Code = "bad_request"     // malformed payload, missing or invalid field, bad args
	CodeTooLarge       Code = "too_large"       // a decoder limit: bytes, nesting, elements, string length
	CodeWrongGateway   Code = "wrong_gateway"   // signed for another gateway
	CodeUnauthorized   Code = "unauthorized"    // unknown kid or a signature that does not verify
	CodeStale          Code = "stale"           // too old, too far in the future, or the clock is not trusted
	CodeReplayed       Code = "replayed"        // this (kid, nonce) was already accepted
	CodeBusy           Code = "busy"            // the replay cache is full of unexpired nonces
	CodeUnknownCommand Code = "unknown_command" // authenticated, but no such command
	CodeFailed         Code = "failed"          // the command ran and failed (or panicked, or timed out)
)

// Codes lists every error code, for validation by tests and consumers.
var Codes = []Code{CodeBadRequest, CodeTooLarge, CodeWrongGateway, CodeUnauthorized, CodeStale,
	CodeReplayed, CodeBusy, CodeUnknownCommand, CodeFailed}

// Error is a refusal or a failure with its code; it is the "error" object of a response.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "command: " + string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with code. Handlers return it to choose the code of their failure (for
// example CodeBadRequest for a sensor name that does not exist); any other error is CodeFailed.
func Errorf(code Code, format string, a ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// CodeOf returns the code carried by err, CodeFailed for an error without one, "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeFailed
}

// Response is the gateway's answer, JSON on the reply topic.
type Response struct {
	ID      string          `json:"id"`      // the request's id; "" when it could not be read
	Command string          `json:"command"` // the command name from the topic; "" when not a valid name
	OK      bool            `json:"ok"`
	Result  json.RawMessage `json:"result,omitempty"` // a JSON object, or absent
	Error   *Error          `json:"error,omitempty"`  // set exactly when OK is false
	Gateway string          `json:"gateway"`
	At      int64           `json:"at"` // unix milliseconds, the gateway's clock
}

// Encode returns the response's JSON. It cannot fail: Result is already JSON.
func (r Response) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil { // Result was not valid JSON: a bug; say so rather than send nothing
		b, _ = json.Marshal(Response{ID: r.ID, Command: r.Command, Gateway: r.Gateway, At: r.At,
			Error: &Error{Code: CodeFailed, Message: "the gateway could not encode its answer"}})
	}
	return b
}

// Status returns an HTTP-like status for the answer, for platforms that carry one with it (Azure IoT
// Hub direct methods): 200 done, 400 bad_request or wrong_gateway, 401 unauthorized or stale, 404
// unknown_command, 409 replayed, 413 too_large, 429 busy, 500 failed.
func (r Response) Status() int {
	if r.Error == nil {
		return 200
	}
	switch r.Error.Code {
	case CodeBadRequest, CodeWrongGateway:
		return 400
	case CodeUnauthorized, CodeStale:
		return 401
	case CodeUnknownCommand:
		return 404
	case CodeReplayed:
		return 409
	case CodeTooLarge:
		return 413
	case CodeBusy:
		return 429
	}
	return 500
}

const (
	maxRequestID = 64
	minNonce     = 16
	maxNonce     = 64
)

// ValidName reports whether name is a valid command name (^[a-z][a-z0-9-]{0,31}$).
func ValidName(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// decodeB64URL decodes base64url text with or without padding, refusing non-canonical encodings.
func decodeB64URL(s string) ([]byte, error) {
	enc := base64.RawURLEncoding.Strict()
	if len(s)%4 == 0 && len(s) > 0 && s[len(s)-1] == '=' {
		enc = base64.URLEncoding.Strict()
	}
	return enc.DecodeString(s)
}

// checkFields validates the syntax of every JSON field of r (not the kid, not the signature) and
// returns the decoded nonce. Errors are CodeBadRequest and name the field.
func checkFields(r *Request) (nonce []byte, err error) {
	bad := func(format string, a ...any) ([]byte, error) {
		return nil, Errorf(CodeBadRequest, format, a...)
	}
	switch {
	case !validRequestID(r.ID):
		return bad("id: want 1 to %d printable ASCII characters without spaces", maxRequestID)
	case !ident.Valid(r.Gateway):
		return bad("gateway: %q is not a gateway id (letters, digits, '-', '_', '.'; at most 64)", clip(r.Gateway))
	case !ValidName(r.Command):
		return bad("command: %q is not a command name (^[a-z][a-z0-9-]{0,31}$)", clip(r.Command))
	case r.IssuedAt <= 0:
		return bad("issued_at: want unix milliseconds, got %d", r.IssuedAt)
	}
	if r.Args != nil {
		a := bytes.TrimSpace(r.Args)
		if len(a) == 0 || a[0] != '{' {
			return bad("args: want a JSON object or no args field")
		}
	}
	nonce, err = decodeB64URL(r.Nonce)
	if err != nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return bad("nonce: want base64url (RFC 4648 section 5) of %d to %d random bytes", minNonce, maxNonce)
	}
	return nonce, nil
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Sign builds a signed request from r, signed by priv under keyID, and returns its COSE_Sign1
// bytes: the reference implementation for the cloud side. An empty r.Nonce gets 24 random bytes, a
// zero r.IssuedAt the current time; r.KeyID is ignored (keyID is the kid). Args, when present, must
// be a JSON object; it is compacted.
func Sign(priv ed25519.PrivateKey, keyID string, r Request) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("command: sign: the private key is not an Ed25519 private key")
	}
	if !ident.Valid(keyID) {
		return nil, fmt.Errorf("command: sign: %w", Errorf(CodeBadRequest, "kid: %q is not a key id (letters, digits, '-', '_', '.'; at most 64)", clip(keyID)))
	}
	if r.Nonce == "" {
		n := make([]byte, 24)
		rand.Read(n)
		r.Nonce = base64.RawURLEncoding.EncodeToString(n)
	}
	if r.IssuedAt == 0 {
		r.IssuedAt = time.Now().UnixMilli()
	}
	if len(r.Args) > 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, r.Args); err != nil {
			return nil, fmt.Errorf("command: sign: args are not valid JSON: %w", err)
		}
		r.Args = c.Bytes()
	} else {
		r.Args = nil
	}
	if _, err := checkFields(&r); err != nil {
		return nil, fmt.Errorf("command: sign: %w", err)
	}
	var jb bytes.Buffer
	enc := json.NewEncoder(&jb)
	enc.SetEscapeHTML(false) // args go out as given (compacted)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("command: sign: %w", err)
	}
	p := bytes.TrimSuffix(jb.Bytes(), []byte("\n"))
	// What the gateway would refuse (too deep, duplicate keys in args) is refused here.
	if _, err := scan(p, DefaultLimits); err != nil {
		return nil, fmt.Errorf("command: sign: the gateway would refuse the request: %w", err)
	}
	out, err := seal(priv, keyID, p)
	if err != nil {
		return nil, err
	}
	if len(out) > DefaultLimits.MaxBytes {
		return nil, fmt.Errorf("command: sign: the request is %d bytes, more than the gateway's %d", len(out), DefaultLimits.MaxBytes)
	}
	return out, nil
}

// GenerateKey returns a new Ed25519 key pair from crypto/rand.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("command: generate key: %w", err)
	}
	return pub, priv, nil
}

// ParsePublicKey reads an Ed25519 public key given as standard base64 of its 32 raw bytes (what
// `wayside cmd-keygen` prints) or as a PEM "PUBLIC KEY" block (what `openssl pkey -pubout` writes).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("-----BEGIN")) {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PUBLIC KEY" {
			return nil, errors.New(`command: public key: want a PEM "PUBLIC KEY" block or base64 of 32 raw bytes`)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("command: public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("command: public key: a %T, want Ed25519", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(string(b)); err != nil {
			return nil, errors.New(`command: public key: not base64; want base64 of 32 raw bytes or a PEM "PUBLIC KEY" block`)
		}
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("command: public key: %d bytes, want %d (an Ed25519 public key)", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// EncodePublicKey returns pub as standard base64, the form ParsePublicKey reads and the gateway's
// configuration holds.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// MarshalPrivateKey returns priv as a PEM "PRIVATE KEY" (PKCS #8) block, the form openssl uses.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("command: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a PEM "PRIVATE KEY" (PKCS #8) Ed25519 key, as written by MarshalPrivateKey
// or `openssl genpkey -algorithm ed25519`. Its errors never quote the key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New(`command: private key: want a PEM "PRIVATE KEY" block (PKCS #8)`)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("command: private key: not a valid PKCS #8 key")
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("command: private key: a %T, want Ed25519", k)
	}
	return priv, nil
}
