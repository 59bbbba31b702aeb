package gateway_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// TestSealedRotation: with cloud.seal every batch on the broker is a COSE_Encrypt0 that only the
// city key opens, and the spool holds no readings in clear. A key rotation while batches wait in the
// spool (broker down, then a restart with the new key) loses nothing: the backlog stays sealed to the
// old key, new batches go to the new one, and an opener holding both keys opens every batch.
func TestSealedRotation(t *testing.T) {
	keyA, err := cityopen.GenerateCityKey(mustSuite(t, "x25519-chacha20poly1305"), "city-a")
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := cityopen.GenerateCityKey(mustSuite(t, "mlkem768x25519-chacha20poly1305"), "city-b")
	if err != nil {
		t.Fatal(err)
	}
	broker := testbroker.Start(t, testbroker.Persistent(t.TempDir()))
	dir := t.TempDir()
	sub := subscribe(t, broker.URL, "it-gw-1")
	broker.StopGraceful() // run 1 spools everything

	run := func(k cityopen.CityKey, suite string, d time.Duration) gateway.Stats {
		body := strings.Replace(fmt.Sprintf(simConfig, broker.URL, dir), "max_inflight: 16}",
			fmt.Sprintf("max_inflight: 16, seal: {suite: %s, kid: %s, public_key: %q}}", suite, k.KID, k.PublicKey()), 1)
		g := newGateway(t, gateway.Options{Config: parseConfig(t, body), Version: "it", DrainTimeout: 2 * time.Second})
		runFor(t, g, d)
		if st := g.Stats(); st.SealKID != k.KID {
			t.Errorf("status seals to %q, want %q", st.SealKID, k.KID)
		}
		return g.Stats()
	}
	st1 := run(keyA, "x25519-chacha20poly1305", time.Second)
	// The spool on the card: ciphertext only, no channel name, no reading.
	filepath.WalkDir(filepath.Join(dir, "spool"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("it-gw-1/env1")) {
				t.Errorf("%s holds readings in clear", path)
			}
		}
		return nil
	})
	broker.Restart()
	st2 := run(keyB, "mlkem768x25519-chacha20poly1305", 2*time.Second)

	id, err := gateway.ReadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(id.PublicKey)
	op, err := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: []cityopen.CityKey{keyA, keyB},
		RequireSealed: true, Dedup: true})
	if err != nil {
		t.Fatal(err)
	}
	onlyA, _ := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: []cityopen.CityKey{keyA}})
	want := st1.Batches + st2.Batches
	var got [][]byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, _ = sub.snapshot(); uint64(len(got)) >= want {
			break
		}
	}
	byKey := map[string]int{}
	seqs := map[uint64]bool{}
	for _, m := range got {
		if !cosebatch.IsSealed(m) || bytes.Contains(m, []byte("it-gw-1")) {
			t.Fatalf("a batch on the broker is not sealed: %.60x", m)
		}
		b, err := op.Open(m)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		byKey[b.CityKID]++
		seqs[b.Seq] = true
		if _, err := onlyA.Open(m); b.CityKID == "city-b" && err == nil {
			t.Error("a batch sealed to city-b opened with city-a alone")
		}
	}
	t.Logf("run 1: %d batches, run 2: %d; received %d, by city key %v", st1.Batches, st2.Batches, len(got), byKey)
	if uint64(len(seqs)) != want || byKey["city-a"] == 0 || byKey["city-b"] == 0 {
		t.Errorf("%d distinct batches of %d, by key %v", len(seqs), want, byKey)
	}
}

func mustSuite(t *testing.T, name string) cosebatch.Suite {
	t.Helper()
	s, err := cosebatch.SuiteByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
