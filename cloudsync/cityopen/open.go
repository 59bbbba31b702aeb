// Package cityopen is the city's side of a Wayside batch: the reference opener that decrypts a
// sealed batch (COSE_Encrypt0 with HPKE, when the gateway seals), verifies the gateway's COSE_Sign1
// signature and the seq and boot id bound in its protected header, and returns the SenML pack. It is
// written from the layout in docs/mqtt.md ("Telemetry protection") and uses go-cose for the
// signature, not the gateway's encoder, so it checks the gateway independently.
//
// Every failure is an error wrapping one of the sentinels below; Open never returns a partial pack.
package cityopen

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/veraison/go-cose"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
)

// Errors a caller may branch on.
var (
	ErrMalformed    = errors.New("cityopen: malformed batch")
	ErrUnknownKey   = errors.New("cityopen: unknown key")
	ErrSignature    = errors.New("cityopen: signature does not verify")
	ErrBinding      = errors.New("cityopen: header does not match the pack")
	ErrReplayed     = errors.New("cityopen: batch already opened")
	ErrDecrypt      = errors.New("cityopen: cannot decrypt")
	ErrNotSealed    = errors.New("cityopen: batch is not sealed")
	ErrSealRequired = errors.New("cityopen: batch is not sealed, and this opener requires sealing")
)

// MaxBatch bounds what Open reads: a batch from a broker is untrusted input.
const MaxBatch = senml.MaxPackBytes + 4096

// Options configures an Opener.
type Options struct {
	// Gateways are the registered gateway public keys. Their kids are derived (cosebatch.KeyID).
	Gateways []ed25519.PublicKey
	// CityKeys decrypt sealed batches, by kid (see seal.go). Several keys may be given: during a
	// rotation batches sealed to the old key and to the new one both open.
	CityKeys []CityKey
	// RequireSealed refuses batches that are not sealed.
	RequireSealed bool
	// Dedup remembers the (gateway kid, boot id, seq) of opened batches and refuses a repeat with
	// ErrReplayed; at most DedupMax entries are kept (oldest forgotten first; default 100000).
	Dedup    bool
	DedupMax int
	// Unverified opens batches whose gateway key is not among Gateways without checking their
	// signature (Batch.Verified is then false): for inspecting a batch, never for accepting data.
	Unverified bool
}

// Batch is an opened batch.
type Batch struct {
	Pack       *senml.Pack
	GatewayKID []byte // the signing key's kid
	Seq        uint64
	BootID     string // hex, as the pack's "bid"
	Sealed     bool
	CityKID    string // the kid of the city key that opened it; "" when not sealed
	Verified   bool   // the signature was checked with a registered gateway key
}

// Opener opens batches. It is safe for concurrent use.
type Opener struct {
	o         Options
	verifiers map[string]cose.Verifier // by string(kid)
	city      map[string]CityKey

	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
}

// New returns an Opener.
func New(o Options) (*Opener, error) {
	if len(o.Gateways) == 0 && !o.Unverified {
		return nil, errors.New("cityopen: no gateway public keys: give at least one (wayside status shows a gateway's)")
	}
	op := &Opener{o: o, verifiers: map[string]cose.Verifier{}, city: map[string]CityKey{}, seen: map[string]struct{}{}}
	for i, pub := range o.Gateways {
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("cityopen: gateway key %d: %d bytes, want a %d-byte Ed25519 public key", i, len(pub), ed25519.PublicKeySize)
		}
		v, err := cose.NewVerifier(cose.AlgorithmEdDSA, pub)
		if err != nil {
			return nil, fmt.Errorf("cityopen: gateway key %d: %w", i, err)
		}
		op.verifiers[string(cosebatch.KeyID(pub))] = v
	}
	for _, k := range o.CityKeys {
		if _, dup := op.city[k.KID]; dup {
			return nil, fmt.Errorf("cityopen: city key id %q given twice", k.KID)
		}
		op.city[k.KID] = k
	}
	if o.RequireSealed && len(op.city) == 0 {
		return nil, errors.New("cityopen: sealing required but no city key given")
	}
	if op.o.DedupMax <= 0 {
		op.o.DedupMax = 100000
	}
	return op, nil
}

