// Package drivertest owns the test helpers the driver packages share: waiting for a reader
// goroutine to catch up, and replacing a driver's sleep seam. Playback scripts stay in each driver's
// tests, next to the datasheet steps they encode. Only tests import it.
package drivertest

import (
	"testing"
	"time"
)

// WaitFor polls cond until it is true, for up to 5 s, and fails the test naming what it waited for.
// Drivers with a reader goroutine (nmea, ops243, pms5003, pulse) update their state asynchronously.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// RecordSleeps replaces the sleep seam *seam (a driver's `var sleep = time.Sleep`) with one that
// returns at once and records the durations asked for, and restores it when the test ends.
func RecordSleeps(t testing.TB, seam *func(time.Duration)) *[]time.Duration {
	var slept []time.Duration
	old := *seam
	*seam = func(d time.Duration) { slept = append(slept, d) }
	t.Cleanup(func() { *seam = old })
	return &slept
}
