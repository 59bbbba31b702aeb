package cosebatch

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// COSE labels and values of a signed batch.
const (
	HeaderAlg         = 1
	HeaderContentType = 3
	HeaderKID         = 4
	// HeaderSeq and HeaderBootID are private-use labels (IANA "COSE Header Parameters", RFC 9052: integers less than -65536).
	HeaderSeq    = -65537
	HeaderBootID = -65538

	AlgEdDSA = -8
	// ContentTypeSenMLCBOR is the CoAP content-format of application/senml+cbor (RFC 8428, IANA "CoAP Content-Formats").
	ContentTypeSenMLCBOR = 112

	// KIDSize is the length of a gateway key's kid: a truncated RFC 9679 thumbprint.
	KIDSize = 8
	// BootIDSize is the length of the raw boot id.
	BootIDSize = 16

	tagSign1 = 18
)

// Thumbprint returns the COSE Key Thumbprint (RFC 9679 section 3) of an Ed25519 public key: SHA-256
// of the deterministic encoding of {1: 1 (kty OKP), -1: 6 (crv Ed25519), -2: x}.
func Thumbprint(pub ed25519.PublicKey) [32]byte {
	b := make([]byte, 0, 8+len(pub))
	b = append(b, 0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, byte(len(pub)))
	return sha256.Sum256(append(b, pub...))
}

// KeyID returns a gateway key's kid: the first KIDSize bytes of its thumbprint.
func KeyID(pub ed25519.PublicKey) []byte {
	t := Thumbprint(pub)
	return t[:KIDSize:KIDSize]
}

// Signer signs batches with a gateway's key. It is not safe for concurrent use: the batcher owns
// one. The bytes Sign returns are valid until the next call.
type Signer struct {
	priv   ed25519.PrivateKey
	kid    []byte
	bootID [BootIDSize]byte
	prot   []byte
	tbs    []byte
	out    []byte
}

// NewSigner returns a signer for priv and this run's boot id (32 hex digits). maxPack sizes the
// buffers (they grow when needed).
func NewSigner(priv ed25519.PrivateKey, bootID string, maxPack int) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("cosebatch: signer: not an Ed25519 private key")
	}
	s := &Signer{priv: priv, kid: KeyID(priv.Public().(ed25519.PublicKey))}
	if len(bootID) != 2*BootIDSize {
		return nil, fmt.Errorf("cosebatch: signer: boot id %q is not %d bytes in hex", bootID, BootIDSize)
	}
	if _, err := hex.Decode(s.bootID[:], []byte(bootID)); err != nil {
		return nil, fmt.Errorf("cosebatch: signer: boot id %q is not %d bytes in hex", bootID, BootIDSize)
	}
	s.prot = make([]byte, 0, 64)
	s.tbs = make([]byte, 0, maxPack+96)
	s.out = make([]byte, 0, maxPack+160)
	return s, nil
}

// KeyID returns the signer's kid.
func (s *Signer) KeyID() []byte { return s.kid }

// Sign returns the tagged COSE_Sign1 of pack as batch seq.
func (s *Signer) Sign(seq uint64, pack []byte) []byte {
	s.prot = appendProtected(s.prot[:0], s.kid, seq, s.bootID[:])
	s.tbs = appendSigStructure(s.tbs[:0], s.prot, pack)
	s.out = append(s.out[:0], 0xc0|tagSign1, 0x84)
	s.out = appendBstr(s.out, s.prot)
	s.out = append(s.out, 0xa0) // unprotected: {}
	s.out = appendBstr(s.out, pack)
	s.out = append(s.out, 0x58, ed25519.SignatureSize)
	s.out = append(s.out, ed25519.Sign(s.priv, s.tbs)...)
	return s.out
}

// appendProtected writes the protected header map {1: -8, 3: 112, 4: kid, -65537: seq, -65538: bid}
// in deterministic order (RFC 8949 4.2.1: by encoded bytes, so the one-byte keys first).
func appendProtected(b, kid []byte, seq uint64, bootID []byte) []byte {
	b = append(b, 0xa5, 0x01, 0x27, 0x03, 0x18, ContentTypeSenMLCBOR, 0x04)
	b = appendBstr(b, kid)
	b = append(b, 0x3a, 0x00, 0x01, 0x00, 0x00) // -65537: major 1, argument 65536
	b = appendHead(b, 0, seq)
	b = append(b, 0x3a, 0x00, 0x01, 0x00, 0x01) // -65538
	return appendBstr(b, bootID)
}

// appendSigStructure writes ["Signature1", protected, h”, payload] (RFC 9052 section 4.4).
func appendSigStructure(b, prot, payload []byte) []byte {
	b = append(b, 0x84, 0x6a)
	b = append(b, "Signature1"...)
	b = appendBstr(b, prot)
	b = append(b, 0x40)
	return appendBstr(b, payload)
}

// appendHead writes a CBOR head of major type major with argument n in its shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendBstr(b, v []byte) []byte { return append(appendHead(b, 2, uint64(len(v))), v...) }
