//go:build linux

// Command fielddev makes the field bench's devices inside the bench VM, as root: a composite USB
// gadget on dummy_hcd with CDC-ACM serial ports fed by pms5003emu, and a CP2112 HID-to-SMBus/GPIO
// bridge on FunctionFS whose I2C side the bme280 and sht4x emulators answer and whose GPIO line 0
// carries pulses. When the kernel's drivers have made /dev/ttyACM*, the CP2112's /dev/i2c-N and its
// gpiochip, it writes their names to -ready. It runs until killed.
package main

import (
	"flag"
	"fmt"
	"go.uber.org/zap"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/bme280/bme280emu"
	"github.com/wayside-iot/wayside/drivers/sht4x/sht4xemu"
	"github.com/wayside-iot/wayside/internal/fielddev"
)

// noPreempt is the GODEBUG fielddev runs with. FunctionFS waits for each control and endpoint
// transfer interruptibly (f_fs.c __ffs_ep0_queue_wait, ffs_epfile_io): the signals the Go runtime
// sends to preempt goroutines (SIGURG) make those waits return EINTR and cancel the transfer, which
// the host sees as a failed request and FunctionFS as a halted ep0.
const noPreempt = "asyncpreemptoff=1"

func main() {
	if !strings.Contains(os.Getenv("GODEBUG"), noPreempt) {
		exe, err := os.Executable()
		if err == nil {
			env := append(os.Environ(), "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+","+noPreempt, ","))
			err = syscall.Exec(exe, os.Args, env)
		}
		fmt.Fprintf(os.Stderr, "fielddev: re-exec with GODEBUG=%s: %v\n", noPreempt, err)
		os.Exit(1)
	}
	acm := flag.Int("acm", 1, "CDC-ACM serial ports: a PMS5003, an OPS243 radar, a GPS, then idle ones")
	udc := flag.String("udc", "dummy_udc.0", "USB device controller to bind the gadget to")
	gadget := flag.String("gadget", "/sys/kernel/config/usb_gadget/wayside-field", "configfs gadget directory")
	ffsDir := flag.String("ffs", "/dev/ffs-cp2112", "where to mount the CP2112's FunctionFS")
	ready := flag.String("ready", "/run/fielddev/devices", "file listing the device nodes once the kernel made them")
	on := flag.Duration("pulse-on", 300*time.Millisecond, "GPIO line 0 pulse: time low")
	off := flag.Duration("pulse-off", 700*time.Millisecond, "GPIO line 0 pulse: time high between pulses")
	flag.Parse()
	zl, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fielddev:", err)
		os.Exit(1)
	}
	log := zl.Sugar()
	if err := run(log, *acm, *udc, *gadget, *ffsDir, *ready, *on, *off); err != nil {
		log.Errorw("fielddev failed", "err", err)
		os.Exit(1)
	}
}

