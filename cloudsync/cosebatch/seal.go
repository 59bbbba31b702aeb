package cosebatch

import (
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"fmt"
	"strings"
)

// Sealing follows the HPKE Integrated Encryption mode of draft-ietf-cose-hpke-27 (section 3.2): a
// tagged COSE_Encrypt0 (RFC 9052 section 5.2) whose ciphertext is the HPKE single-shot Seal
// (RFC 9180 section 6.1, mode_base) of the signed batch,
//
//	16([ << {1: alg} >>, {4: h'<city kid>', -4: h'<enc>'}, h'<ciphertext and tag>' ])
//
// with HPKE info empty and aad the Enc_structure ["Encrypt0", <protected bytes>, h''] (RFC 9052
// section 5.3). Header labels: alg 1, kid 4, and "ek" -4 (the encapsulated key; the label the draft
// asks IANA for and uses in its examples). The signed batch is sealed, not the pack: sign then
// encrypt, so the city verifies what the gateway signed after decrypting, the signature is hidden
// from the broker, and a sealed batch cannot be re-sealed to another key without the city noticing
// (the inner signature still names the gateway, the seq and the boot id).

// Suite is a COSE-HPKE ciphersuite.
type Suite struct {
	Name string // the configuration's name
	Alg  int64  // the COSE algorithm
	KEM  hpke.KEM
	KDF  hpke.KDF
	AEAD hpke.AEAD
}

// COSE header labels of a sealed batch.
const (
	HeaderEK = -4 // "ek", the HPKE encapsulated key (draft-ietf-cose-hpke-27 section 3.1)

	// AlgHPKE0, AlgHPKE3 and AlgHPKE4 are the values draft-ietf-cose-hpke-27 section 7.2 asks IANA
	// for ("TBD1 (Assumed: 35)", "TBD7 (Assumed: 41)", "TBD8 (Assumed: 42)").
	AlgHPKE0 = 35
	AlgHPKE3 = 41
	AlgHPKE4 = 42
	// AlgXWing is Wayside's private-use algorithm (IANA "COSE Algorithms": integers less than -65536) for
	// HPKE with MLKEM768-X25519 (KEM 0x647a, draft-ietf-hpke-pq), HKDF-SHA256 and ChaCha20Poly1305 in
	// the Integrated Encryption mode: the draft registers no post-quantum suite yet.
	AlgXWing = -65601

	tagEncrypt0 = 16
)

// Suites are the ciphersuites a gateway seals with and the opener opens.
var Suites = []Suite{
	{Name: "x25519-chacha20poly1305", Alg: AlgHPKE4, KEM: hpke.DHKEM(ecdh.X25519()), KDF: hpke.HKDFSHA256(), AEAD: hpke.ChaCha20Poly1305()},
	{Name: "x25519-aes128gcm", Alg: AlgHPKE3, KEM: hpke.DHKEM(ecdh.X25519()), KDF: hpke.HKDFSHA256(), AEAD: hpke.AES128GCM()},
	{Name: "mlkem768x25519-chacha20poly1305", Alg: AlgXWing, KEM: hpke.MLKEM768X25519(), KDF: hpke.HKDFSHA256(), AEAD: hpke.ChaCha20Poly1305()},
	{Name: "p256-aes128gcm", Alg: AlgHPKE0, KEM: hpke.DHKEM(ecdh.P256()), KDF: hpke.HKDFSHA256(), AEAD: hpke.AES128GCM()},
}

// DefaultSuite is the suite a gateway seals with when the configuration names none.
const DefaultSuite = "x25519-chacha20poly1305"

// SuiteByName returns the named suite.
func SuiteByName(name string) (Suite, error) {
	var names []string
	for _, s := range Suites {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Suite{}, fmt.Errorf("unknown suite %q; use one of %s", name, strings.Join(names, ", "))
}

// SuiteByAlg returns the suite of a COSE algorithm.
func SuiteByAlg(alg int64) (Suite, bool) {
	for _, s := range Suites {
		if s.Alg == alg {
			return s, true
		}
	}
	return Suite{}, false
}

// Sealer seals signed batches to one city public key. It is safe for concurrent use.
type Sealer struct {
	suite Suite
	pub   hpke.PublicKey
	kid   []byte
	prot  []byte // {1: alg}, fixed
	aad   []byte // the Enc_structure, fixed: no external data
}

// NewSealer returns a sealer for the city key pub (its HPKE serialization) under kid.
func NewSealer(suite Suite, kid string, pub []byte) (*Sealer, error) {
	if kid == "" || len(kid) > 64 {
		return nil, errors.New("cosebatch: sealer: the city key id must be 1 to 64 bytes")
	}
	pk, err := suite.KEM.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("cosebatch: sealer: city key %q is not a %s public key: %w", kid, suite.Name, err)
	}
	s := &Sealer{suite: suite, pub: pk, kid: []byte(kid)}
	s.prot = appendInt([]byte{0xa1, 0x01}, suite.Alg)
	s.aad = EncStructure(s.prot)
	return s, nil
}

// KeyID returns the city kid the sealer seals to.
func (s *Sealer) KeyID() string { return string(s.kid) }

// Seal returns the tagged COSE_Encrypt0 of the signed batch msg. It allocates (HPKE's sender
// context and the output), once per batch.
func (s *Sealer) Seal(msg []byte) ([]byte, error) {
	enc, sender, err := hpke.NewSender(s.pub, s.suite.KDF, s.suite.AEAD, nil)
	if err != nil {
		return nil, fmt.Errorf("cosebatch: seal: %w", err)
	}
	ct, err := sender.Seal(s.aad, msg)
	if err != nil {
		return nil, fmt.Errorf("cosebatch: seal: %w", err)
	}
	out := make([]byte, 0, 16+len(s.prot)+len(s.kid)+len(enc)+len(ct))
	out = append(out, 0xc0|tagEncrypt0, 0x83)
	out = appendBstr(out, s.prot)
	out = append(out, 0xa2, 0x04) // unprotected: {4: kid, -4: ek}
	out = appendBstr(out, s.kid)
	out = append(out, 0x23) // -4
	out = appendBstr(out, enc)
	return appendBstr(out, ct), nil
}

// IsSealed reports whether msg is a COSE_Encrypt0 (tag 16), not a signed batch (tag 18).
func IsSealed(msg []byte) bool { return len(msg) > 0 && msg[0] == 0xc0|tagEncrypt0 }

// EncStructure returns the Enc_structure ["Encrypt0", protected, h”] (RFC 9052 section 5.3).
func EncStructure(prot []byte) []byte {
	b := append([]byte{0x83, 0x68}, "Encrypt0"...)
	b = appendBstr(b, prot)
	return append(b, 0x40)
}

// appendInt writes a CBOR integer (major type 0 or 1).
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(b, 0, uint64(v))
	}
	return appendHead(b, 1, uint64(-1-v))
}
