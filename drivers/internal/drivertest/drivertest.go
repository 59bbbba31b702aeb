// Package drivertest owns the test helpers the driver packages share: waiting for a reader
// goroutine to catch up, replacing a driver's sleep seam, the stuck-output check and the bad-options check. Playback scripts stay in each driver's
// tests, next to the datasheet steps they encode. Only tests import it.
package drivertest

import (
	"errors"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
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

// ExpectStuck checks a driver's stuck-output detection on a bus that answers the same raw value
// after times and then a different one: after-1 good samples, then sensor.ErrStuck, then a good
// sample once the value changed.
func ExpectStuck(t testing.TB, s sensor.Sensor, after int) {
	t.Helper()
	dst := make([]float64, len(s.Channels()))
	for i := range after - 1 {
		if err := s.Sample(time.Time{}, dst); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	if err := s.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrStuck) {
		t.Fatalf("sample %d, identical to the ones before: %v, want ErrStuck", after, err)
	}
	if err := s.Sample(time.Time{}, dst); err != nil {
		t.Fatalf("after the value changed: %v", err)
	}
}

// BadOption is one invalid change to a driver's default options, and the option key it must be
// refused for.
type BadOption[O any] struct {
	Field string
	Set   func(o *O)
}

// ExpectBadOptions checks that def validates, and that each case, applied to a copy of def, fails
// Validate with a *sensor.FieldError naming its Field and is refused by open (the driver's options
// constructor) as well.
func ExpectBadOptions[O any, P interface {
	*O
	Validate() error
}](t *testing.T, def O, cases []BadOption[O], open func(o *O) error) {
	t.Helper()
	if err := P(&def).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range cases {
		o := def
		c.Set(&o)
		var fe *sensor.FieldError
		if err := P(&o).Validate(); !errors.As(err, &fe) || fe.Field != c.Field {
			t.Errorf("%+v: got %v, want a FieldError for %s", o, err, c.Field)
		}
		if err := open(&o); !errors.As(err, &fe) {
			t.Errorf("the constructor accepted %+v: %v", o, err)
		}
	}
}
