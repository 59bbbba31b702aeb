package fleet

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// Measuring the fleet: CPU, memory and delivery over a window; process limits.

// measure samples the fleet over d: CPU of its processes and of the broker, memory, readings
// spooled (from the parts' own counters, never a gateway's Stats: see localPart.counters).
func measure(ctx context.Context, o Options, parts []part, b *Broker, chk *checker, d time.Duration) (Window, error) {
	var w Window
	u0, err := fleetUsage(parts)
	if err != nil {
		return w, err
	}
	var bc0 time.Duration
	if b != nil {
		bc0 = b.CPU()
	}
	m0, _, _, _ := chk.count()
	start := time.Now()
	for end := start.Add(d); time.Now().Before(end) && ctx.Err() == nil; {
		time.Sleep(min(time.Second, time.Until(end)))
		for _, p := range parts {
			if err := p.failed(); err != nil {
				return w, err
			}
		}
		if o.Progress != nil {
			got, _, _, _ := chk.count()
			o.Progress(fmt.Sprintf("%4.0fs: %d gateways, %d telemetry messages at the checker", time.Since(start).Seconds(), o.N, got))
		}
	}
	w.Duration = time.Since(start)
	u1, err := fleetUsage(parts)
	if err != nil {
		return w, err
	}
	w.CPU = u1.CPU - u0.CPU
	if b != nil {
		w.BrokerCPU = b.CPU() - bc0
		w.BrokerRSS = b.RSS()
	}
	w.Readings = u1.Counters.Readings - u0.Counters.Readings
	w.Batches = u1.Counters.Batches - u0.Counters.Batches
	m1, _, _, _ := chk.count()
	w.Messages = m1 - m0
	w.RSS, w.HeapInuse, w.Goroutines, w.OpenFDs = u1.RSS, u1.HeapInuse, u1.Goroutines, u1.OpenFDs
	return w, nil
}

// fleetUsage sums the usage of the fleet's processes: this one (the checker's, and the gateways' when
// they run here) and each member process, with the parts' counters.
func fleetUsage(parts []part) (usage, error) {
	var sum usage
	self := true
	for _, p := range parts {
		u, err := p.usage()
		if err != nil {
			return sum, err
		}
		if u.PID == os.Getpid() {
			self = false
		}
		sum.add(u)
	}
	if self {
		u := selfUsage()
		u.Counters = sample{}
		sum.add(u)
	}
	return sum, nil
}

func (u *usage) add(v usage) {
	u.CPU += v.CPU
	u.RSS += v.RSS
	u.PeakRSS += v.PeakRSS
	u.HeapInuse += v.HeapInuse
	u.Goroutines += v.Goroutines
	u.OpenFDs += v.OpenFDs
	u.Counters.Batches += v.Counters.Batches
	u.Counters.Readings += v.Counters.Readings
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
