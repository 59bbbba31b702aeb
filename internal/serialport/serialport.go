// Package serialport opens a UART as an *os.File in raw mode with the line settings a driver needs
// (speed, parity, stop bits; always 8 data bits, no flow control), and opens pseudo-terminal pairs
// so tests can run a driver over a real tty with real termios. The boards open their UARTs through
// it; drivers never do (they take the opened port).
//
// Only Linux is implemented, where the boards run; elsewhere Open and OpenPTY return an error.
package serialport

import (
	"fmt"
	"strings"
)

// Parity of a serial line.
type Parity string

// Parities, as configurations write them.
const (
	None Parity = "none"
	Even Parity = "even"
	Odd  Parity = "odd"
)

// Config is a UART's line settings. The zero Parity is None, the zero StopBits is 1.
type Config struct {
	Baud     int
	Parity   Parity
	StopBits int
}

// Bauds lists the line speeds Open supports.
var Bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Normal returns c with its zero values replaced by the defaults (no parity, one stop bit).
func (c Config) Normal() Config {
	if c.Parity == "" {
		c.Parity = None
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	return c
}

// String writes c the way serial terminals do: "9600 8E1".
func (c Config) String() string {
	c = c.Normal()
	p := "N"
	if c.Parity != None {
		p = strings.ToUpper(string(c.Parity[:1]))
	}
	return fmt.Sprintf("%d 8%s%d", c.Baud, p, c.StopBits)
}

// Check reports what is wrong with c, nil when Open can set it.
func (c Config) Check() error {
	c = c.Normal()
	ok := false
	for _, b := range Bauds {
		ok = ok || b == c.Baud
	}
	if !ok {
		return fmt.Errorf("baud rate %d is not supported; use one of %v", c.Baud, Bauds)
	}
	switch c.Parity {
	case None, Even, Odd:
	default:
		return fmt.Errorf("parity %q is not valid; use none, even or odd", c.Parity)
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		return fmt.Errorf("%d stop bits is not valid; use 1 or 2", c.StopBits)
	}
	return nil
}
