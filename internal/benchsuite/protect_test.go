package benchsuite

import (
	"crypto/ed25519"
	"testing"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
)

// The cost of protecting a batch (issue #17), on the typical cabinet's 100-reading batch: encode as
// the gateway does, sign (cosebatch.Signer), and seal (cosebatch.Sealer) with each suite.

func protectSetup(tb testing.TB) (*senml.Encoder, *cosebatch.Signer, []byte) {
	tb.Helper()
	rs, err := CabinetReadings(100)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := senml.NewEncoder(CabinetGatewayID, CabinetBootID, CabinetChannels(), 100)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := cosebatch.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), CabinetBootID, 4096)
	if err != nil {
		tb.Fatal(err)
	}
	pack, err := e.Encode(CabinetSeq, rs)
	if err != nil {
		tb.Fatal(err)
	}
	return e, s, append([]byte(nil), pack...)
}

// TestEncodeSignAllocs: the batcher's path, encode then sign, allocates nothing.
func TestEncodeSignAllocs(t *testing.T) {
	e, s, _ := protectSetup(t)
	rs, _ := CabinetReadings(100)
	seq := uint64(CabinetSeq)
	n := testing.AllocsPerRun(100, func() {
		seq++
		pack, err := e.Encode(seq, rs)
		if err != nil {
			t.Fatal(err)
		}
		s.Sign(seq, pack)
	})
	if n != 0 {
		t.Errorf("encode+sign of 100 readings: %v allocs, want 0", n)
	}
}

// BenchmarkEncodeSign100 is the batcher's encode+sign of a 100-reading cabinet batch.
func BenchmarkEncodeSign100(b *testing.B) {
	e, s, pack := protectSetup(b)
	rs, _ := CabinetReadings(100)
	b.ReportAllocs()
	var n int
	seq := uint64(CabinetSeq)
	for b.Loop() {
		seq++
		p, _ := e.Encode(seq, rs)
		n = len(s.Sign(seq, p))
	}
	b.ReportMetric(float64(n-len(pack))/100, "signB/reading")
	b.ReportMetric(float64(n)/100, "B/reading")
}

// BenchmarkSeal100 seals a signed 100-reading cabinet batch with each suite.
func BenchmarkSeal100(b *testing.B) {
	_, s, pack := protectSetup(b)
	signed := append([]byte(nil), s.Sign(CabinetSeq, pack)...)
	for _, suite := range cosebatch.Suites[:3] {
		b.Run(suite.Name, func(b *testing.B) {
			priv, _ := suite.KEM.GenerateKey()
			sl, err := cosebatch.NewSealer(suite, "city-2026a", priv.PublicKey().Bytes())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var n int
			for b.Loop() {
				m, _ := sl.Seal(signed)
				n = len(m)
			}
			b.ReportMetric(float64(n-len(signed))/100, "sealB/reading")
			b.ReportMetric(float64(n-len(pack))/100, "sign+sealB/reading")
		})
	}
}
