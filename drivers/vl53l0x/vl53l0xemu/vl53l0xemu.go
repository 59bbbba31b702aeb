// Package vl53l0xemu emulates a VL53L0X on an i2c.Bus so simulated boards and tests can drive the
// real vl53l0x driver: it answers the model id, keeps registers, runs a single-shot measurement when
// SYSRANGE_START is written and reports a settable distance.
//
// It models what the driver relies on, not the chip: the private page (0x80/0xFF) only matters to
// tell SYSRANGE_START from the private register 0x00; reference calibrations complete like
// measurements; there is no timing budget, SPAD map or tuning.
package vl53l0xemu

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Emu is an emulated VL53L0X. Its zero value is not usable: call New.
type Emu struct {
	mu       sync.Mutex
	addr     uint16
	regs     [256]byte
	dist     physic.Distance
	noTarget bool
	tooClose bool
	frozen   bool
	ready    int // Polls of RESULT_INTERRUPT_STATUS before the measurement is ready.
	pending  int // Polls left for the running measurement; -1 when none runs.
	seq      byte
	// private00 is register 0x00 of the private page (0xFF = 0x01), where the stop variable sequence
	// writes; page 0's 0x00 is SYSRANGE_START.
	private00 byte
	// Starts counts measurements and calibrations started.
	starts int
}

// New returns an emulated chip at addr (0x29 out of reset) measuring 1 m, ready on the first poll.
func New(addr uint16) *Emu {
	e := &Emu{addr: addr, dist: physic.Metre, ready: 1, pending: -1}
	e.regs[0xC0] = 0xEE // IDENTIFICATION_MODEL_ID
	e.regs[0xC1] = 0xAA // IDENTIFICATION_MODULE_TYPE
	e.regs[0xC2] = 0x10 // Revision.
	e.regs[0x91] = 0x3C // Stop variable (private page).
	e.regs[0x84] = 0x11 // GPIO_HV_MUX_ACTIVE_HIGH reset value.
	return e
}

// SetDistance sets the distance the next measurements report, rounded to millimetres.
func (e *Emu) SetDistance(d physic.Distance) {
	e.mu.Lock()
	e.dist, e.noTarget, e.tooClose = d, false, false
	e.mu.Unlock()
}

// SetTooClose makes measurements report a target nearer than the part ranges: device range status
// 10 (MinClip; ST's range status 3, "Min Range Fail") and 0 mm.
func (e *Emu) SetTooClose() {
	e.mu.Lock()
	e.tooClose, e.noTarget = true, false
	e.mu.Unlock()
}

// SetNoTarget makes measurements report no target: range status 4 (signal fail) and 8190 mm.
func (e *Emu) SetNoTarget() {
	e.mu.Lock()
	e.noTarget, e.tooClose = true, false
	e.mu.Unlock()
}

// SetFrozen makes the chip hang: measurements complete but the result block stops changing.
func (e *Emu) SetFrozen(f bool) {
	e.mu.Lock()
	e.frozen = f
	e.mu.Unlock()
}

// SetReadyAfter sets how many polls of RESULT_INTERRUPT_STATUS a measurement takes; a large value
// makes the driver time out.
func (e *Emu) SetReadyAfter(polls int) {
	e.mu.Lock()
	e.ready = polls
	e.mu.Unlock()
}

// Starts returns how many measurements and calibrations were started.
func (e *Emu) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "vl53l0xemu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

var errNACK = errors.New("vl53l0xemu: no device at address (NACK)")

// Tx implements i2c.Bus: w[0] is the register index, further bytes are written from it on with
// auto-increment; r is read from it on.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != e.addr {
		return errNACK
	}
	if len(w) == 0 {
		return fmt.Errorf("vl53l0xemu: transaction without register index")
	}
	reg := int(w[0])
	for i, v := range w[1:] {
		e.write(byte(reg+i), v)
	}
	for i := range r {
		r[i] = e.read(byte(reg + i))
	}
	return nil
}

// write stores one register, mu held.
func (e *Emu) write(reg, v byte) {
	private := e.regs[0xFF] == 0x01
	switch {
	case reg == 0x00 && !private && v&0x01 != 0: // SYSRANGE_START
		e.starts++
		e.pending = e.ready
		e.regs[0x13] = 0
		e.measure()
		return // The start bit clears itself when ranging begins.
	case reg == 0x0B && v&0x01 != 0: // SYSTEM_INTERRUPT_CLEAR
		e.regs[0x13] = 0
		return
	case reg == 0x00 && private: // the private page's 0x00 is not SYSRANGE_START
		e.private00 = v
		return
	}
	e.regs[reg] = v
}

// read returns one register, mu held.
func (e *Emu) read(reg byte) byte {
	if reg == 0x00 && e.regs[0xFF] == 0x01 {
		return e.private00
	}
	if reg == 0x13 && e.pending >= 0 { // RESULT_INTERRUPT_STATUS
		if e.pending > 1 {
			e.pending--
			return 0
		}
		e.pending = -1
		e.regs[0x13] = 0x04 // New sample ready.
	}
	return e.regs[reg]
}

// measure fills the result block at RESULT_RANGE_STATUS (0x14), mu held.
func (e *Emu) measure() {
	if e.frozen {
		return
	}
	e.seq++
	status, mm := byte(11<<3), uint16(0)
	if e.noTarget || e.dist < 0 {
		status, mm = 4<<3, 8190
	} else if e.tooClose {
		status = 10 << 3
	} else {
		m := (e.dist + physic.MilliMetre/2) / physic.MilliMetre
		mm = uint16(min(m, 8190))
	}
	b := e.regs[0x14:0x20]
	b[0] = status
	b[2], b[3] = 0x00, 0x40+e.seq%16 // Effective SPAD count, varies like on a live part.
	b[6], b[7] = 0x01, e.seq         // Signal rate.
	b[8], b[9] = 0x00, 0x20+e.seq%8  // Ambient rate.
	b[10], b[11] = byte(mm>>8), byte(mm)
}

var _ i2c.Bus = (*Emu)(nil)
