package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/internal/ident"
)

// Seal is cloud.seal: every batch is encrypted to the city's public key (HPKE in a COSE_Encrypt0,
// docs/mqtt.md "Telemetry protection"), so the broker's operator cannot read it. Absent (no kid
// and no public_key): batches are signed but not sealed. A rotation is a reload with the new kid and
// key: batches already spooled stay sealed to the key they were sealed to.
type Seal struct {
	// Suite is the HPKE ciphersuite: x25519-chacha20poly1305 (default), x25519-aes128gcm or
	// mlkem768x25519-chacha20poly1305 (hybrid post-quantum).
	Suite string `yaml:"suite"`
	// KeyID names the city key; it travels with every sealed batch so the city picks its private key.
	KeyID string `yaml:"kid"`
	// PublicKey is the city's public key as wayside keys gen printed it (base64), or the path of a
	// file holding that text.
	PublicKey string `yaml:"public_key"`
}

// Enabled reports whether sealing is configured.
func (s Seal) Enabled() bool { return s.KeyID != "" || s.PublicKey != "" || s.Suite != "" }

// Sealer builds the sealer of s; nil when sealing is not configured. Its errors name the field.
func (s Seal) Sealer() (*cosebatch.Sealer, error) {
	if !s.Enabled() {
		return nil, nil
	}
	name := s.Suite
	if name == "" {
		name = cosebatch.DefaultSuite
	}
	suite, err := cosebatch.SuiteByName(name)
	if err != nil {
		return nil, &Error{Path: "cloud.seal.suite", Msg: err.Error()}
	}
	if !ident.Valid(s.KeyID) {
		return nil, &Error{Path: "cloud.seal.kid", Msg: fmt.Sprintf("%q: give the city key's id as wayside keys gen printed it (1-64 letters, digits, '-', '_', '.')", s.KeyID)}
	}
	text := strings.TrimSpace(s.PublicKey)
	if text == "" {
		return nil, &Error{Path: "cloud.seal.public_key", Msg: "missing: give the city's public key that wayside keys gen printed (base64), or a file holding it"}
	}
	if strings.HasPrefix(text, "/") || strings.HasPrefix(text, "./") {
		if _, err := base64.StdEncoding.DecodeString(text); err != nil { // a path, not a key that starts with '/'
			b, err := os.ReadFile(text)
			if err != nil {
				return nil, &Error{Path: "cloud.seal.public_key", Msg: err.Error()}
			}
			text = strings.TrimSpace(string(b))
		}
	}
	pub, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, &Error{Path: "cloud.seal.public_key", Msg: "not base64: give the public key line wayside keys gen printed"}
	}
	sl, err := cosebatch.NewSealer(suite, s.KeyID, pub)
	if err != nil {
		return nil, &Error{Path: "cloud.seal.public_key", Msg: fmt.Sprintf("%v; make the key with wayside keys gen --suite %s", err, suite.Name)}
	}
	return sl, nil
}
