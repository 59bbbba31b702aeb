package cosebatch

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"math"
	"testing"

	"github.com/veraison/go-cose"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfc8032Key is RFC 8032 section 7.1 TEST 1's key.
func rfc8032Key(t testing.TB) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(unhex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
}

const testBootID = "2c1ba4ee1afa461d12df32c7c38513e2"

// TestSigStructureCOSEWG builds the Sig_structure of the COSE working group's example eddsa-sig-02
// (github.com/cose-wg/Examples, eddsa-examples/eddsa-sig-02.json, intermediates.ToBeSign_hex): the
// same layout the signer signs.
func TestSigStructureCOSEWG(t *testing.T) {
	const want = "846A5369676E61747572653143A101274054546869732069732074686520636F6E74656E742E"
	got := appendSigStructure(nil, []byte{0xa1, 0x01, 0x27}, []byte("This is the content."))
	if !bytes.Equal(got, unhex(t, want)) {
		t.Errorf("Sig_structure\n got %X\nwant %s", got, want)
	}
}

// TestSignKnownAnswer: a batch signed with RFC 8032 TEST 1's key, the message made independently
// (CBOR written by hand after RFC 8949 and RFC 9052 4.2/4.4, Ed25519 by pyca/cryptography 48, the
// RFC 9679 thumbprint by hashlib). The pack is a one-record SenML pack with seq 70000.
func TestSignKnownAnswer(t *testing.T) {
	const (
		thumb = "866eefbd6718c8846cd7ddfe43fc74ab1daac4538ff8514ea2ec2d410a415743"
		pack  = "81a6217567772d312f656e76312f74656d7065726174757265236343656c22fb41da556e40000000637365711a00011170636269647820326331626134656531616661343631643132646633326337633338353133653202f948c0"
		msg   = "d2845830a501270318700448866eefbd6718c8843a000100001a000111703a00010001502c1ba4ee1afa461d12df32c7c38513e2a0585b" + pack +
			"584042088f868b67f03660d9dce1673eaebe8e565d54530e3f0217b369aed50549713909d30168cb23493030e37db7ee94f8b6b5cbe9948bd3640d4489c051b4230d"
	)
	priv := rfc8032Key(t)
	if got := Thumbprint(priv.Public().(ed25519.PublicKey)); hex.EncodeToString(got[:]) != thumb {
		t.Errorf("thumbprint %x, want %s", got, thumb)
	}
	s, err := NewSigner(priv, testBootID, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sign(70000, unhex(t, pack)); !bytes.Equal(got, unhex(t, msg)) {
		t.Errorf("Sign\n got %x\nwant %s", got, msg)
	}
}

// TestSignVerifiesWithGoCOSE decodes signed batches with go-cose, an independent decoder, across every
// length of the seq's CBOR head and of the pack's, and checks the headers.
func TestSignVerifiesWithGoCOSE(t *testing.T) {
	priv := rfc8032Key(t)
	s, _ := NewSigner(priv, testBootID, 16)
	v, _ := cose.NewVerifier(cose.AlgorithmEdDSA, priv.Public())
	for _, seq := range []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64} { // go-cose decodes integers as int64
		for _, n := range []int{0, 1, 23, 24, 255, 256, 70000} {
			pack := bytes.Repeat([]byte{0x80 | byte(n%16)}, n)
			var m cose.Sign1Message
			if err := m.UnmarshalCBOR(bytes.Clone(s.Sign(seq, pack))); err != nil {
				t.Fatalf("seq %d, %d bytes: %v", seq, n, err)
			}
			if err := m.Verify(nil, v); err != nil {
				t.Fatalf("seq %d, %d bytes: %v", seq, n, err)
			}
			p := m.Headers.Protected
			alg, _ := p.Algorithm()
			gotSeq, _ := p[int64(HeaderSeq)].(uint64)
			if i, ok := p[int64(HeaderSeq)].(int64); ok {
				gotSeq = uint64(i)
			}
			if alg != cose.AlgorithmEdDSA || p[int64(HeaderContentType)] != int64(ContentTypeSenMLCBOR) ||
				!bytes.Equal(p[int64(HeaderKID)].([]byte), s.KeyID()) || gotSeq != seq ||
				hex.EncodeToString(p[int64(HeaderBootID)].([]byte)) != testBootID || !bytes.Equal(m.Payload, pack) || len(m.Headers.Unprotected) != 0 {
				t.Fatalf("seq %d, %d bytes: headers %v", seq, n, p)
			}
		}
	}
}

func TestNewSignerRefuses(t *testing.T) {
	if _, err := NewSigner(ed25519.PrivateKey{1}, testBootID, 1); err == nil {
		t.Error("a short key was accepted")
	}
	for _, bid := range []string{"", "2c1b", testBootID + "00", "zz1ba4ee1afa461d12df32c7c38513e2"} {
		if _, err := NewSigner(rfc8032Key(t), bid, 1); err == nil {
			t.Errorf("boot id %q accepted", bid)
		}
	}
}

// TestSignAllocs: signing a batch into the signer's buffers allocates nothing.
func TestSignAllocs(t *testing.T) {
	s, _ := NewSigner(rfc8032Key(t), testBootID, 2048)
	pack := bytes.Repeat([]byte{0x01}, 1500)
	seq := uint64(0)
	if n := testing.AllocsPerRun(100, func() { seq++; s.Sign(seq, pack) }); n != 0 {
		t.Errorf("Sign: %v allocs, want 0", n)
	}
}

// BenchmarkSign signs a 1500-byte pack (a 100-reading cabinet batch is about 1.2-1.8 KB).
func BenchmarkSign(b *testing.B) {
	s, _ := NewSigner(rfc8032Key(b), testBootID, 2048)
	pack := bytes.Repeat([]byte{0x01}, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(pack)))
	for i := 0; b.Loop(); i++ {
		s.Sign(uint64(i), pack)
	}
	b.ReportMetric(float64(len(s.out)-len(pack)), "overhead-B")
}

// FuzzUnwrap: the gateway's reader of its own spooled batches never panics, and what it returns is
// the pack of a well-formed envelope (re-signing it gives the same layout).
func FuzzUnwrap(f *testing.F) {
	s, _ := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), testBootID, 64)
	f.Add(bytes.Clone(s.Sign(1, []byte{0x80})))
	f.Add(bytes.Clone(s.Sign(1<<40, bytes.Repeat([]byte{1}, 300))))
	f.Add([]byte{0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, msg []byte) {
		pack, err := Unwrap(msg)
		if err != nil {
			return
		}
		if len(pack) > len(msg) {
			t.Fatalf("pack of %d bytes from a %d-byte message", len(pack), len(msg))
		}
		if _, err := Unwrap(s.Sign(7, pack)); err != nil {
			t.Fatalf("a re-signed pack does not unwrap: %v", err)
		}
	})
}
