package boards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdapterDevice finds a USB bridge's I2C adapter by name among the machine's own, in a sysfs
// laid out as the kernel does: i2c-N directories with a name file, client devices (0-0076) without.
func TestAdapterDevice(t *testing.T) {
	sys := t.TempDir()
	adapters := map[string]string{
		"i2c-0": "i915 gmbus dpc\n",
		"i2c-3": "CP2112 SMBus Bridge on hidraw0\n",
		"i2c-7": "CP2112 SMBus Bridge on hidraw2\n",
		"i2c-1": "Synopsys DesignWare I2C adapter\n",
	}
	for dir, name := range adapters {
		os.MkdirAll(filepath.Join(sys, dir), 0o755)
		os.WriteFile(filepath.Join(sys, dir, "name"), []byte(name), 0o644)
	}
	os.MkdirAll(filepath.Join(sys, "3-0076"), 0o755)
	cases := map[string]string{
		"CP2112 SMBus Bridge": "/dev/i2c-3", // two bridges: the lowest number
		"Synopsys":            "/dev/i2c-1",
		"CH341":               "",
	}
	for prefix, want := range cases {
		got, err := adapterDevice(sys, prefix)
		if err != nil || got != want {
			t.Errorf("adapterDevice(%q) = %q, %v; want %q", prefix, got, err, want)
		}
	}
}

type fakeChip struct {
	name, label string
	lines       int
}

func (c fakeChip) Name() string   { return c.name }
func (c fakeChip) Label() string  { return c.label }
func (c fakeChip) LineCount() int { return c.lines }

// TestFindChip resolves a profile's chip by device name or by label: a QEMU virt machine has its
// pl061 as gpiochip0, a CP2112 plugged in later becomes gpiochip1 (or any other number).
func TestFindChip(t *testing.T) {
	chips := []gpioChip{fakeChip{"gpiochip0", "9030000.pl061", 8}, fakeChip{"gpiochip1", "cp2112_gpio", 8},
		fakeChip{"gpiochip2", "gpiochip0", 4}}
	cases := []struct {
		chip   string
		offset int
		want   int
	}{
		{"cp2112_gpio", 0, 1},
		{"cp2112_gpio", 7, 1},
		{"cp2112_gpio", 8, -1}, // the CP2112 has 8 lines
		{"gpiochip0", 3, 0},    // a device name wins over another chip's label
		{"gpiochip1", 2, 1},
		{"pinctrl-rp1", 0, -1},
	}
	for _, c := range cases {
		if got := findChip(chips, c.chip, c.offset); got != c.want {
			t.Errorf("findChip(%q, %d) = %d, want %d", c.chip, c.offset, got, c.want)
		}
	}
}

// TestUSBBridgeMissing: on a machine without the bridge the errors say what to plug in.
func TestUSBBridgeMissing(t *testing.T) {
	old := sysI2C
	sysI2C = t.TempDir()
	defer func() { sysI2C = old }()
	b, err := Open("usb-bridge", 0)
	if err != nil {
		t.Skipf("periph host drivers: %v", err)
	}
	defer b.Close()
	_, err = b.OpenSensor(SensorSpec{Name: "env1", Driver: "bme280", Bus: "i2c1", Address: 0x76})
	if err == nil || !strings.Contains(err.Error(), `I2C adapter "CP2112 SMBus Bridge"`) || !strings.Contains(err.Error(), "lsusb lists 10c4:ea90") {
		t.Errorf("bme280 on a missing bridge: %v", err)
	}
	_, err = b.OpenSensor(SensorSpec{Name: "loop1", Driver: "pulse", Bus: "cp2112_gpio", Pin: "GPIO17"})
	if err == nil || !strings.Contains(err.Error(), "labelled cp2112_gpio") {
		t.Errorf("pulse on a missing bridge: %v", err)
	}
}
