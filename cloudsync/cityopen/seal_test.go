package cityopen

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
)

// TestDraftExample decrypts the Integrated Encryption example of draft-ietf-cose-hpke-27 section 5.1
// (HPKE-0: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM; kid "bob"; the key of its Figure 4)
// with the opener's COSE_Encrypt0 code: the layout, the Enc_structure as aad and the empty info.
func TestDraftExample(t *testing.T) {
	const (
		msg = "d08344a1011823a20443626f622358410457229bdd99407b384a9e59fa15" +
			"53224d58b106e9ebebdaa06d2126bd96757674847669966ecb0dcdf21af5" +
			"623f19f0b799b0cddf3ee930b739dd474f6282de0158253f3c1595e9d252" +
			"e816215a9ce73f47ba4b57acb06ecc39ca5a03a14108bbe7807af5688d61"
		d = "eca39300147c91a2a65d17e00ea278b57a14178245bf5686d9a404cca1816b8e"
	)
	suite, _ := cosebatch.SuiteByAlg(cosebatch.AlgHPKE0)
	priv, err := suite.KEM.NewPrivateKey(mustHex(t, d))
	if err != nil {
		t.Fatal(err)
	}
	op := &Opener{city: map[string]CityKey{"bob": {KID: "bob", Suite: suite, Priv: priv}}}
	// The draft's text says the plaintext is "This is the content."; its 37-byte ciphertext is 21 bytes
	// and the 16-byte tag: the example was made with a trailing newline, and decrypts to it.
	pt, kid, err := op.unseal(mustHex(t, msg))
	if err != nil || string(pt) != "This is the content.\n" || kid != "bob" {
		t.Fatalf("unseal: %q %q %v", pt, kid, err)
	}
	// Its public key (Figure 4's x and y) is the private key's.
	x := "02a8e3315f96bc7355dbf85740c6d8e53fb070cd8ba5c419be49a91d789ef55c"
	y := "96b6621abf5ca532e042dc5c346c1ef0c9186b83cb122e50a46f1458de023d35"
	if got := hex.EncodeToString(priv.PublicKey().Bytes()); got != "04"+x+y {
		t.Errorf("public key %s", got)
	}
	bad := mustHex(t, msg)
	bad[len(bad)-1] ^= 1
	if _, _, err := op.unseal(bad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("tampered tag: %v", err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealed returns a batch signed by g and sealed to k.
func sealed(t testing.TB, g *gw, k CityKey, seq uint64) []byte {
	t.Helper()
	s, err := cosebatch.NewSealer(k.Suite, k.KID, k.Priv.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Seal(g.batch(t, seq, 100))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSealRoundTrip(t *testing.T) {
	g := newGW(t, key(1), bootID)
	pub := g.priv.Public().(ed25519.PublicKey)
	for _, suite := range cosebatch.Suites {
		t.Run(suite.Name, func(t *testing.T) {
			k, err := GenerateCityKey(suite, "city-1")
			if err != nil {
				t.Fatal(err)
			}
			// Through the key file, as wayside keys gen writes it.
			pemKey, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			keys, err := ParseCityKeys(pemKey)
			if err != nil || len(keys) != 1 || keys[0].PublicKey() != k.PublicKey() {
				t.Fatalf("key file round trip: %v", err)
			}
			op := opener(t, Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: keys, RequireSealed: true})
			m := sealed(t, g, k, 9)
			b, err := op.Open(m)
			if err != nil || !b.Sealed || b.CityKID != "city-1" || b.Seq != 9 || len(b.Pack.Readings) != 100 {
				t.Fatalf("open: %+v, %v", b, err)
			}
			signedLen := len(g.batch(t, 9, 100))
			t.Logf("%s: sealing adds %d bytes to a signed 100-reading batch", suite.Name, len(m)-signedLen)
			// Every bit flip and truncation is refused.
			for i := range m {
				c := bytes.Clone(m)
				c[i] ^= 0x10
				if b, err := op.Open(c); err == nil || b != nil {
					t.Fatalf("byte %d flipped: opened", i)
				}
			}
			for _, n := range []int{0, 1, 10, len(m) / 2, len(m) - 1} {
				if _, err := op.Open(m[:n]); err == nil {
					t.Fatalf("truncated to %d: opened", n)
				}
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	g := newGW(t, key(1), bootID)
	pub := g.priv.Public().(ed25519.PublicKey)
	x := cosebatch.Suites[0]
	a, _ := GenerateCityKey(x, "city-a")
	b, _ := GenerateCityKey(x, "city-b")
	impostor, _ := GenerateCityKey(x, "city-a") // another key under the same kid
	toA := sealed(t, g, a, 1)
	toImpostor := sealed(t, g, impostor, 2)
	// A batch signed by another gateway, sealed to the city's key: decrypts, then fails verification.
	other := newGW(t, key(2), bootID)
	fromOther := sealed(t, other, a, 3)

	op := opener(t, Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: []CityKey{a}})
	for _, tc := range []struct {
		name string
		op   *Opener
		msg  []byte
		want error
		text string
	}{
		{"wrong key under the right kid", op, toImpostor, ErrDecrypt, "does not authenticate"},
		{"unknown kid", opener(t, Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: []CityKey{b}}), toA, ErrUnknownKey, `"city-a"`},
		{"no city key", opener(t, Options{Gateways: []ed25519.PublicKey{pub}}), toA, ErrDecrypt, "no city key"},
		{"another gateway's batch", op, fromOther, ErrUnknownKey, "not registered"},
		{"unsealed when sealing is required", opener(t, Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: []CityKey{a}, RequireSealed: true}),
			g.batch(t, 4, 3), ErrSealRequired, ""},
	} {
		got, err := tc.op.Open(tc.msg)
		if !errors.Is(err, tc.want) || got != nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.want, tc.text)
		}
	}
	// Parse errors never quote key material.
	pemKey, _ := a.MarshalPEM()
	raw, _ := a.Priv.Bytes()
	broken := bytes.Replace(pemKey, []byte("Suite: x25519"), []byte("Suite: x25518"), 1)
	if _, err := ParseCityKeys(broken); err == nil || strings.Contains(err.Error(), hex.EncodeToString(raw)) {
		t.Errorf("broken suite: %v", err)
	}
	if _, err := ParseCityKeys([]byte("nothing")); err == nil {
		t.Error("no key accepted")
	}
	if _, err := GenerateCityKey(x, "a b"); err == nil {
		t.Error("kid with a space accepted")
	}
}

// BenchmarkSeal seals a signed 100-reading batch with each suite.
func BenchmarkSeal(b *testing.B) {
	g := newGW(b, key(1), bootID)
	msg := g.batch(b, 1, 100)
	for _, suite := range cosebatch.Suites[:3] {
		b.Run(suite.Name, func(b *testing.B) {
			k, _ := GenerateCityKey(suite, "city-1")
			s, _ := cosebatch.NewSealer(suite, k.KID, k.Priv.PublicKey().Bytes())
			b.ReportAllocs()
			var n int
			for b.Loop() {
				m, _ := s.Seal(msg)
				n = len(m)
			}
			b.ReportMetric(float64(n-len(msg)), "added-B")
		})
	}
}

// The sealed test vector of docs/mqtt.md: the signed batch of cosebatch's known-answer test (made
// independently, see cloudsync/cosebatch/sign_test.go) sealed once by cosebatch.Sealer with
// x25519-chacha20poly1305 (HPKE-4) to the X25519 private key 20 21 ... 3f under kid "city-2026a"
// (public key 358072d6...6254, which pyca/cryptography derives from it too). HPKE draws a fresh
// ephemeral key per seal, so the bytes are a recording; what an implementation checks is that it
// decrypts them to exactly the signed batch, which then verifies with RFC 8032 TEST 1's key.
const (
	vectorSigned = "d2845830a501270318700448866eefbd6718c8843a000100001a000111703a00010001502c1ba4ee1afa461d12df32c7c38513e2a0585b" +
		"81a6217567772d312f656e76312f74656d7065726174757265236343656c22fb41da556e40000000637365711a00011170636269647820326331626134656531616661343631643132646633326337633338353133653202f948c0" +
		"584042088f868b67f03660d9dce1673eaebe8e565d54530e3f0217b369aed50549713909d30168cb23493030e37db7ee94f8b6b5cbe9948bd3640d4489c051b4230d"
	vectorSealed = "d08344a101182aa2044a636974792d3230323661235820e34b60b284446ad31c8494abf3f426acfc46d8293b583241c8dc3db6ec84913058e4" +
		"96a71557d03ea79f15ee3bcf94da891d4602207d6e80f1afa1fab71a22ee094e29d2fabe67b0ee04a30df0dfd80265c8437e6c6df55137d10238f3adf2" +
		"8a05d1c886bac884dc2cb2f4be70318403d77605e8c9956354b70f9aa97442bb8cfbab157b2781c5ea967268154aa146ce85cd4e0f4d7627a0d4174224" +
		"9ef4f2d2d1934fb7f4b7fc341ebe7fa85219efd58ab2712c68c0baec6cc58fd3d4011717e200439312a14237420c1e5192558227f0fe32eac3ea9a4027" +
		"35f4c2958c56c36b25ce29eed89a16e96ab483b2a38e6d7e24cfc158b1d62c283024ce3fe55cf00eb0f415e79f"
)

func TestSealedVector(t *testing.T) {
	suite, _ := cosebatch.SuiteByName("x25519-chacha20poly1305")
	skb := make([]byte, 32)
	for i := range skb {
		skb[i] = byte(0x20 + i)
	}
	sk, err := suite.KEM.NewPrivateKey(skb)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sk.PublicKey().Bytes()); got != "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254" {
		t.Fatalf("public key %s", got)
	}
	rfc8032 := ed25519.NewKeyFromSeed(mustHex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
	op := opener(t, Options{Gateways: []ed25519.PublicKey{rfc8032.Public().(ed25519.PublicKey)},
		CityKeys: []CityKey{{KID: "city-2026a", Suite: suite, Priv: sk}}, RequireSealed: true})
	inner, kid, err := op.unseal(mustHex(t, vectorSealed))
	if err != nil || kid != "city-2026a" || hex.EncodeToString(inner) != vectorSigned {
		t.Fatalf("unseal: %x %q %v", inner, kid, err)
	}
	b, err := op.Open(mustHex(t, vectorSealed))
	if err != nil || b.Seq != 70000 || !b.Verified || len(b.Pack.Readings) != 1 || b.Pack.Readings[0].Value != 9.5 {
		t.Fatalf("open: %+v %v", b, err)
	}
}
