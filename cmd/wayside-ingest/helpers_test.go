package main

import (
	"context"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wayside-iot/wayside/internal/testkit/testgw"
)

// counter opens a pool on dsn for the caller to close, and count, which runs a count query on it and
// fails the test on an error.
func counter(t *testing.T, ctx context.Context, dsn string) (pool *pgxpool.Pool, count func(q string, args ...any) int) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	count = func(q string, args ...any) (n int) {
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	return pool, count
}

// publishAll has every gateway publish telemetry batches 1..n, pause apart, each in its own goroutine;
// wait for them on the returned group.
func publishAll(t *testing.T, gws []*testgw.Gateway, n uint64, pause time.Duration) *sync.WaitGroup {
	return publishRange(t, gws, 1, n, pause)
}

// publishRange is publishAll of batches from..to.
func publishRange(t *testing.T, gws []*testgw.Gateway, from, to uint64, pause time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := from; seq <= to; seq++ {
				g.Publish(t, "telemetry", g.Batch(t, seq, 1+int(seq*53%100)), false)
				time.Sleep(pause)
			}
		}()
	}
	return &wg
}

// killMidStream SIGKILLs the ingest process p, waits for it, and checks that it died mid-stream: some
// but not all of the want batches written.
func killMidStream(t *testing.T, p *exec.Cmd, count func(q string, args ...any) int, want int) {
	t.Helper()
	if err := p.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if n := count(`SELECT count(*) FROM wayside_batches`); n == 0 || n >= want {
		t.Fatalf("%d of %d batches written when the process was killed: not mid-stream", n, want)
	}
}

// checkReadings checks that every batch the gateways signed has its readings in the database once,
// and that want batches are there in all.
func checkReadings(t *testing.T, gws []*testgw.Gateway, count func(q string, args ...any) int, want int) {
	t.Helper()
	for _, g := range gws {
		for seq, signed := range g.Signed {
			n, _ := testgw.PlainReadings(t, signed)
			if got := count(`SELECT count(*) FROM wayside_readings WHERE gateway = $1 AND seq = $2`, g.ID, int64(seq)); got != n {
				t.Errorf("%s seq %d: %d readings in the database, %d published", g.ID, seq, got, n)
			}
		}
	}
	if n := count(`SELECT count(*) FROM wayside_batches`); n != want {
		t.Errorf("%d batches in the database, %d published", n, want)
	}
}
