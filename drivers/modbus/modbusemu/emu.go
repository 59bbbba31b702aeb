// Package modbusemu emulates Modbus RTU slaves, for the simulated board and for tests: register
// banks that answer reads of coils, discrete inputs, holding and input registers (functions 01..04)
// as the application protocol spec says, faults to inject (silence, a bad CRC, a truncated frame,
// another slave's id, another function code, an exception), and a Line that serves several slaves
// on one port, the way devices share an RS-485 bus.
package modbusemu

import (
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
)

// Fault is how a slave misbehaves.
type Fault int

// Faults.
const (
	OK            Fault = iota
	Silent              // no answer at all
	BadCRC              // the answer's CRC is off by one
	Truncated           // the answer stops two bytes short
	WrongSlave          // the answer carries the next slave address
	WrongFunction       // the answer carries function 0x07
	Exception           // an exception response with the slave's exception code
)

// Slave is one emulated device: four banks of items, all zero until set. Addresses not set are
// absent: a read that covers one gets exception 02, as devices answer (application protocol spec
// 6.3, figure "Read Holding Registers state diagram"). Safe for concurrent use.
type Slave struct {
	id byte

	mu       sync.Mutex
	banks    map[byte]map[uint16]uint16 // by function code
	fault    Fault
	code     byte
	delay    time.Duration
	requests int
}

// NewSlave returns a slave at address id with empty banks.
func NewSlave(id byte) *Slave {
	return &Slave{id: id, banks: map[byte]map[uint16]uint16{
		modbus.FuncReadCoils: {}, modbus.FuncReadDiscreteInputs: {}, modbus.FuncReadHolding: {}, modbus.FuncReadInput: {}}}
}

// ID is the slave's address.
func (s *Slave) ID() byte { return s.id }

// Set stores values at addr, addr+1, ... of the bank read by function fn (for coils and discrete
// inputs, any non-zero value is on).
func (s *Slave) Set(fn byte, addr uint16, values ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range values {
		if fn == modbus.FuncReadCoils || fn == modbus.FuncReadDiscreteInputs {
			v = min(v, 1)
		}
		s.banks[fn][addr+uint16(i)] = v
	}
}

// SetU32 stores a 32-bit value in two registers, high word first unless lowFirst.
func (s *Slave) SetU32(fn byte, addr uint16, v uint32, lowFirst bool) {
	hi, lo := uint16(v>>16), uint16(v)
	if lowFirst {
		hi, lo = lo, hi
	}
	s.Set(fn, addr, hi, lo)
}

// SetF32 stores an IEEE 754 single in two registers.
func (s *Slave) SetF32(fn byte, addr uint16, v float32, lowFirst bool) {
	s.SetU32(fn, addr, math.Float32bits(v), lowFirst)
}

// SetFault makes the slave misbehave from its next request on; code is the exception code of
// Exception.
func (s *Slave) SetFault(f Fault, code byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.code = f, code
}

// SetDelay makes the slave wait d before it answers.
func (s *Slave) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests counts the well-formed requests addressed to the slave.
func (s *Slave) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Respond returns the slave's answer to req, a whole request frame addressed to it, and how long it
// takes to answer; nil when it stays silent.
func (s *Slave) Respond(req []byte) ([]byte, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	fn := req[1]
	addr, count := binary.BigEndian.Uint16(req[2:]), binary.BigEndian.Uint16(req[4:])
	var out []byte
	switch {
	case s.fault == Silent:
		return nil, 0
	case s.fault == Exception:
		out = exception(s.id, fn, s.code)
	default:
		out = s.read(fn, addr, count)
	}
	switch s.fault {
	case BadCRC:
		out[len(out)-1]++
	case Truncated:
		out = out[:len(out)-2]
	case WrongSlave:
		out[0]++
		out = resum(out)
	case WrongFunction:
		out[1] = 0x07
		out = resum(out)
	}
	return out, s.delay
}

// read answers a read of count items at addr with function fn; mu must be held.
func (s *Slave) read(fn byte, addr, count uint16) []byte {
	bank, ok := s.banks[fn]
	if !ok {
		return exception(s.id, fn, 0x01) // illegal function
	}
	bits := fn == modbus.FuncReadCoils || fn == modbus.FuncReadDiscreteInputs
	limit := uint16(modbus.MaxRegisters)
	if bits {
		limit = modbus.MaxBits
	}
	if count < 1 || count > limit {
		return exception(s.id, fn, 0x03) // illegal data value (spec 6.1..6.4: quantity out of range)
	}
	if int(addr)+int(count) > 0x10000 {
		return exception(s.id, fn, 0x02)
	}
	for a := int(addr); a < int(addr)+int(count); a++ {
		if _, ok := bank[uint16(a)]; !ok {
			return exception(s.id, fn, 0x02) // illegal data address
		}
	}
	out := []byte{s.id, fn, 0}
	if bits {
		data := make([]byte, (count+7)/8)
		for i := range int(count) {
			if bank[addr+uint16(i)] != 0 {
				data[i/8] |= 1 << (i % 8)
			}
		}
		out = append(out, data...)
	} else {
		for i := range count {
			out = binary.BigEndian.AppendUint16(out, bank[addr+i])
		}
	}
	out[2] = byte(len(out) - 3)
	return withCRC(out)
}

func exception(id, fn, code byte) []byte { return withCRC([]byte{id, fn | 0x80, code}) }

func withCRC(b []byte) []byte {
	c := modbus.CRC(b)
	return append(b, byte(c), byte(c>>8))
}

// resum replaces the CRC of a frame whose header was changed, so the fault is the header alone.
func resum(b []byte) []byte { return withCRC(b[:len(b)-2]) }
