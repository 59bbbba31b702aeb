package modbus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/serialport"
)

// Port is what a Bus talks through: the serial port the board opened (an *os.File on a tty), or a
// net.Conn for tests and the sim board. Read deadlines are required: they are the time-outs.
type Port interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// Seams for tests.
var (
	now   = time.Now
	sleep = time.Sleep
)

// FrameGap is the silence an RTU frame must be separated from the next by, t3.5 (serial line spec
// 2.5.1.1): 3.5 character times of 11 bits (2.5.1: start, 8 data, parity or a second stop bit,
// stop), and "if baud rate is greater than 19200 Bps, fixed values [...] a value of 1.750ms for
// inter-frame delay (t3.5)".
func FrameGap(baud int) time.Duration {
	if baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(3.5 * 11 * float64(time.Second) / float64(baud))
}

// maxDrain bounds the wait for a quiet line before a request: a line that never falls silent for
// t3.5 (a babbling device, a wrong baud rate) fails the request instead of holding the bus.
const maxDrain = 500 * time.Millisecond

// Bus is one RS-485 line with its slaves: it sends one request at a time, keeps t3.5 of silence
// between frames and reads each answer within the caller's time-out. All methods are safe for
// concurrent use: Devs of several slaves share one Bus. A Bus never closes its port.
type Bus struct {
	name   string
	port   Port
	serial serialport.Config
	gap    time.Duration

	mu    sync.Mutex
	last  time.Time        // end of the last frame on the line; mu must be held
	dirty bool             // stray bytes may be in flight (a late or garbled answer); mu must be held
	req   [RequestLen]byte // mu must be held
	buf   [MaxADU]byte     // mu must be held
	stats BusStats         // mu must be held
}

// BusStats counts a bus's transactions.
type BusStats struct {
	Requests, Timeouts, CRCErrors, FrameErrors, Exceptions uint64
}

// NewBus returns the bus on port, which the board opened with settings c; name says where it is
// ("uart1").
func NewBus(port io.ReadWriter, name string, c serialport.Config) (*Bus, error) {
	p, ok := port.(Port)
	if !ok || port == nil {
		return nil, fmt.Errorf("modbus: %s: the port (%T) has no read deadlines; pass the opened *os.File", name, port)
	}
	c = c.Normal()
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("modbus: %s: %w", name, err)
	}
	// dirty: whatever arrived before we started is not an answer to us.
	return &Bus{name: name, port: p, serial: c, gap: FrameGap(c.Baud), dirty: true}, nil
}

// String is the bus's name.
func (b *Bus) String() string { return b.name }

// Serial returns the line settings the bus was opened with.
func (b *Bus) Serial() serialport.Config { return b.serial }

// Stats returns the bus's counters.
func (b *Bus) Stats() BusStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Read reads count items from address addr of slave with function fn into dst, waiting at most
// timeout, plus the time the request and the answer take on the wire, for the answer. Errors wrap sensor.ErrTimeout (no answer), sensor.ErrFrame (a truncated
// or malformed answer, or one from another slave or for another function), sensor.ErrCRC,
// sensor.ErrException (an *ExceptionError) or sensor.ErrBus (the port failed). It does not allocate
// on success.
func (b *Bus) Read(slave, fn byte, addr, count uint16, dst []uint16, timeout time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Requests++
	err := b.readLocked(slave, fn, addr, count, dst, timeout)
	switch {
	case err == nil:
	case errors.Is(err, sensor.ErrTimeout):
		b.stats.Timeouts++
	case errors.Is(err, sensor.ErrCRC):
		b.stats.CRCErrors++
	case errors.Is(err, sensor.ErrFrame):
		b.stats.FrameErrors++
	case errors.Is(err, sensor.ErrException):
		b.stats.Exceptions++
	}
	return err
}

// readLocked is one transaction; mu must be held.
func (b *Bus) readLocked(slave, fn byte, addr, count uint16, dst []uint16, timeout time.Duration) error {
	if err := b.quietLocked(); err != nil {
		return err
	}
	req := AppendRequest(b.req[:0], slave, fn, addr, count)
	_, err := b.port.Write(req)
	b.last = now()
	if err != nil {
		b.dirty = true
		return fmt.Errorf("write request: %w: %w", sensor.ErrBus, err)
	}
	n, err := b.answerLocked(fn, timeout+b.wireTime(RequestLen+ResponseLen(fn, count)))
	b.last = now()
	if err != nil {
		return err
	}
	if err := decode(b.buf[:n], slave, fn, count, dst); err != nil {
		if !errors.Is(err, sensor.ErrException) {
			b.dirty = true
		}
		return err
	}
	return nil
}

