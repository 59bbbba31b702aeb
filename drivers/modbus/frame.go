package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Function codes of the reads this driver makes (application protocol spec 6.1..6.4).
const (
	FuncReadCoils          byte = 0x01
	FuncReadDiscreteInputs byte = 0x02
	FuncReadHolding        byte = 0x03
	FuncReadInput          byte = 0x04
)

// Limits of one read (application protocol spec 6.1..6.4: quantity 1..2000 bits, 1..125 registers)
// and of one RTU frame (serial line spec 2.5.1.1: at most 256 bytes).
const (
	MaxBits      = 2000
	MaxRegisters = 125
	MaxADU       = 256
	// RequestLen is the length of a read request: slave, function, address, quantity, CRC.
	RequestLen = 8
	// exceptionLen is an exception response: slave, function | 0x80, code, CRC.
	exceptionLen = 5
)

// ExceptionError is an exception response (application protocol spec section 7): the slave got
// the request and refused it. It wraps sensor.ErrException.
type ExceptionError struct {
	Function byte // the request's function code
	Code     byte
}

var exceptionNames = map[byte]string{
	0x01: "illegal function", 0x02: "illegal data address", 0x03: "illegal data value",
	0x04: "server device failure", 0x05: "acknowledge", 0x06: "server device busy",
	0x08: "memory parity error", 0x0A: "gateway path unavailable", 0x0B: "gateway target device failed to respond",
}

func (e *ExceptionError) Error() string {
	name := exceptionNames[e.Code]
	if name == "" {
		name = "unknown exception"
	}
	return fmt.Sprintf("exception %02X (%s) to function %02X", e.Code, name, e.Function)
}

// Unwrap makes errors.Is(err, sensor.ErrException) hold.
func (e *ExceptionError) Unwrap() error { return sensor.ErrException }

// errOtherSlave marks a well-formed answer from another slave than the one asked: a late answer to
// an earlier request, not a sign of the one asked.
var errOtherSlave = errors.New("answer from another slave")

// isBits tells the bit reads (coils, discrete inputs) from the register reads.
func isBits(fn byte) bool { return fn == FuncReadCoils || fn == FuncReadDiscreteInputs }

// dataLen is the byte count of a normal response to a read of count items: two bytes per register,
// one bit per coil or input padded to whole bytes (application protocol spec 6.1: "if the returned
// output quantity is not a multiple of eight, the remaining bits in the final data byte will be
// padded with zeros").
func dataLen(fn byte, count uint16) int {
	if isBits(fn) {
		return (int(count) + 7) / 8
	}
	return 2 * int(count)
}

// ResponseLen is the length of the normal response to a read of count items.
func ResponseLen(fn byte, count uint16) int { return 3 + dataLen(fn, count) + 2 }

// AppendRequest appends the RTU frame of a read: slave, function, starting address and quantity
// (big-endian, application protocol spec 4.2), and the CRC, low byte first.
func AppendRequest(dst []byte, slave, fn byte, addr, count uint16) []byte {
	start := len(dst)
	dst = append(dst, slave, fn)
	dst = binary.BigEndian.AppendUint16(dst, addr)
	dst = binary.BigEndian.AppendUint16(dst, count)
	return appendCRC(dst, start)
}

// appendCRC appends the CRC of b[start:] to b, low byte first.
func appendCRC(b []byte, start int) []byte {
	c := CRC(b[start:])
	return append(b, byte(c), byte(c>>8))
}

// frameLen tells from the first three bytes of a response to function fn how long the whole frame
// is, or -1 when its function code is neither fn nor fn's exception: then the length is unknown.
func frameLen(head []byte, fn byte) int {
	switch head[1] {
	case fn | 0x80:
		return exceptionLen
	case fn:
		return 5 + int(head[2])
	}
	return -1
}

// DecodeResponse checks adu, a whole response frame, against the read it answers (slave, fn, count
// items) and stores the items in dst[:count]: registers as read, bits as 0 or 1. It returns an
// error wrapping sensor.ErrCRC, sensor.ErrFrame or (an *ExceptionError) sensor.ErrException, and
// never writes dst then. It does not allocate on success.
func DecodeResponse(adu []byte, slave, fn byte, count uint16, dst []uint16) error {
	if err := decode(adu, slave, fn, count, dst); err != nil {
		return fmt.Errorf("modbus: %w", err)
	}
	return nil
}

// decode is DecodeResponse with errors that do not name the package, for callers that add it.
func decode(adu []byte, slave, fn byte, count uint16, dst []uint16) error {
	if len(adu) < exceptionLen {
		return fmt.Errorf("short response of %d bytes: %w", len(adu), sensor.ErrFrame)
	}
	n := len(adu)
	if got, want := binary.LittleEndian.Uint16(adu[n-2:]), CRC(adu[:n-2]); got != want {
		return fmt.Errorf("response CRC %04X, computed %04X: %w", got, want, sensor.ErrCRC)
	}
	if adu[0] != slave {
		return fmt.Errorf("response from slave %d to a request to slave %d: %w: %w", adu[0], slave, sensor.ErrFrame, errOtherSlave)
	}
	if adu[1] == fn|0x80 {
		if n != exceptionLen {
			return fmt.Errorf("exception response of %d bytes, want 5: %w", n, sensor.ErrFrame)
		}
		return &ExceptionError{Function: fn, Code: adu[2]}
	}
	if adu[1] != fn {
		return fmt.Errorf("response with function %02X to function %02X: %w", adu[1], fn, sensor.ErrFrame)
	}
	want := dataLen(fn, count)
	if int(adu[2]) != want || n != 5+want {
		return fmt.Errorf("response with byte count %d in %d bytes, want %d in %d: %w", adu[2], n, want, 5+want, sensor.ErrFrame)
	}
	if len(dst) < int(count) {
		return fmt.Errorf("%d items do not fit %d: %w", count, len(dst), sensor.ErrFrame)
	}
	data := adu[3 : 3+want]
	if isBits(fn) {
		// Application protocol spec 6.1: the LSB of the first data byte is the first item.
		for i := range int(count) {
			dst[i] = uint16(data[i/8]>>(i%8)) & 1
		}
		return nil
	}
	for i := range int(count) {
		dst[i] = binary.BigEndian.Uint16(data[2*i:])
	}
	return nil
}
