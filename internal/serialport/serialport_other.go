//go:build !linux

package serialport

import (
	"fmt"
	"os"
)

// Open is only implemented on Linux, where the boards run.
func Open(dev string, c Config) (*os.File, error) {
	return nil, fmt.Errorf("UARTs are only supported on Linux; configure %s with `stty -F %s %d raw -echo` there", dev, dev, c.Baud)
}

// Configure is only implemented on Linux.
func Configure(f *os.File, c Config) error { return fmt.Errorf("serialport: termios only on Linux") }

// Get is only implemented on Linux.
func Get(f *os.File) (Config, error) {
	return Config{}, fmt.Errorf("serialport: termios only on Linux")
}

// OpenPTY is only implemented on Linux.
func OpenPTY() (master, tty *os.File, err error) {
	return nil, nil, fmt.Errorf("serialport: pseudo-terminals only on Linux")
}
