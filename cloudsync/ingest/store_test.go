package ingest

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
)

// TestWriteBatchesGroup writes groups holding a batch twice and a batch already written: each is
// written once, and exactly the repeats are reported as duplicates.
func TestWriteBatchesGroup(t *testing.T) {
	ctx := context.Background()
	_, pool := migratedDB(t)
	g := testgw.New(t, "gw-1", nil)
	op, err := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{g.Pub}})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(seq uint64, n int) *item {
		b, err := op.Open(g.Batch(t, seq, n))
		if err != nil {
			t.Fatal(err)
		}
		it, err := newItem(g.ID, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	first := []*item{mk(1, 10), mk(2, 20)}
	if err := writeBatches(ctx, pool, first); err != nil {
		t.Fatal(err)
	}
	a, b := mk(3, 30), mk(3, 30) // the same batch twice in one group
	old := mk(1, 10)             // and one written before
	group := []*item{a, old, b, mk(4, 5)}
	if err := writeBatches(ctx, pool, group); err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, it := range group {
		if it.dup {
			dups++
		}
	}
	if !old.dup || a.dup == b.dup || dups != 2 {
		t.Errorf("duplicates: old %v, the pair %v %v, %d in all; want old and one of the pair", old.dup, a.dup, b.dup, dups)
	}
	if n := count(t, pool, `SELECT count(*) FROM wayside_readings`); n != 10+20+30+5 {
		t.Errorf("%d readings, want 65", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM wayside_batches`); n != 4 {
		t.Errorf("%d batches, want 4", n)
	}
}
