package serialport

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Termios bits the syscall package leaves out (Linux asm-generic/termbits.h, the same on arm, arm64
// and amd64).
const (
	cbaud   = 0o010017
	crtscts = 0o20000000000
)

var speeds = map[int]uint32{1200: syscall.B1200, 2400: syscall.B2400, 4800: syscall.B4800, 9600: syscall.B9600,
	19200: syscall.B19200, 38400: syscall.B38400, 57600: syscall.B57600, 115200: syscall.B115200}

// Open opens the UART at dev and sets it to raw mode with c, what `stty -F dev <baud> raw -echo
// -crtscts cs8 [-]parenb [-]parodd [-]cstopb clocal` does. The file stays in non-blocking mode, so
// the drivers' read deadlines work.
func Open(dev string, c Config) (*os.File, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if err := Configure(f, c); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Configure sets the tty f to raw mode with c.
func Configure(f *os.File, c Config) error {
	if err := c.Check(); err != nil {
		return err
	}
	c = c.Normal()
	speed := speeds[c.Baud]
	raw, err := f.SyscallConn() // not f.Fd(): that would put the file in blocking mode
	if err != nil {
		return err
	}
	var ioErr error
	err = raw.Control(func(fd uintptr) {
		var t syscall.Termios
		if err := ioctl(fd, syscall.TCGETS, unsafe.Pointer(&t)); err != nil {
			ioErr = fmt.Errorf("TCGETS: %w (not a serial port?)", err)
			return
		}
		// cfmakeraw (termios(3)), then the character size, parity, stop bits and speed.
		t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
		t.Oflag &^= syscall.OPOST
		t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		t.Cflag &^= syscall.CSIZE | syscall.PARENB | syscall.PARODD | syscall.CSTOPB | crtscts | cbaud
		t.Cflag |= syscall.CS8 | syscall.CREAD | syscall.CLOCAL | speed
		switch c.Parity {
		case Even:
			t.Cflag |= syscall.PARENB
		case Odd:
			t.Cflag |= syscall.PARENB | syscall.PARODD
		}
		if c.StopBits == 2 {
			t.Cflag |= syscall.CSTOPB
		}
		t.Ispeed, t.Ospeed = speed, speed
		t.Cc[syscall.VMIN], t.Cc[syscall.VTIME] = 1, 0
		if err := ioctl(fd, syscall.TCSETS, unsafe.Pointer(&t)); err != nil {
			ioErr = fmt.Errorf("TCSETS: %w", err)
		}
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		return fmt.Errorf("set %s raw mode: %w", c, err)
	}
	return nil
}

// Get reads the termios of tty f back as a Config, for tests that check what Configure set.
func Get(f *os.File) (Config, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return Config{}, err
	}
	var t syscall.Termios
	var ioErr error
	if err := raw.Control(func(fd uintptr) { ioErr = ioctl(fd, syscall.TCGETS, unsafe.Pointer(&t)) }); err != nil {
		return Config{}, err
	}
	if ioErr != nil {
		return Config{}, fmt.Errorf("TCGETS: %w", ioErr)
	}
	c := Config{Parity: None, StopBits: 1}
	for b, s := range speeds {
		if t.Cflag&cbaud == s {
			c.Baud = b
		}
	}
	if t.Cflag&syscall.PARENB != 0 {
		c.Parity = Even
		if t.Cflag&syscall.PARODD != 0 {
			c.Parity = Odd
		}
	}
	if t.Cflag&syscall.CSTOPB != 0 {
		c.StopBits = 2
	}
	return c, nil
}

// OpenPTY opens a pseudo-terminal pair (pty(7)): what is written to one end is read from the other.
// The second end is a tty like a UART's, so Configure works on it; the first (the master) stands for
// the device at the far end of the wire.
func OpenPTY() (master, tty *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	raw, err := master.SyscallConn()
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	var n uint32
	var ioErr error
	err = raw.Control(func(fd uintptr) {
		var unlock int32
		if ioErr = ioctl(fd, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); ioErr != nil {
			return
		}
		ioErr = ioctl(fd, syscall.TIOCGPTN, unsafe.Pointer(&n))
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, tty, nil
}

func ioctl(fd, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