// Open decrypts (when sealed) and verifies msg and returns its batch.
func (op *Opener) Open(msg []byte) (*Batch, error) {
	if len(msg) > MaxBatch {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(msg), MaxBatch)
	}
	b := &Batch{}
	if len(msg) > 0 && msg[0] == 0xd0 { // tag 16: COSE_Encrypt0
		inner, kid, err := op.unseal(msg)
		if err != nil {
			return nil, err
		}
		msg, b.Sealed, b.CityKID = inner, true, kid
	} else if op.o.RequireSealed {
		return nil, ErrSealRequired
	}
	if err := op.verify(msg, b); err != nil {
		return nil, err
	}
	if op.o.Dedup {
		key := string(b.GatewayKID) + "/" + b.BootID + "/" + fmt.Sprint(b.Seq)
		op.mu.Lock()
		defer op.mu.Unlock()
		if _, dup := op.seen[key]; dup {
			return nil, fmt.Errorf("%w: seq %d of boot %s", ErrReplayed, b.Seq, b.BootID)
		}
		op.seen[key] = struct{}{}
		op.order = append(op.order, key)
		if len(op.order) > op.o.DedupMax {
			delete(op.seen, op.order[0])
			op.order = op.order[1:]
		}
	}
	return b, nil
}

// verify checks a signed batch (RFC 9052 COSE_Sign1, layout in cosebatch) and fills b.
func (op *Opener) verify(msg []byte, b *Batch) error {
	var m cose.Sign1Message
	if len(msg) == 0 || msg[0] != 0xd2 {
		return fmt.Errorf("%w: not a tagged COSE_Sign1 (tag 18)", ErrMalformed)
	}
	if err := m.UnmarshalCBOR(msg); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	p := m.Headers.Protected
	if alg, err := p.Algorithm(); err != nil || alg != cose.AlgorithmEdDSA {
		return fmt.Errorf("%w: alg is not EdDSA in the protected header", ErrMalformed)
	}
	if _, crit := p[cose.HeaderLabelCritical]; crit {
		return fmt.Errorf("%w: critical header parameters", ErrMalformed)
	}
	if ct, ok := p[cose.HeaderLabelContentType].(int64); !ok || ct != cosebatch.ContentTypeSenMLCBOR {
		return fmt.Errorf("%w: content type is not application/senml+cbor (112)", ErrMalformed)
	}
	kid, ok := p[cose.HeaderLabelKeyID].([]byte)
	if !ok {
		return fmt.Errorf("%w: no kid in the protected header", ErrMalformed)
	}
	seq, ok := p[int64(cosebatch.HeaderSeq)].(int64)
	if !ok || seq < 0 {
		return fmt.Errorf("%w: no seq (label %d) in the protected header", ErrMalformed, cosebatch.HeaderSeq)
	}
	bid, ok := p[int64(cosebatch.HeaderBootID)].([]byte)
	if !ok || len(bid) != cosebatch.BootIDSize {
		return fmt.Errorf("%w: no boot id (label %d) in the protected header", ErrMalformed, cosebatch.HeaderBootID)
	}
	v, ok := op.verifiers[string(kid)]
	switch {
	case ok:
		if err := m.Verify(nil, v); err != nil {
			return fmt.Errorf("%w: gateway kid %x", ErrSignature, kid)
		}
		b.Verified = true
	case !op.o.Unverified:
		return fmt.Errorf("%w: gateway kid %x is not registered", ErrUnknownKey, kid)
	}
	pack, err := senml.Decode(m.Payload)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	b.GatewayKID, b.Seq, b.BootID = bytes.Clone(kid), uint64(seq), hex.EncodeToString(bid)
	if pack.Seq != b.Seq || pack.BootID != b.BootID {
		return fmt.Errorf("%w: header seq %d boot %s, pack seq %d boot %q", ErrBinding, b.Seq, b.BootID, pack.Seq, pack.BootID)
	}
	b.Pack = pack
	return nil
}
