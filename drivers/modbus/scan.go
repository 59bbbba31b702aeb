package modbus

import (
	"errors"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Answer is a slave address that answered a scan.
type Answer struct {
	Slave int
	// Note says how it answered when not with data: "exception 02 (illegal data address) ...", "CRC
	// error": something is there, but the read was refused or garbled.
	Note string
}

// Scan asks each slave address from first to last for holding register 0 and lists those that
// answer, with data, an exception (the device is there but has no such register) or a garbled
// frame. Each silent address costs timeout; the bus is free between addresses, so the line's
// sensors keep being sampled during a scan. stop, when not nil, ends the scan early.
func (b *Bus) Scan(first, last int, timeout time.Duration, stop <-chan struct{}) []Answer {
	var out []Answer
	var reg [1]uint16
	for id := max(first, 1); id <= min(last, 247); id++ {
		select {
		case <-stop:
			return out
		default:
		}
		err := b.Read(byte(id), FuncReadHolding, 0, 1, reg[:], timeout)
		switch {
		case err == nil:
			out = append(out, Answer{Slave: id})
		case errors.Is(err, sensor.ErrTimeout), errors.Is(err, errOtherSlave):
			// Silent, or a late answer of an earlier address that timed out.
		default:
			out = append(out, Answer{Slave: id, Note: err.Error()})
		}
	}
	return out
}

// ScanLine implements sensor.LineScanner: a Scan of the slave's bus.
func (d *Dev) ScanLine(first, last int, timeout time.Duration, stop <-chan struct{}) []sensor.LineAnswer {
	var out []sensor.LineAnswer
	for _, a := range d.bus.Scan(first, last, timeout, stop) {
		out = append(out, sensor.LineAnswer{Address: a.Slave, Note: a.Note})
	}
	return out
}

var _ sensor.LineScanner = (*Dev)(nil)