func run(log *zap.SugaredLogger, acm int, udc, gadgetDir, ffsDir, ready string, on, off time.Duration) error {
	// The gadget side (dummy_hcd, configfs, the functions) and the host side's drivers; udev
	// would load the host drivers on enumeration, loading them first makes that independent of it.
	for _, m := range []string{"dummy_hcd", "libcomposite", "usb_f_acm", "usb_f_fs", "cdc_acm", "usbhid", "hid_cp2112", "i2c_dev"} {
		if out, err := exec.Command("modprobe", m).CombinedOutput(); err != nil {
			return fmt.Errorf("modprobe %s: %v: %s", m, err, strings.TrimSpace(string(out)))
		}
	}
	log.Infow("modules loaded")
	if _, err := os.Stat(filepath.Dir(gadgetDir)); err != nil {
		// systemd mounts configfs at boot (sys-kernel-config.mount); a bare system may not have.
		if err := syscall.Mount("configfs", "/sys/kernel/config", "configfs", 0, ""); err != nil {
			return fmt.Errorf("mount configfs: %w", err)
		}
	}

	c := fielddev.NewCP2112()
	bme, sht := bme280emu.New(0x76, true), sht4xemu.New(0x44, 0x1234abcd)
	c.Attach(0x76, bme)
	c.Attach(0x44, sht)
	// A room whose air drifts a little: the drivers flag raw values that never change as stuck.
	go func() {
		start := time.Now()
		for {
			x := math.Sin(time.Since(start).Seconds() / 20)
			env := physic.Env{
				Temperature: physic.ZeroCelsius + physic.Temperature((20+0.5*x)*float64(physic.Celsius)),
				Humidity:    physic.RelativeHumidity((50 + 2*x) * float64(physic.PercentRH)),
				Pressure:    physic.Pressure((101325 + 40*x) * float64(physic.Pascal)),
			}
			bme.Set(env)
			sht.Set(env)
			time.Sleep(500 * time.Millisecond)
		}
	}()

	g := &fielddev.Gadget{Dir: gadgetDir, FFSName: "cp2112", ACM: acm}
	if err := g.Create(); err != nil {
		return err
	}
	ffs, err := fielddev.OpenFFS("cp2112", ffsDir, c, log)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- ffs.Serve() }()
	if err := g.Bind(udc); err != nil {
		return err
	}
	log.Infow("gadget bound", "udc", udc, "acm", acm, "vid", fmt.Sprintf("%04x", fielddev.USBVendor), "pid", fmt.Sprintf("%04x", fielddev.USBProduct))

	ttys, err := g.TTYs()
	if err != nil {
		return err
	}
	// The ports in order: a PMS5003, an OPS243 radar (a vehicle at 12 m/s every 5 s), a GPS.
	feeds := []func(string) error{
		func(tty string) error { return fielddev.FeedPMS5003(tty, time.Second, log) },
		func(tty string) error { return fielddev.FeedOPS243(tty, 12, 5*time.Second, log) },
		func(tty string) error { return fielddev.FeedNMEA(tty, 52.5163, 13.3777, log) },
	}
	for i, tty := range ttys {
		if i < len(feeds) {
			if err := feeds[i](tty); err != nil {
				return err
			}
		}
	}
	go fielddev.Pulses(c, 0, on, off, log)

	go func() {
		devs, err := waitDevices(acm, 60*time.Second)
		if err != nil {
			log.Errorw("devices", "err", err)
			return
		}
		log.Infow("devices present", "devices", strings.Join(devs, " "))
		if err := os.MkdirAll(filepath.Dir(ready), 0o755); err == nil {
			os.WriteFile(ready, []byte(strings.Join(devs, "\n")+"\n"), 0o644)
		}
	}()

	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			s := c.Snapshot()
			log.Infow("cp2112", "transfers", s.Transfers, "nacks", s.NACKs, "reads", s.Reads, "features", s.Features, "gpio_reads", s.GPIOReads)
		}
	}
}

// waitDevices waits until the host side's drivers made every device node.
func waitDevices(acm int, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var devs, missing []string
		for i := 0; i < acm; i++ {
			tty := fmt.Sprintf("/dev/ttyACM%d", i)
			if _, err := os.Stat(tty); err == nil {
				devs = append(devs, tty)
			} else {
				missing = append(missing, tty)
			}
		}
		if i2c := fielddev.I2CAdapter("CP2112 SMBus Bridge"); i2c != "" {
			devs = append(devs, i2c)
		} else {
			missing = append(missing, "CP2112 i2c adapter")
		}
		if chip, n := fielddev.GPIOChip("cp2112_gpio"); chip != "" {
			devs = append(devs, fmt.Sprintf("%s (cp2112_gpio, %d lines)", chip, n))
		} else {
			missing = append(missing, "cp2112_gpio gpiochip")
		}
		if len(missing) == 0 {
			return devs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("after %s still missing: %s", timeout, strings.Join(missing, ", "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
