//go:build linux

package fielddev

import (
	"fmt"
	"go.uber.org/zap"
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/nmea"
	"github.com/wayside-iot/wayside/drivers/ops243/ops243emu"
	"github.com/wayside-iot/wayside/drivers/pms5003/pms5003emu"
)

// OpenRaw opens a tty in raw mode (cfmakeraw, termios(3)). The gadget side of u_serial starts with
// tty_std_termios, whose OPOST/ONLCR would turn 0x0A in a binary frame into 0x0D 0x0A and whose
// ECHO would send the driver's commands back to it.
func OpenRaw(dev string) (*os.File, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("fielddev: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fielddev: %s: %w", dev, err)
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		var t syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
			ioErr = fmt.Errorf("TCGETS: %w", e)
			return
		}
		t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
		t.Oflag &^= syscall.OPOST
		t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		t.Cflag &^= syscall.CSIZE | syscall.PARENB
		t.Cflag |= syscall.CS8 | syscall.CREAD | syscall.CLOCAL
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
		return nil, fmt.Errorf("fielddev: %s raw mode: %w", dev, err)
	}
	return f, nil
}

// FeedPMS5003 makes the tty at dev a PMS5003: a frame every period with slowly changing
// concentrations, and the driver's commands (sleep, wake, passive mode) obeyed by pms5003emu.
func FeedPMS5003(dev string, period time.Duration, log *zap.SugaredLogger) error {
	tty, err := OpenRaw(dev)
	if err != nil {
		return err
	}
	port := pms5003emu.NewPort()
	go func() {
		_, err := io.Copy(tty, port)
		log.Warnw("pms5003: tty write ended", "tty", dev, "err", err)
	}()
	go func() {
		_, err := io.Copy(port, tty)
		log.Warnw("pms5003: tty read ended", "tty", dev, "err", err)
	}()
	go func() {
		for i := 0; ; i++ {
			w := uint16(i % 20)
			port.Set(pms5003emu.Atmospheric(5+w, 12+w, 20+2*w))
			time.Sleep(period)
		}
	}()
	log.Infow("pms5003 on tty", "tty", dev, "period", period)
	return nil
}

// Pulses drives GPIO line of c: low for on, then high for off, forever (the pulse driver's
// presence mode counts active-low pulses with a pull-up, as a loop detector's open-collector output
// gives). hid_cp2112 polls the levels every 10 jiffies (cp2112_gpio_poll_callback), so on and off
// must be far longer than that.
func Pulses(c *CP2112, line int, on, off time.Duration, log *zap.SugaredLogger) {
	log.Infow("gpio pulses", "line", line, "on", on, "off", off)
	for n := 1; ; n++ {
		c.SetInput(line, false)
		time.Sleep(on)
		c.SetInput(line, true)
		time.Sleep(off)
		if n%60 == 0 {
			log.Infow("gpio pulses sent", "line", line, "pulses", n)
		}
	}
}

// FeedOPS243 makes the tty at dev an OPS243-A radar: ops243emu answers the driver's configuration
// commands, and a vehicle at speed m/s passes through the beam every period.
func FeedOPS243(dev string, speed float64, period time.Duration, log *zap.SugaredLogger) error {
	tty, err := OpenRaw(dev)
	if err != nil {
		return err
	}
	radar := ops243emu.New()
	go func() {
		_, err := io.Copy(tty, radar)
		log.Warnw("ops243: tty write ended", "tty", dev, "err", err)
	}()
	go func() {
		_, err := io.Copy(radar, tty)
		log.Warnw("ops243: tty read ended", "tty", dev, "err", err)
	}()
	go func() {
		for {
			time.Sleep(period)
			radar.Target(speed, time.Second)
		}
	}()
	log.Infow("ops243 on tty", "tty", dev, "speed", speed, "period", period)
	return nil
}

// FeedNMEA makes the tty at dev a GPS receiver: a GGA sentence (nmea.AppendGGA) every second with
// a fix at lat, lon.
func FeedNMEA(dev string, lat, lon float64, log *zap.SugaredLogger) error {
	tty, err := OpenRaw(dev)
	if err != nil {
		return err
	}
	go io.Copy(io.Discard, tty) // a receiver ignores what it is sent
	go func() {
		var buf []byte
		for {
			now := time.Now().UTC()
			day := now.Sub(now.Truncate(24 * time.Hour))
			f := nmea.Fix{Lat: lat, Lon: lon, Altitude: 35 * physic.Metre, Quality: 1, Satellites: 9, HDOP: 0.9, TimeOfDay: day}
			buf = nmea.AppendGGA(buf[:0], &f)
			if _, err := tty.Write(buf); err != nil {
				log.Warnw("nmea: tty write", "tty", dev, "err", err)
				return
			}
			time.Sleep(time.Second)
		}
	}()
	log.Infow("nmea on tty", "tty", dev, "lat", lat, "lon", lon)
	return nil
}
