// Package fielddev owns the field bench's devices: inside the bench VM it makes device nodes that
// real kernel drivers create, fed by the project's emulators, so the daemon reaches its sensors the
// way it does on a cabinet's computer.
//
//   - One composite USB gadget on dummy_hcd (configfs, libcomposite) carries CDC-ACM functions and a
//     FunctionFS function. The host side binds cdc_acm to the ACM functions (/dev/ttyACM<N>, a real
//     tty driver with termios) and hid_cp2112 to the FunctionFS one, which this package answers as a
//     Silicon Labs CP2112 HID-to-SMBus/GPIO bridge: the kernel then registers an I2C adapter
//     (/dev/i2c-<N> through i2c_dev, I2C_RDWR supported) and a gpiochip labelled cp2112_gpio whose
//     line interrupts it polls.
//   - The CP2112's I2C transfers are answered by the driver packages' emulators (bme280emu,
//     sht4xemu) in a room whose air drifts a little; its GPIO line 0 carries pulses; the ACM ports are
//     served through /dev/ttyGS<N> by pms5003emu, ops243emu (both also obey the driver's commands)
//     and a GPS writing nmea.AppendGGA sentences.
//
// FunctionFS waits for each transfer interruptibly, so the program serving it runs with
// GODEBUG=asyncpreemptoff=1 (cmd/fielddev re-executes itself with it): the runtime's preemption
// signals would otherwise cancel transfers.
//
// CP2112 is the bridge's protocol, independent of how reports travel, and is unit-tested on any
// host. The report formats follow the kernel's drivers/hid/hid-cp2112.c (Linux 6.1), which is the
// only peer this emulation has to satisfy, and Silicon Labs AN495 where the driver is silent.
//
// Nothing here is linked into the daemon: the daemon sees a CP2112 and CDC-ACM adapters, as on a
// generic Linux machine with a USB bridge (board profile usb-bridge).
package fielddev
