// Package bh1750emu emulates a ROHM BH1750FVI on an I²C bus, for the simulated board and for
// tests: power on/down, reset, the measurement time register and the one-time measurement
// opcodes, for an illuminance set with Set.
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
	mt      byte // measurement time register: counts scale with it (69 at power-up)
}

// New returns a BH1750 at addr (0x23 or 0x5C), powered down, in the dark.
func New(addr uint16) *Emu { return &Emu{addr: addr, mt: 69} }

// SetMTreg sets the measurement time register, as another program may have left it.
func (e *Emu) SetMTreg(mt byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mt = mt
}

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
	case 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
		0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F: // MTreg[4:0]
		e.mt = e.mt&0xE0 | op&0x1F
	case 0x01:
		e.powered = true
	case 0x07: // reset: only while powered on
		if e.powered {
			e.count = 0
		}
	case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47: // MTreg[7:5]
		e.mt = e.mt&0x1F | (op&0x07)<<5
	case 0x20, 0x21, 0x23: // one-time H, H2, L resolution (from power down too: it powers on)
		perLux := 1.2 * float64(e.mt) / 69
		if op == 0x21 {
			perLux *= 2
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
