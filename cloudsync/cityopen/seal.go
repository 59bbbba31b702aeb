package cityopen

import (
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/internal/ident"
)

// CityKey is a city private key that opens batches sealed to it.
type CityKey struct {
	KID   string
	Suite cosebatch.Suite
	Priv  hpke.PrivateKey
}

// PEM block of a city key file: the HPKE private key serialization (RFC 9180 SerializePrivateKey,
// draft-ietf-hpke-pq for MLKEM768-X25519) with the kid and the suite as PEM headers.
const pemType = "WAYSIDE CITY KEY"

// GenerateCityKey makes a city key for suite under kid.
func GenerateCityKey(suite cosebatch.Suite, kid string) (CityKey, error) {
	if !ident.Valid(kid) {
		return CityKey{}, fmt.Errorf("cityopen: key id %q: use 1-64 letters, digits, '-', '_' or '.'", kid)
	}
	priv, err := suite.KEM.GenerateKey()
	if err != nil {
		return CityKey{}, fmt.Errorf("cityopen: generate %s key: %w", suite.Name, err)
	}
	return CityKey{KID: kid, Suite: suite, Priv: priv}, nil
}

// PublicKey returns the key's public half as standard base64 (what cloud.seal.public_key holds).
func (k CityKey) PublicKey() string {
	return base64.StdEncoding.EncodeToString(k.Priv.PublicKey().Bytes())
}

// MarshalPEM returns the key file's contents.
func (k CityKey) MarshalPEM() ([]byte, error) {
	b, err := k.Priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cityopen: encode key %q: %w", k.KID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Headers: map[string]string{"Kid": k.KID, "Suite": k.Suite.Name}, Bytes: b}), nil
}

// ParseCityKeys reads every city key in a PEM file (several keys may follow each other, for a
// rotation). Its errors never quote key material.
func ParseCityKeys(b []byte) ([]CityKey, error) {
	var keys []CityKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != pemType {
			return nil, fmt.Errorf("cityopen: city key file: a %q block, want %q (wayside keys gen makes them)", blk.Type, pemType)
		}
		suite, err := cosebatch.SuiteByName(blk.Headers["Suite"])
		if err != nil {
			return nil, fmt.Errorf("cityopen: city key %q: %w", blk.Headers["Kid"], err)
		}
		kid := blk.Headers["Kid"]
		if !ident.Valid(kid) {
			return nil, fmt.Errorf("cityopen: city key file: key id %q is not valid", kid)
		}
		priv, err := suite.KEM.NewPrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cityopen: city key %q: not a valid %s private key", kid, suite.Name)
		}
		keys = append(keys, CityKey{KID: kid, Suite: suite, Priv: priv})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("cityopen: city key file: no %q block", pemType)
	}
	return keys, nil
}

var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxNestedLevels: 4, MaxArrayElements: 16, MaxMapPairs: 16,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden,
		IntDec: cbor.IntDecConvertSigned, TagsMd: cbor.TagsForbidden}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// encrypt0 is the COSE_Encrypt0 array (RFC 9052 section 5.2).
type encrypt0 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[int64]cbor.RawMessage
	Ciphertext  []byte
}

// unseal decrypts a sealed batch (draft-ietf-cose-hpke-27 section 3.2) and returns the signed
// batch inside and the kid of the city key that opened it.
func (op *Opener) unseal(msg []byte) ([]byte, string, error) {
	var m encrypt0
	if len(msg) < 1 || msg[0] != 0xd0 {
		return nil, "", fmt.Errorf("%w: not a tagged COSE_Encrypt0 (tag 16)", ErrMalformed)
	}
	if err := decMode.Unmarshal(msg[1:], &m); err != nil {
		return nil, "", fmt.Errorf("%w: COSE_Encrypt0: %v", ErrMalformed, err)
	}
	var prot map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(m.Protected, &prot); err != nil || len(prot) != 1 {
		return nil, "", fmt.Errorf("%w: COSE_Encrypt0: the protected header must be exactly {1: alg}", ErrMalformed)
	}
	var alg int64
	if err := decMode.Unmarshal(prot[1], &alg); err != nil {
		return nil, "", fmt.Errorf("%w: COSE_Encrypt0: alg is not an integer", ErrMalformed)
	}
	suite, ok := cosebatch.SuiteByAlg(alg)
	if !ok {
		return nil, "", fmt.Errorf("%w: COSE_Encrypt0: unsupported alg %d", ErrMalformed, alg)
	}
	var kidB, ek []byte
	for label, dst := range map[int64]*[]byte{4: &kidB, cosebatch.HeaderEK: &ek} {
		raw, ok := m.Unprotected[label]
		if !ok || decMode.Unmarshal(raw, dst) != nil || *dst == nil {
			return nil, "", fmt.Errorf("%w: COSE_Encrypt0: header %d must be a byte string", ErrMalformed, label)
		}
	}
	if len(m.Unprotected) != 2 || m.Ciphertext == nil {
		return nil, "", fmt.Errorf("%w: COSE_Encrypt0: want exactly kid and ek unprotected, and an attached ciphertext", ErrMalformed)
	}
	kid := string(kidB)
	key, ok := op.city[kid]
	if !ok {
		if len(op.city) == 0 {
			return nil, "", fmt.Errorf("%w: sealed to city key %q and this opener has no city key (--key)", ErrDecrypt, clip(kid))
		}
		return nil, "", fmt.Errorf("%w: sealed to city key %q, which this opener does not hold", ErrUnknownKey, clip(kid))
	}
	if key.Suite.Alg != suite.Alg {
		return nil, "", fmt.Errorf("%w: sealed with %s, city key %q is for %s", ErrDecrypt, suite.Name, kid, key.Suite.Name)
	}
	r, err := hpke.NewRecipient(ek, key.Priv, suite.KDF, suite.AEAD, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: city key %q: %v", ErrDecrypt, kid, err)
	}
	pt, err := r.Open(cosebatch.EncStructure(m.Protected), m.Ciphertext)
	if err != nil {
		return nil, "", fmt.Errorf("%w: city key %q: the ciphertext does not authenticate (tampered, or sealed to another key)", ErrDecrypt, kid)
	}
	return pt, kid, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
