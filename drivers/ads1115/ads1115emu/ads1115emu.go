// Package ads1115emu emulates a TI ADS1115 on an I²C bus, for the simulated board and for tests:
// the config and conversion registers, single-shot conversions of the input pair the config
// selects, at the PGA's full-scale range, for input voltages set with Set.
package ads1115emu

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// fullScale in V per PGA code (datasheet table 1; codes 6 and 7 are ±0.256 V too).
var fullScale = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}

// pairs maps MUX codes to the positive and negative input; -1 is GND (table 8).
var pairs = [8][2]int{{0, 1}, {0, 3}, {1, 3}, {2, 3}, {0, -1}, {1, -1}, {2, -1}, {3, -1}}

// Emu is an emulated ADS1115. It implements i2c.Bus; all methods are safe for concurrent use.
type Emu struct {
	mu         sync.Mutex
	addr       uint16
	volts      [4]float64
	config     uint16
	conversion uint16
	// Conversions counts the single-shot conversions started.
	conversions int
}

// New returns an ADS1115 at addr with all inputs at 0 V and the config register at its reset value.
func New(addr uint16) *Emu {
	return &Emu{addr: addr, config: 0x8583}
}

// Set sets the voltage on input ain (0..3) against GND.
func (e *Emu) Set(ain int, volts float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.volts[ain] = volts
}

// SetPair puts volts across the input pair pos-neg: pos at volts, neg at 0 V; neg -1 is GND. With
// ads1115.Options.Inputs and InputVolts it sets what a configured driver reads:
//
//	pos, neg := o.Inputs()
//	e.SetPair(pos, neg, o.InputVolts(value)) // the driver reports value (V, m, mA, dB, ...)
func (e *Emu) SetPair(pos, neg int, volts float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.volts[pos] = volts
	if neg >= 0 {
		e.volts[neg] = 0
	}
}

// Conversions returns how many single-shot conversions were started.
func (e *Emu) Conversions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conversions
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "ads1115emu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: pointer + 16 bit register write, or pointer then a 2 byte read.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != e.addr {
		return fmt.Errorf("ads1115emu: NACK at %#x", addr)
	}
	if len(w) == 0 {
		return fmt.Errorf("ads1115emu: transaction without a pointer byte")
	}
	switch {
	case len(w) == 3 && len(r) == 0 && w[0] == 0x01:
		e.writeConfig(uint16(w[1])<<8 | uint16(w[2]))
		return nil
	case len(w) == 3 && len(r) == 0 && (w[0] == 0x02 || w[0] == 0x03):
		return nil // thresholds: unused
	case len(w) == 1 && len(r) == 2:
		var v uint16
		switch w[0] {
		case 0x00:
			v = e.conversion
		case 0x01:
			v = e.config
		default:
			v = 0
		}
		r[0], r[1] = byte(v>>8), byte(v)
		return nil
	}
	return fmt.Errorf("ads1115emu: unsupported transaction w=%d r=%d bytes", len(w), len(r))
}

func (e *Emu) writeConfig(v uint16) {
	if v&0x8000 == 0 {
		e.config = v | 0x8000 // OS reads 1 when idle
		return
	}
	// Single-shot conversion, done at once: OS reads 1 again right away.
	e.conversions++
	e.config = v
	p := pairs[(v>>12)&7]
	in := e.volts[p[0]]
	if p[1] >= 0 {
		in -= e.volts[p[1]]
	}
	code := math.Round(in / fullScale[(v>>9)&7] * 32768)
	e.conversion = uint16(int16(min(max(code, -32768), 32767)))
}

var _ i2c.Bus = (*Emu)(nil)
