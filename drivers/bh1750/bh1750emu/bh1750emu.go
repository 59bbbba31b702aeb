// Package bh1750emu emulates a ROHM BH1750FVI on an I²C bus, for the simulated board and for
// tests: power on/down, reset and the one-time measurement opcodes, for an illuminance set with
// Set.
package bh1750emu

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Emu is an emulated BH1750. It implements i2c.Bus; all methods are safe for concurrent use.
type Emu struct {
	mu      sync.Mutex
	addr    uint16
	lux     float64
	powered bool
	count   uint16
}

// New returns a BH1750 at addr (0x23 or 0x5C), powered down, in the dark.
func New(addr uint16) *Emu { return &Emu{addr: addr} }

// Set sets the illuminance in lx the next measurement sees.
func (e *Emu) Set(lux float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lux = lux
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "bh1750emu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: a one-byte opcode, or a 2 byte read of the result.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != e.addr {
		return fmt.Errorf("bh1750emu: NACK at %#x", addr)
	}
	switch {
	case len(w) == 1 && len(r) == 0:
		return e.opcode(w[0])
	case len(w) == 0 && len(r) == 2:
		r[0], r[1] = byte(e.count>>8), byte(e.count)
		return nil
	}
	return fmt.Errorf("bh1750emu: unsupported transaction w=%d r=%d bytes", len(w), len(r))
}

func (e *Emu) opcode(op byte) error {
	switch op {
	case 0x00:
		e.powered = false
	case 0x01:
		e.powered = true
	case 0x07: // reset: only while powered on
		if e.powered {
			e.count = 0
		}
	case 0x20, 0x21, 0x23: // one-time H, H2, L resolution
		if !e.powered {
			return nil // ignored in power down in this model: the driver powers on first
		}
		perLux := 1.2
		if op == 0x21 {
			perLux = 2.4
		}
		c := e.lux * perLux
		if op == 0x23 {
			c = math.Floor(c/4) * 4 // 4 lx steps
		}
		e.count = uint16(math.Round(min(max(c, 0), 65535)))
		e.powered = false // one-time modes power down after the measurement
	default:
		return fmt.Errorf("bh1750emu: NACK: opcode %#x not emulated", op)
	}
	return nil
}

var _ i2c.Bus = (*Emu)(nil)
