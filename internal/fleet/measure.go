package fleet

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// Measuring the fleet: CPU, memory and delivery over a window; process limits.

// measure samples the fleet over d: CPU of this process and of the broker, memory, readings
// spooled. It reads the members' own counters, never a gateway's Stats: that takes the spool's lock,
// which a batcher holds through an fsync, and on a loaded disk a walk over thousands of gateways then
// takes minutes.
func measure(ctx context.Context, o Options, ms []*member, b *Broker, chk *checker, d time.Duration) Window {
	readings := func() (r, batches uint64) {
		for _, m := range ms {
			r += m.readings.Load()
			batches += m.batches.Load()
		}
		return r, batches
	}
	var w Window
	r0, b0 := readings()
	c0, _ := e2e.CPUTime(os.Getpid())
	var bc0 time.Duration
	if b != nil {
		bc0 = b.CPU()
	}
	m0, _, _, _ := chk.count()
	start := time.Now()
	for end := start.Add(d); time.Now().Before(end) && ctx.Err() == nil; {
		time.Sleep(min(time.Second, time.Until(end)))
		if o.Progress != nil {
			got, _, _, _ := chk.count()
			o.Progress(fmt.Sprintf("%4.0fs: %d gateways, %d telemetry messages at the checker", time.Since(start).Seconds(), len(ms), got))
		}
	}
	w.Duration = time.Since(start)
	c1, _ := e2e.CPUTime(os.Getpid())
	w.CPU = c1 - c0
	if b != nil {
		w.BrokerCPU = b.CPU() - bc0
		w.BrokerRSS = b.RSS()
	}
	r1, b1 := readings()
	w.Readings, w.Batches = r1-r0, b1-b0
	m1, _, _, _ := chk.count()
	w.Messages = m1 - m0
	w.RSS = selfRSS()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	w.HeapInuse = mem.HeapInuse
	w.Goroutines = runtime.NumGoroutine()
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.OpenFDs = len(ents)
	}
	return w
}

// raiseFileLimit lifts RLIMIT_NOFILE to what N gateways and the broker (which inherits it) need: the
// hard limit up to fs.nr_open when allowed (root outside a container that forbids it), the soft limit
// to the hard one. It returns the soft limit in force.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("fleet: getrlimit: %w", err)
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		var nrOpen uint64
		if _, err := fmt.Sscan(string(b), &nrOpen); err == nil && nrOpen > l.Max {
			up := syscall.Rlimit{Cur: nrOpen, Max: nrOpen}
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
				return nrOpen, nil
			}
		}
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("fleet: setrlimit: %w", err)
	}
	return l.Cur, nil
}

func selfRSS() int64 {
	m, err := e2e.ReadMemory(os.Getpid())
	if err != nil {
		return 0
	}
	return m.RSS
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
