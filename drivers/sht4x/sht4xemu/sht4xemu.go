// Package sht4xemu emulates a Sensirion SHT4x on an I²C bus, for the simulated board and for
// tests: it answers the soft reset, serial number and measurement commands with CRC-protected
// words for a physical state set with Set.
package sht4xemu

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sht4x"
)

// Emu is an emulated SHT4x. It implements i2c.Bus; all methods are safe for concurrent use.
type Emu struct {
	mu      sync.Mutex
	addr    uint16
	serial  uint32
	tempC   float64
	rh      float64
	pending []byte // reply to the last command, nil when a read would be NACKed
	reply   [6]byte
	// CorruptCRC flips a bit in the next measurement's first CRC when set.
	corrupt bool
}

// New returns an SHT4x at addr with the given serial number, at 20 °C and 50 %RH.
func New(addr uint16, serial uint32) *Emu {
	return &Emu{addr: addr, serial: serial, tempC: 20, rh: 50}
}

// Set changes the temperature and humidity the next measurement reports.
func (e *Emu) Set(env physic.Env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tempC = env.Temperature.Celsius()
	e.rh = float64(env.Humidity) / float64(physic.PercentRH)
}

// CorruptNextCRC makes the next measurement reply carry a wrong CRC.
func (e *Emu) CorruptNextCRC() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.corrupt = true
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "sht4xemu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: either a one-byte command or a read of the pending reply.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != e.addr {
		return fmt.Errorf("sht4xemu: NACK at %#x", addr)
	}
	switch {
	case len(w) == 1 && len(r) == 0:
		return e.command(w[0])
	case len(w) == 0 && len(r) > 0:
		if e.pending == nil {
			return fmt.Errorf("sht4xemu: NACK: nothing to read")
		}
		if len(r) > len(e.pending) {
			return fmt.Errorf("sht4xemu: read of %d bytes, reply has %d", len(r), len(e.pending))
		}
		copy(r, e.pending)
		e.pending = nil
		return nil
	}
	return fmt.Errorf("sht4xemu: unsupported transaction w=%d r=%d bytes", len(w), len(r))
}

func (e *Emu) command(c byte) error {
	switch c {
	case 0xFD, 0xF6, 0xE0: // measure T & RH (section 4.5)
		// Inverse of section 4.6: S_T = (T + 45) * 65535 / 175, S_RH = (RH + 6) * 65535 / 125.
		st := clampWord((e.tempC + 45) * 65535 / 175)
		srh := clampWord((e.rh + 6) * 65535 / 125)
		e.setReply(st, srh)
		if e.corrupt {
			e.reply[2] ^= 1
			e.corrupt = false
		}
	case 0x89: // serial number
		e.setReply(uint16(e.serial>>16), uint16(e.serial))
	case 0x94: // soft reset
		e.pending = nil
	default:
		return fmt.Errorf("sht4xemu: NACK: unknown command %#x", c)
	}
	return nil
}

func (e *Emu) setReply(w0, w1 uint16) {
	e.reply = [6]byte{byte(w0 >> 8), byte(w0), 0, byte(w1 >> 8), byte(w1), 0}
	e.reply[2] = sht4x.CRC8(e.reply[0:2])
	e.reply[5] = sht4x.CRC8(e.reply[3:5])
	e.pending = e.reply[:]
}

func clampWord(v float64) uint16 {
	return uint16(math.Round(min(max(v, 0), 65535)))
}

var _ i2c.Bus = (*Emu)(nil)
