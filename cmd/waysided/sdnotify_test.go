package main

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestWatchdogWithheldWhileStuck checks that pings stop while the pipeline reports no progress and
// resume when it does: systemd restarts a stuck daemon, never a slow-but-working one.
func TestWatchdogWithheldWhileStuck(t *testing.T) {
	ns := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", ns.path)
	t.Setenv("WATCHDOG_USEC", "150000") // pings every 50 ms
	n := newNotifier(zap.NewNop())
	if n.interval != 150*time.Millisecond {
		t.Fatalf("watchdog interval %v, want 150ms", n.interval)
	}
	var stuck atomic.Bool
	stop := n.watchdog(func(within time.Duration) error {
		if within != 75*time.Millisecond {
			t.Errorf("alive asked for progress within %v, want half the interval", within)
		}
		if stuck.Load() {
			return errors.New("sender has not turned for 1s")
		}
		return nil
	})
	defer stop()
	ns.expect(t, "WATCHDOG=1", 2*time.Second)
	stuck.Store(true)
	ns.expect(t, "STATUS=stuck: sender has not turned", 2*time.Second)
	// Drain what was sent before the switch, then nothing for several intervals.
	time.Sleep(60 * time.Millisecond)
	for len(ns.msgs) > 0 {
		<-ns.msgs
	}
	deadline := time.After(400 * time.Millisecond)
	for quiet := true; quiet; {
		select {
		case m := <-ns.msgs:
			if strings.Contains(m, "WATCHDOG=1") {
				t.Fatalf("pinged while stuck: %q", m)
			}
		case <-deadline:
			quiet = false
		}
	}
	stuck.Store(false)
	ns.expect(t, "WATCHDOG=1", 2*time.Second)
}
