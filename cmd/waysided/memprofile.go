//go:build memprofile

package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"go.uber.org/zap"
)

// -memprofile: a diagnostic build (go build -tags memprofile ./cmd/waysided) writes a heap profile of
// the running daemon at each SIGUSR1. Run it with GODEBUG=memprofilerate=64 to sample the allocations
// made before main too (package initialisation); BENCHMARKS.md's idle memory notes come from it.
func init() {
	profileFlag = func(fs *flag.FlagSet) func(*zap.Logger) func() {
		path := fs.String("memprofile", "", "on SIGUSR1, write a heap profile (go tool pprof) of the running daemon to `file`")
		return func(log *zap.Logger) func() {
			if *path == "" {
				return func() {}
			}
			return heapProfileOnSignal(*path, log)
		}
	}
}

// heapProfileOnSignal writes a heap profile to path at each SIGUSR1 (after a GC, so it shows what is
// live): how BENCHMARKS.md finds what holds the idle daemon's memory. It returns a function that stops.
func heapProfileOnSignal(path string, log *zap.Logger) func() {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-usr1:
			}
			if err := writeHeapProfile(path); err != nil {
				log.Error("heap profile", zap.String("file", path), zap.Error(err))
				continue
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			log.Info("heap profile written", zap.String("file", path), zap.Uint64("heap_inuse", ms.HeapInuse),
				zap.Uint64("heap_idle", ms.HeapIdle), zap.Uint64("heap_released", ms.HeapReleased),
				zap.Uint64("stack_inuse", ms.StackInuse), zap.Uint64("mspan_inuse", ms.MSpanInuse),
				zap.Uint64("gc_sys", ms.GCSys), zap.Uint64("other_sys", ms.OtherSys), zap.Uint64("sys", ms.Sys),
				zap.Uint32("gc_cycles", ms.NumGC), zap.Int("goroutines", runtime.NumGoroutine()))
		}
	}()
	return func() { signal.Stop(usr1); close(done) }
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
