package command

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/veraison/go-cose"

	"github.com/wayside-iot/wayside/internal/ident"
)

// COSE header values of a request (RFC 9052 section 3.1; IANA "COSE Header Parameters").
const (
	// ContentTypeJSON is the CoAP content-format of application/json (RFC 7252 section 12.3), the
	// value of the request's optional content type header (label 3).
	ContentTypeJSON = 50
)

// envelope is a decoded COSE_Sign1 request before its signature is checked.
type envelope struct {
	msg   cose.Sign1Message
	keyID string
}

// unwrapJSONString returns the COSE bytes of a request sent as a JSON string of their base64 (the
// form for platforms whose command payload must be JSON: Azure IoT Hub direct methods).
func unwrapJSONString(p []byte) ([]byte, error) {
	var s string
	if err := json.Unmarshal(p, &s); err != nil {
		return nil, Errorf(CodeBadRequest, "payload starts with '\"' but is not a JSON string: %v", err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, Errorf(CodeBadRequest, "payload is a JSON string but not base64 of a COSE_Sign1 message")
}

// openEnvelope decodes a tagged COSE_Sign1 message (RFC 9052 section 4.2) and checks its headers:
// alg EdDSA (-8) in the protected bucket, a kid (label 4, a byte string holding a key id) in either
// bucket, content type absent or application/json, no critical headers, an attached payload and a
// 64-byte signature. It does not verify the signature. Errors are CodeBadRequest.
func openEnvelope(b []byte) (*envelope, error) {
	e := new(envelope)
	if len(b) == 0 || b[0] != 0xd2 { // tag 18, RFC 9052 section 2
		return nil, Errorf(CodeBadRequest, "payload is not a tagged COSE_Sign1 message (RFC 9052: CBOR tag 18, first byte 0xd2)")
	}
	if err := e.msg.UnmarshalCBOR(b); err != nil {
		return nil, Errorf(CodeBadRequest, "payload is not a valid COSE_Sign1 message: %v", clipErr(err))
	}
	h := e.msg.Headers
	alg, err := h.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmEdDSA {
		return nil, Errorf(CodeBadRequest, "alg: want EdDSA (-8) in the protected header")
	}
	if _, ok := h.Protected[cose.HeaderLabelCritical]; ok {
		return nil, Errorf(CodeBadRequest, "crit: the gateway understands no critical header parameters; send none")
	}
	for _, bucket := range []map[any]any{h.Protected, h.Unprotected} {
		ct, ok := bucket[cose.HeaderLabelContentType]
		if !ok {
			continue
		}
		switch v := ct.(type) {
		case int64:
			if v == ContentTypeJSON {
				continue
			}
		case string:
			if v == "application/json" {
				continue
			}
		}
		return nil, Errorf(CodeBadRequest, "content type: want application/json (50) or none")
	}
	kid, ok := h.Protected[cose.HeaderLabelKeyID]
	if !ok {
		kid, ok = h.Unprotected[cose.HeaderLabelKeyID]
	}
	kb, isBytes := kid.([]byte)
	if !ok || !isBytes {
		return nil, Errorf(CodeBadRequest, "kid: want the key id as a byte string in header label 4")
	}
	if e.keyID = string(kb); !ident.Valid(e.keyID) {
		return nil, Errorf(CodeBadRequest, "kid: %q is not a key id (letters, digits, '-', '_', '.'; at most 64)", clip(e.keyID))
	}
	if e.msg.Payload == nil {
		return nil, Errorf(CodeBadRequest, "payload: detached payloads are not accepted; attach the request JSON")
	}
	if len(e.msg.Signature) != ed25519.SignatureSize {
		return nil, Errorf(CodeBadRequest, "signature: %d bytes, want a %d-byte Ed25519 signature", len(e.msg.Signature), ed25519.SignatureSize)
	}
	return e, nil
}

// clipErr bounds a decoder's error text quoted in an answer.
func clipErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// newVerifiers builds a go-cose verifier per key id.
func newVerifiers(keys map[string]ed25519.PublicKey) (map[string]cose.Verifier, error) {
	out := make(map[string]cose.Verifier, len(keys))
	for id, k := range keys {
		v, err := cose.NewVerifier(cose.AlgorithmEdDSA, k)
		if err != nil {
			return nil, fmt.Errorf("command: verifier: key %q: %w", id, err)
		}
		out[id] = v
	}
	return out, nil
}

// seal signs the request JSON p under keyID: a tagged COSE_Sign1 with alg EdDSA, the kid and the
// content type application/json in the protected header, the JSON attached, no external data.
func seal(priv ed25519.PrivateKey, keyID string, p []byte) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		return nil, fmt.Errorf("command: sign: %w", err)
	}
	m := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm:   cose.AlgorithmEdDSA,
			cose.HeaderLabelContentType: ContentTypeJSON,
			cose.HeaderLabelKeyID:       []byte(keyID),
		}},
		Payload: p,
	}
	if err := m.Sign(rand.Reader, nil, signer); err != nil {
		return nil, fmt.Errorf("command: sign: %w", err)
	}
	out, err := m.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("command: sign: encode: %w", err)
	}
	return out, nil
}

// Inner returns the request JSON carried by a COSE_Sign1 request and its kid, without verifying the
// signature: for tools that show what a request says.
func Inner(b []byte) (payload []byte, keyID string, err error) {
	if len(b) > 0 && b[0] == '"' {
		if b, err = unwrapJSONString(b); err != nil {
			return nil, "", err
		}
	}
	e, err := openEnvelope(b)
	if err != nil {
		return nil, "", err
	}
	return bytes.Clone(e.msg.Payload), e.keyID, nil
}
