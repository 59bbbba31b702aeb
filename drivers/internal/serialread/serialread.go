// Package serialread owns the reader goroutine of the UART drivers (nmea, ops243, pms5003): the
// probe for read deadlines, the loop that reads until it is stopped or the port fails, and the
// bounded wait of Halt. What the bytes mean, the error messages and the counters stay in each
// driver.
//
// The loop never closes the port: the board that opened it does. With a reader that implements
// SetReadDeadline (os.File, net.Conn, most serial packages) the loop reads with short deadlines and
// notices a stop within one poll step. Without, a blocked Read cannot be interrupted: the loop ends
// when the owner closes the port.
package serialread

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// deadliner is what *os.File, net.Conn and most serial port types implement.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// Loop is one reader goroutine on one port. Start it once; Halt may be called any number of times,
// from any goroutine.
type Loop struct {
	r    io.Reader
	dl   deadliner // nil when r has no usable read deadlines.
	poll time.Duration
	stop atomic.Bool
	done chan struct{}
}

// New prepares a loop reading r with read deadlines poll apart when r supports them. It does not
// start the goroutine: see Start.
func New(r io.Reader, poll time.Duration) *Loop {
	l := &Loop{r: r, poll: poll, done: make(chan struct{})}
	if dl, ok := r.(deadliner); ok {
		// Probe: a pipe from os.Pipe implements the method but may refuse deadlines
		// (os.ErrNoDeadline); it is then treated as a plain reader.
		if err := dl.SetReadDeadline(time.Time{}); err == nil {
			l.dl = dl
		}
	}
	return l
}

// Deadlines reports whether the loop reads with deadlines, so that Halt can stop it on its own.
func (l *Loop) Deadlines() bool { return l.dl != nil }

// Start runs the reader goroutine. Until Halt or a read error it calls buf for the slice to read
// into and got with the bytes one Read returned, when there are any. A read error other than a
// deadline expiry, or a failure to set the deadline, is passed to fail and ends the loop. buf, got
// and fail run on the reader goroutine only.
func (l *Loop) Start(buf func() []byte, got func([]byte), fail func(error)) {
	go l.run(buf, got, fail)
}

func (l *Loop) run(buf func() []byte, got func([]byte), fail func(error)) {
	defer close(l.done)
	for !l.stop.Load() {
		if l.dl != nil {
			// Deadlines are on the port's real clock, not on a driver's clock seam.
			if err := l.dl.SetReadDeadline(time.Now().Add(l.poll)); err != nil {
				fail(err)
				return
			}
		}
		b := buf()
		n, err := l.r.Read(b)
		if n > 0 {
			got(b[:n])
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			fail(err)
			return
		}
	}
}

// Bound is how long Halt should wait for the loop: with deadlines it notices a stop within one poll
// step, so 2*poll + 1s leaves room for a slow machine; without it depends on the owner closing the
// port, so timeout.
func (l *Loop) Bound(timeout time.Duration) time.Duration {
	if l.dl != nil {
		return 2*l.poll + time.Second
	}
	return timeout
}

// Signal asks the loop to stop without waiting: the next line or read deadline ends it. A driver that
// still writes to the part on its way out (a sleep command whose answer wakes the reader) signals
// first, so the answer cannot find the loop still running and send it back to a blocking Read.
func (l *Loop) Signal() { l.stop.Store(true) }

// Halt asks the loop to stop and waits up to limit for it to end. It reports whether it ended; when
// it did not, it is blocked in Read and ends when the owner closes the port.
func (l *Loop) Halt(limit time.Duration) bool {
	l.stop.Store(true)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-l.done:
		return true
	case <-t.C:
		return false
	}
}

// Stop is the drivers' Halt: it halts the loop within Bound(timeout) and otherwise returns an error,
// prefixed with driver, wrapping sensor.ErrTimeout.
func (l *Loop) Stop(driver string, timeout time.Duration) error {
	limit := l.Bound(timeout)
	if !l.Halt(limit) {
		return fmt.Errorf("%s: halt: reader still blocked after %s, close the port: %w", driver, limit, sensor.ErrTimeout)
	}
	return nil
}

// Done is closed when the reader goroutine has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

// isTimeout reports a read deadline expiry.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
