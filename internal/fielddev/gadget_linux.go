//go:build linux

package fielddev

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Gadget is a composite USB gadget made through configfs (Documentation/usb/gadget_configfs.rst):
// ACM functions acm.gs<i> and one FunctionFS function ffs.<FFSName> in configuration c.1.
type Gadget struct {
	Dir     string // /sys/kernel/config/usb_gadget/<name>
	FFSName string
	ACM     int // number of ACM functions
}

// Create makes the gadget's directories and links, with the CP2112's ids so the host's
// hid_cp2112 binds to its HID interface (cdc_acm binds to the ACM interfaces by class). The device
// class is "miscellaneous, interface association" because the ACM functions come in IADs.
func (g *Gadget) Create() error {
	w := func(rel, v string) error {
		if err := os.WriteFile(filepath.Join(g.Dir, rel), []byte(v), 0o644); err != nil {
			return fmt.Errorf("fielddev: gadget: write %s: %w", rel, err)
		}
		return nil
	}
	mk := func(rel string) error {
		if err := os.MkdirAll(filepath.Join(g.Dir, rel), 0o755); err != nil {
			return fmt.Errorf("fielddev: gadget: mkdir %s: %w", rel, err)
		}
		return nil
	}
	steps := []func() error{
		func() error { return mk("") },
		func() error { return w("idVendor", fmt.Sprintf("%#04x", USBVendor)) },
		func() error { return w("idProduct", fmt.Sprintf("%#04x", USBProduct)) },
		func() error { return w("bcdDevice", "0x0100") },
		func() error { return w("bcdUSB", "0x0200") },
		func() error { return w("bDeviceClass", "0xEF") },
		func() error { return w("bDeviceSubClass", "0x02") },
		func() error { return w("bDeviceProtocol", "0x01") },
		func() error { return mk("strings/0x409") },
		func() error { return w("strings/0x409/manufacturer", "Silicon Labs") },
		func() error { return w("strings/0x409/product", "CP2112 HID USB-to-SMBus Bridge") },
		func() error { return w("strings/0x409/serialnumber", "WB000001") },
		func() error { return mk("configs/c.1/strings/0x409") },
		func() error { return w("configs/c.1/strings/0x409/configuration", "CP2112 and serial ports") },
		func() error { return w("configs/c.1/MaxPower", "100") },
	}
	var funcs []string
	for i := 0; i < g.ACM; i++ {
		funcs = append(funcs, fmt.Sprintf("acm.gs%d", i))
	}
	funcs = append(funcs, "ffs."+g.FFSName)
	for _, f := range funcs {
		steps = append(steps, func() error { return mk("functions/" + f) }, func() error {
			link := filepath.Join(g.Dir, "configs/c.1", f)
			if _, err := os.Lstat(link); err == nil {
				return nil
			}
			if err := os.Symlink(filepath.Join(g.Dir, "functions", f), link); err != nil {
				return fmt.Errorf("fielddev: gadget: link %s: %w", f, err)
			}
			return nil
		})
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// TTYs returns the gadget-side tty of each ACM function: /dev/ttyGS<port_num>.
func (g *Gadget) TTYs() ([]string, error) {
	var ttys []string
	for i := 0; i < g.ACM; i++ {
		b, err := os.ReadFile(filepath.Join(g.Dir, "functions", fmt.Sprintf("acm.gs%d", i), "port_num"))
		if err != nil {
			return nil, fmt.Errorf("fielddev: gadget: %w", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("fielddev: gadget: port_num %q: %w", b, err)
		}
		ttys = append(ttys, fmt.Sprintf("/dev/ttyGS%d", n))
	}
	return ttys, nil
}

// Bind attaches the gadget to the UDC called udc (dummy_hcd: dummy_udc.0), which makes the host
// side enumerate it.
func (g *Gadget) Bind(udc string) error {
	if err := os.WriteFile(filepath.Join(g.Dir, "UDC"), []byte(udc), 0o644); err != nil {
		return fmt.Errorf("fielddev: gadget: bind to %s: %w", udc, err)
	}
	return nil
}
