package sim

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Bus is an emulated I²C bus: it hands each transaction to the emulated part attached at its
// address and NACKs the others, like a real bus. The sim board makes one per I²C bus of its profile;
// two parts cannot share an address. It implements i2c.Bus and is safe for concurrent use: the
// emulators serialise their own registers.
type Bus struct {
	name  string
	mu    sync.RWMutex
	parts map[uint16]i2c.Bus // mu guards the map, not the parts
}

// NewBus returns an empty bus. name shows in the drivers' String, "bme280(i2c1@0x76)".
func NewBus(name string) *Bus { return &Bus{name: name, parts: map[uint16]i2c.Bus{}} }

// String implements i2c.Bus.
func (b *Bus) String() string { return b.name }

// SetSpeed implements i2c.Bus.
func (b *Bus) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (b *Bus) Tx(addr uint16, w, r []byte) error {
	b.mu.RLock()
	p := b.parts[addr]
	b.mu.RUnlock()
	if p == nil {
		return fmt.Errorf("sim: %s: NACK at %#x: no part there", b.name, addr)
	}
	return p.Tx(addr, w, r)
}

// attach puts part at addr.
func (b *Bus) attach(addr uint16, part i2c.Bus, owner string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.parts[addr]; ok {
		return fmt.Errorf("sim: %s: address %#x is taken by %s; two parts on one bus need different addresses", b.name, addr, old)
	}
	b.parts[addr] = namedPart{part, owner}
	return nil
}

func (b *Bus) detach(addr uint16) {
	b.mu.Lock()
	delete(b.parts, addr)
	b.mu.Unlock()
}

// namedPart is an attached emulator with the sensor it stands for, for the "address taken" error.
type namedPart struct {
	i2c.Bus
	owner string
}

func (p namedPart) String() string { return p.owner }

var errClosed = errors.New("sim: port closed")

// handshake hands work to a driver's reader goroutine and tells the feeder when the goroutine has
// come back for more, which it does only after it has processed the previous work. That makes a
// UART or GPIO feed synchronous: what Sample fed is parsed before the driver's Sample runs.
//
// Feeder side: give. Goroutine side: take, which must be called only from the one goroutine.
type handshake[T any] struct {
	work   chan T        // unbuffered: a give waits for the goroutine to take
	done   chan struct{} // the goroutine finished with the last work; capacity 1
	closed chan struct{}
	once   sync.Once
	owed   bool        // goroutine side: a done is owed once the current work is finished
	timer  *time.Timer // goroutine side, reused (since Go 1.23 a Reset timer delivers no stale tick)
}

func newHandshake[T any]() *handshake[T] {
	return &handshake[T]{work: make(chan T), done: make(chan struct{}, 1), closed: make(chan struct{})}
}

// give hands w to the goroutine and waits until it has finished with it.
func (h *handshake[T]) give(w T) error {
	select {
	case h.work <- w:
	case <-h.closed:
		return errClosed
	}
	select {
	case <-h.done:
		return nil
	case <-h.closed:
		return errClosed
	}
}

// finished is called by the goroutine when it is back for more work.
func (h *handshake[T]) finished() {
	if h.owed {
		h.owed = false
		h.done <- struct{}{}
	}
}

// take waits for work, at most timeout when it is positive. ok is false on timeout or close.
func (h *handshake[T]) take(timeout time.Duration) (w T, ok bool, closed bool) {
	h.finished()
	var expire <-chan time.Time
	if timeout > 0 {
		if h.timer == nil {
			h.timer = time.NewTimer(timeout)
		} else {
			h.timer.Reset(timeout)
		}
		defer h.timer.Stop()
		expire = h.timer.C
	}
	select {
	case w = <-h.work:
		h.owed = true
		return w, true, false
	case <-h.closed:
		return w, false, true
	case <-expire:
		return w, false, false
	}
}

func (h *handshake[T]) close() { h.once.Do(func() { close(h.closed) }) }

// port is an emulated UART as the driver's reader goroutine sees it: an io.Reader whose Read
// blocks until Sample feeds bytes. It has no SetReadDeadline, so a driver's Halt waits for close.
type port struct {
	h   *handshake[[]byte]
	cur []byte // goroutine side: the rest of the chunk being read
}

func newPort() *port { return &port{h: newHandshake[[]byte]()} }

// Read implements io.Reader for the driver's goroutine.
func (p *port) Read(b []byte) (int, error) {
	if len(p.cur) == 0 {
		w, ok, closed := p.h.take(0)
		if closed || !ok {
			return 0, io.EOF
		}
		p.cur = w
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// feed writes b to the driver and returns once its reader has parsed all of it. b must not be
// changed until feed returns.
func (p *port) feed(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return p.h.give(b)
}

var (
	_ i2c.Bus   = (*Bus)(nil)
	_ io.Reader = (*port)(nil)
)
