package pms5003

import (
	"fmt"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// The duty cycle: waking the part (and the warm-up that follows), putting it to sleep, and the timer
// that wakes it ahead of the next Sample.

// timer is the wake-up timer; a seam so tests run the wake by hand.
type timer interface {
	Reset(time.Duration) bool
	Stop() bool
}

// newTimer returns a stopped timer that runs f when it fires.
var newTimer = func(f func()) timer {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return t
}

// wakeMargin is how long before WarmUp ends the next Sample is expected: the wake timer fires
// WarmUp + wakeMargin before it. The part only sleeps when the interval is longer than
// WarmUp + 2*wakeMargin (40 s by default), so a sleep lasts at least wakeMargin.
const wakeMargin = 5 * time.Second

// wakeUp sends wake-up and active mode (a part woken from sleep, or left in passive mode by another
// program, streams again) and starts the warm-up.
func (d *Dev) wakeUp() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.w.Write(cmdWakeUp[:]); err != nil {
		return fmt.Errorf("pms5003: wake up: %w: %w", sensor.ErrBus, err)
	}
	if _, err := d.w.Write(cmdActive[:]); err != nil {
		return fmt.Errorf("pms5003: set active mode: %w: %w", sensor.ErrBus, err)
	}
	t := now()
	d.mu.Lock()
	d.asleep, d.stableAt = false, t.Add(d.opts.WarmUp)
	d.mu.Unlock()
	return nil
}

// sleep sends the sleep command: fan and laser off.
func (d *Dev) sleep() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.w.Write(cmdSleep[:]); err != nil {
		return fmt.Errorf("pms5003: sleep: %w: %w", sensor.ErrBus, err)
	}
	d.mu.Lock()
	d.asleep = true
	d.mu.Unlock()
	return nil
}

// wake runs on the wake timer's goroutine. A failed wake-up leaves the part asleep: the next Sample
// tries again.
func (d *Dev) wake() { _ = d.wakeUp() }

// Asleep reports whether the driver put the part to sleep and has not woken it since.
func (d *Dev) Asleep() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asleep
}
