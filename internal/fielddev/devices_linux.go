//go:build linux

package fielddev

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// I2CAdapter returns the /dev/i2c-N of the adapter whose name starts with prefix (hid-cp2112.c
// names its adapter "CP2112 SMBus Bridge on hidraw%d"), "" when there is none yet.
func I2CAdapter(prefix string) string {
	names, _ := filepath.Glob("/sys/bus/i2c/devices/i2c-*/name")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil && strings.HasPrefix(string(b), prefix) {
			dev := "/dev/" + filepath.Base(filepath.Dir(n))
			if _, err := os.Stat(dev); err == nil {
				return dev
			}
		}
	}
	return ""
}

// gpioGetChipInfo is GPIO_GET_CHIPINFO_IOCTL, _IOR(0xB4, 0x01, struct gpiochip_info) with
// struct gpiochip_info { char name[32]; char label[32]; __u32 lines; } (include/uapi/linux/gpio.h).
const gpioGetChipInfo = 0x8044B401

// GPIOChip returns the /dev/gpiochipN labelled label (hid-cp2112.c: "cp2112_gpio") and its line
// count, "" when there is none yet.
func GPIOChip(label string) (string, int) {
	chips, _ := filepath.Glob("/dev/gpiochip*")
	for _, c := range chips {
		fd, err := syscall.Open(c, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var info [68]byte
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), gpioGetChipInfo, uintptr(unsafe.Pointer(&info[0])))
		syscall.Close(fd)
		if e != 0 {
			continue
		}
		if string(bytes.TrimRight(info[32:64], "\x00")) == label {
			lines := int(info[64]) | int(info[65])<<8 | int(info[66])<<16 | int(info[67])<<24
			return c, lines
		}
	}
	return "", 0
}
