package cityopen

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
)

const bootID = "2c1ba4ee1afa461d12df32c7c38513e2"

func key(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

var channels = []senml.Channel{{Name: "/env1/temperature", Unit: "Cel"}, {Name: "/env1/humidity", Unit: "%RH"}}

// gw is a gateway that encodes and signs batches, as gateway/batch.go does.
type gw struct {
	enc    *senml.Encoder
	signer *cosebatch.Signer
	priv   ed25519.PrivateKey
}

func newGW(t testing.TB, priv ed25519.PrivateKey, boot string) *gw {
	t.Helper()
	enc, err := senml.NewEncoder("gw-1", boot, channels, 100)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cosebatch.NewSigner(priv, boot, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return &gw{enc: enc, signer: s, priv: priv}
}

func (g *gw) batch(t testing.TB, seq uint64, n int) []byte {
	t.Helper()
	rs := make([]buffer.Reading, n)
	for i := range rs {
		rs[i] = buffer.Reading{Time: time.UnixMilli(1767225600000).Add(time.Duration(i) * time.Second).UnixNano(),
			Value: float64(i) / 4, Channel: uint32(i % len(channels))}
	}
	pack, err := g.enc.Encode(seq, rs)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(g.signer.Sign(seq, pack))
}

func opener(t testing.TB, o Options) *Opener {
	t.Helper()
	op, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestOpen(t *testing.T) {
	g := newGW(t, key(1), bootID)
	op := opener(t, Options{Gateways: []ed25519.PublicKey{key(9).Public().(ed25519.PublicKey), g.priv.Public().(ed25519.PublicKey)}})
	b, err := op.Open(g.batch(t, 42, 10))
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 42 || b.BootID != bootID || b.Sealed || !b.Verified || len(b.Pack.Readings) != 10 || b.Pack.Readings[9].Name != "gw-1/env1/temperature" || // groups by unit: "%RH" before "Cel"
		!bytes.Equal(b.GatewayKID, cosebatch.KeyID(g.priv.Public().(ed25519.PublicKey))) {
		t.Errorf("opened %+v", b)
	}
}

// TestOpenRefuses: every bad input is a clear error of its kind, never a pack, never a panic.
func TestOpenRefuses(t *testing.T) {
	g := newGW(t, key(1), bootID)
	pub := g.priv.Public().(ed25519.PublicKey)
	good := g.batch(t, 7, 20)
	op := opener(t, Options{Gateways: []ed25519.PublicKey{pub}})

	// Signed by another gateway whose key is not registered; and one registered under... the same kid
	// cannot happen, so a forged signature under our kid: another key signs, our kid is put in.
	other := newGW(t, key(2), bootID)
	forged := other.batch(t, 7, 20)
	kidOther, kidOurs := cosebatch.KeyID(key(2).Public().(ed25519.PublicKey)), cosebatch.KeyID(pub)
	forged = bytes.Replace(forged, kidOther, kidOurs, 1)

	// A pack whose seq differs from the header's: the gateway's encoder says 8, the signer 7.
	pack8, _ := g.enc.Encode(8, []buffer.Reading{{Time: 1, Value: 1}})
	mismatched := bytes.Clone(g.signer.Sign(7, pack8))
	// Another boot id in the pack.
	g2 := newGW(t, key(1), "00000000000000000000000000000001")
	pack, _ := g2.enc.Encode(7, []buffer.Reading{{Time: 1, Value: 1}})
	otherBoot := bytes.Clone(g.signer.Sign(7, pack))

	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not COSE", []byte(`{"a":1}`), ErrMalformed},
		{"a bare SenML pack", pack8, ErrMalformed},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
		{"another gateway", other.batch(t, 7, 20), ErrUnknownKey},
		{"forged under our kid", forged, ErrSignature},
		{"seq not the pack's", mismatched, ErrBinding},
		{"boot id not the pack's", otherBoot, ErrBinding},
		{"tag 16 on a signed batch", append([]byte{0xd0}, good[1:]...), ErrMalformed},
	} {
		b, err := op.Open(tc.msg)
		if !errors.Is(err, tc.want) || b != nil {
			t.Errorf("%s: %v (batch %v), want %v", tc.name, err, b != nil, tc.want)
		}
	}
	// Every bit of every byte, and every truncation: refused.
	for i := range good {
		for bit := range 8 {
			m := bytes.Clone(good)
			m[i] ^= 1 << bit
			if b, err := op.Open(m); err == nil || b != nil {
				t.Fatalf("byte %d bit %d flipped: opened", i, bit)
			}
		}
	}
	for n := range len(good) {
		if _, err := op.Open(good[:n]); err == nil {
			t.Fatalf("truncated to %d: opened", n)
		}
	}
	if _, err := op.Open(good); err != nil {
		t.Fatalf("the good batch: %v", err)
	}
}

func TestDedup(t *testing.T) {
	g := newGW(t, key(1), bootID)
	op := opener(t, Options{Gateways: []ed25519.PublicKey{g.priv.Public().(ed25519.PublicKey)}, Dedup: true, DedupMax: 2})
	b1, b2, b3 := g.batch(t, 1, 3), g.batch(t, 2, 3), g.batch(t, 3, 3)
	for _, m := range [][]byte{b1, b2} {
		if _, err := op.Open(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := op.Open(b1); !errors.Is(err, ErrReplayed) {
		t.Errorf("replayed seq 1: %v", err)
	}
	op.Open(b3) // forgets seq 1, the oldest
	if _, err := op.Open(b1); err != nil {
		t.Errorf("seq 1 after it was forgotten: %v", err)
	}
	// The same seq from another boot is another batch.
	if _, err := op.Open(newGW(t, key(1), "00000000000000000000000000000001").batch(t, 2, 3)); err != nil {
		t.Errorf("seq 2 of another boot: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, o := range []Options{{}, {Gateways: []ed25519.PublicKey{{1, 2}}},
		{Gateways: []ed25519.PublicKey{key(1).Public().(ed25519.PublicKey)}, RequireSealed: true}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// FuzzOpen: arbitrary bytes, signed or sealed, never panic and never open without a valid signature.
func FuzzOpen(f *testing.F) {
	g := newGW(f, key(1), bootID)
	ck, err := GenerateCityKey(cosebatch.Suites[0], "city-1")
	if err != nil {
		f.Fatal(err)
	}
	op := opener(f, Options{Gateways: []ed25519.PublicKey{g.priv.Public().(ed25519.PublicKey)}, CityKeys: []CityKey{ck}})
	good := g.batch(f, 5, 4)
	sl, _ := cosebatch.NewSealer(ck.Suite, ck.KID, ck.Priv.PublicKey().Bytes())
	sealedGood, _ := sl.Seal(good)
	f.Add(good)
	f.Add(sealedGood)
	f.Add(sealedGood[:30])
	f.Add(good[:40])
	f.Add([]byte{0xd0, 0x83, 0x40, 0xa0, 0x40})
	f.Add([]byte{0xd2, 0x84, 0x58, 0xff})
	f.Fuzz(func(t *testing.T, msg []byte) {
		b, err := op.Open(msg)
		if err == nil && (b == nil || b.Pack == nil) {
			t.Fatal("no error and no pack")
		}
		// Only what the gateway signed opens: CBOR lets the envelope's heads be written longer, but the
		// signed content (seq, readings) cannot change.
		if err == nil && (b.Seq != 5 || len(b.Pack.Readings) != 4) {
			t.Fatalf("opened a batch the gateway did not sign: %x", msg)
		}
	})
}
