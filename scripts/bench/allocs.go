package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// allocResult is the whole pipeline's heap allocations over a window, in this process.
type allocResult struct {
	offered           float64
	batch             int
	window            time.Duration
	readings, batches uint64
	mallocs           uint64
}

func (a *allocResult) perReading() float64 { return float64(a.mallocs) / float64(max(a.readings, 1)) }
func (a *allocResult) perBatch() float64   { return float64(a.mallocs) / float64(max(a.batches, 1)) }

// allocRate is the synthetic load of the allocation run: enough readings that per-sample and
// per-batch costs show, little enough that nothing else in this process competes.
const allocRate = 1e5

// allocsPhase runs the gateway in this process (sampler goroutines, ring, batcher, encoder, spool,
// link, against a real mosquitto with no subscriber) on the synthetic load and counts every heap
// allocation the process makes in a window (runtime.MemStats.Mallocs), per reading spooled.
func (r *results) allocsPhase(ctx context.Context, dir string) error {
	dir = filepath.Join(dir, "allocs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	broker, err := e2e.StartBroker(dir)
	if err != nil {
		return err
	}
	defer broker.Stop()
	spec := e2e.Spec{GatewayID: "bench-allocs", Seed: 42, Sensors: e2e.Synthetic(allocRate), MaxReadings: r.opts.batches[0],
		MaxAge: 200 * time.Millisecond, BufferCapacity: ringFor(allocRate)}
	cfg, err := config.Parse(spec.YAML(broker.URL, filepath.Join(dir, "spool")), boards.Check)
	if err != nil {
		return fmt.Errorf("allocation run config: %w", err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Version: "bench", Log: zap.NewNop(), DrainTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(rctx) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return fmt.Errorf("the in-process gateway did not stop within 30s")
		}
	}
	for deadline := time.Now().Add(20 * time.Second); g.Stats().Link.Acked == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return fmt.Errorf("no batch acknowledged by the broker within 20s")
		}
	}
	time.Sleep(r.opts.warmup)
	window := r.opts.window / 2
	s0 := g.Stats()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
	}
	runtime.ReadMemStats(&m1)
	elapsed := time.Since(t0)
	s1 := g.Stats()
	if err := stop(); err != nil {
		return fmt.Errorf("in-process gateway: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.allocs = &allocResult{offered: allocRate, batch: r.opts.batches[0], window: elapsed,
		readings: s1.Spooled - s0.Spooled, batches: s1.Batches - s0.Batches, mallocs: m1.Mallocs - m0.Mallocs}
	progress("  %d readings in %d batches, %d allocations: %.4f per reading, %.1f per batch",
		r.allocs.readings, r.allocs.batches, r.allocs.mallocs, r.allocs.perReading(), r.allocs.perBatch())
	return nil
}
