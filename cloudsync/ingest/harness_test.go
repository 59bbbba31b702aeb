package ingest

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// killSwitch stands in for the network of one ingest instance: kill cuts its broker connections
// without a DISCONNECT (as a crashed process's) and refuses new ones.
type killSwitch struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (k *killSwitch) dial(network, addr string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("killed")
	}
	c, err := net.Dial(network, addr)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
	k.conns = nil
}

// revive lets new connections through again, as a network that is back.
func (k *killSwitch) revive() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = false
}

// instance is a running Ingest.
type instance struct {
	in     *Ingest
	ks     *killSwitch
	cancel context.CancelFunc
	done   chan error
}

// startIngest runs an Ingest and waits until it has subscribed.
func startIngest(t testing.TB, cfg Config, log *zap.Logger, hook func(*Ingest)) *instance {
	t.Helper()
	inst := launchIngest(t, cfg, log, hook)
	select {
	case <-inst.in.subscribed:
	case err := <-inst.done:
		t.Fatalf("ingest: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ingest: not subscribed within 20s")
	}
	return inst
}

// launchIngest runs an Ingest; it is stopped when the test ends.
func launchIngest(t testing.TB, cfg Config, log *zap.Logger, hook func(*Ingest)) *instance {
	t.Helper()
	in, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ks := &killSwitch{}
	in.dial = ks.dial
	if hook != nil {
		hook(in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{in: in, ks: ks, cancel: cancel, done: make(chan error, 1)}
	go func() { inst.done <- in.Run(ctx) }()
	t.Cleanup(inst.stop)
	return inst
}

// stop ends Run and waits for it.
func (i *instance) stop() {
	i.cancel()
	if err := <-i.done; err != nil {
		panic(err) // only once: done is read once
	}
	i.done <- nil
}

// onTimeout, when set, runs before waitFor fails, to say more.
var onTimeout func()

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if onTimeout != nil {
				onTimeout()
			}
			t.Fatalf("%s: not within %v: %s", what, d, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(t testing.TB, pool *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func newLog(t testing.TB) *zap.Logger {
	lvl := zap.WarnLevel
	if os.Getenv("WAYSIDE_INGEST_DEBUG") == "1" {
		lvl = zap.DebugLevel
	}
	return zaptest.NewLogger(t, zaptest.Level(lvl))
}

// migratedDB starts a PostgreSQL for the test and returns it with a pool on it, the schema migrated;
// the pool closes when the test ends.
func migratedDB(t testing.TB) (*testpg.Server, *pgxpool.Pool) {
	t.Helper()
	pg := testpg.Start(t)
	pool, err := pgxpool.New(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pg, pool
}