// quietLocked waits until the line has been silent for t3.5 since the last frame. After a
// time-out or a bad answer it reads and drops what still arrives until a t3.5 silence, at most
// maxDrain. mu must be held.
func (b *Bus) quietLocked() error {
	if !b.dirty {
		if d := b.last.Add(b.gap).Sub(now()); d > 0 {
			sleep(d)
		}
		return nil
	}
	start := now()
	for {
		if err := b.port.SetReadDeadline(now().Add(b.gap)); err != nil {
			return fmt.Errorf("set read deadline: %w: %w", sensor.ErrBus, err)
		}
		n, err := b.port.Read(b.buf[:])
		if errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
			b.dirty = false
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("drain the line: %w: %w", sensor.ErrBus, err)
		}
		if now().Sub(start) > maxDrain {
			return fmt.Errorf("the line is never silent for %v (another master, or a wrong baud rate?): %w", b.gap, sensor.ErrBus)
		}
	}
}

// wireTime is how long n characters take on the line: 11 bits each (serial line spec 2.5.1). At 9600
// baud a full answer of 125 registers takes 292 ms, at 1200 baud 2.3 s: a device's answer time does
// not include it.
func (b *Bus) wireTime(n int) time.Duration {
	return time.Duration(float64(n) * 11 * float64(time.Second) / float64(b.serial.Baud))
}

// answerLocked reads one answer to function fn into buf, exactly as many bytes as its header says,
// within timeout. mu must be held.
func (b *Bus) answerLocked(fn byte, timeout time.Duration) (int, error) {
	deadline := now().Add(timeout)
	if err := b.port.SetReadDeadline(deadline); err != nil {
		b.dirty = true
		return 0, fmt.Errorf("set read deadline: %w: %w", sensor.ErrBus, err)
	}
	n, want := 0, 3
	for n < want {
		m, err := b.port.Read(b.buf[n:want])
		n += m
		if m == 0 && err == nil && now().After(deadline) {
			err = os.ErrDeadlineExceeded // a port that returns nothing without an error
		}
		if want == 3 && n == 3 {
			if want = frameLen(b.buf[:3], fn); want < 0 {
				b.dirty = true
				return n, fmt.Errorf("answer with function code %02X to function %02X: %w", b.buf[1], fn, sensor.ErrFrame)
			}
			if want > MaxADU {
				b.dirty = true
				return n, fmt.Errorf("answer claims %d data bytes, more than a frame holds: %w", b.buf[2], sensor.ErrFrame)
			}
		}
		if err == nil || n >= want {
			continue
		}
		b.dirty = true
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n == 0 {
				return 0, fmt.Errorf("no answer within %v: %w", timeout, sensor.ErrTimeout)
			}
			return n, fmt.Errorf("truncated answer: %d bytes within %v: %w", n, timeout, sensor.ErrFrame)
		}
		return n, fmt.Errorf("read answer: %w: %w", sensor.ErrBus, err)
	}
	return n, nil
}

// shared holds the buses NewWithOptions made, by port, so the sensors of one line share one Bus.
var shared struct {
	mu sync.Mutex
	m  map[any]*sharedBus
}

type sharedBus struct {
	bus  *Bus
	refs int
}

// attach returns the Bus on port, made on first use; release drops this user's hold on it.
func attach(port io.ReadWriter, name string, c serialport.Config) (bus *Bus, release func(), err error) {
	if port == nil || !reflect.TypeOf(port).Comparable() {
		return nil, nil, fmt.Errorf("modbus: %s: the port (%T) cannot be shared; pass the opened *os.File", name, port)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	s, ok := shared.m[port]
	if !ok {
		b, err := NewBus(port, name, c)
		if err != nil {
			return nil, nil, err
		}
		s = &sharedBus{bus: b}
		if shared.m == nil {
			shared.m = map[any]*sharedBus{}
		}
		shared.m[port] = s
	} else if got := s.bus.Serial(); got != c.Normal() {
		return nil, nil, fmt.Errorf("modbus: %s runs at %s for its other slaves, not %s: give every sensor on a bus the same baud, parity and stop_bits", name, got, c.Normal())
	}
	s.refs++
	var once sync.Once
	return s.bus, func() {
		once.Do(func() {
			shared.mu.Lock()
			defer shared.mu.Unlock()
			if s.refs--; s.refs == 0 {
				delete(shared.m, port)
			}
		})
	}, nil
}
