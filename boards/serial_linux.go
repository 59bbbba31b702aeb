package boards

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

var bauds = map[int]uint32{9600: syscall.B9600, 19200: syscall.B19200, 57600: syscall.B57600, 115200: syscall.B115200}

// openSerial opens the UART at dev and sets it to raw 8N1 at baud without flow control, what
// `stty -F dev <baud> raw -echo -crtscts cs8 -parenb -cstopb clocal` does. The file stays in
// non-blocking mode, so the drivers' read deadlines work.
func openSerial(dev string, baud int) (*os.File, error) {
	speed, ok := bauds[baud]
	if !ok {
		return nil, fmt.Errorf("baud rate %d is not supported; use 9600, 19200, 57600 or 115200", baud)
	}
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn() // not f.Fd(): that would put the file in blocking mode
	if err != nil {
		f.Close()
		return nil, err
	}
	var ioErr error
	err = raw.Control(func(fd uintptr) {
		var t syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
			ioErr = fmt.Errorf("TCGETS: %w (not a serial port?)", e)
			return
		}
		// cfmakeraw (termios(3)), then the character size, parity, stop bits and speed.
		t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
		t.Oflag &^= syscall.OPOST
		t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		t.Cflag &^= syscall.CSIZE | syscall.PARENB | syscall.CSTOPB | crtscts | cbaud
		t.Cflag |= syscall.CS8 | syscall.CREAD | syscall.CLOCAL | speed
		t.Ispeed, t.Ospeed = speed, speed
		t.Cc[syscall.VMIN], t.Cc[syscall.VTIME] = 1, 0
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&t))); e != 0 {
			ioErr = fmt.Errorf("TCSETS: %w", e)
		}
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("set %d baud raw mode: %w", baud, err)
	}
	return f, nil
}
