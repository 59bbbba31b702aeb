// Package bh1750 drives the ROHM BH1750FVI ambient light sensor over I²C.
//
// Every Sample powers the part on, starts a one-time measurement, waits the datasheet's maximum
// measurement time and reads the 16 bit result. After a one-time measurement the part powers
// itself down (datasheet, "instruction set architecture").
//
// # Datasheets
//
// BH1750FVI: https://www.mouser.com/datasheet/2/348/bh1750fvi-e-186247.pdf
//
// Quirks worth knowing:
//
//   - Two addresses: 0x23 with ADDR low, 0x5C with ADDR high ("I²C bus slave address").
//   - No registers and no id: the part takes one-byte opcodes (instruction set architecture table):
//     0x01 power on, 0x07 reset (only accepted while powered on), 0x20 one-time H-resolution mode,
//     0x21 one-time H-resolution mode 2, 0x23 one-time L-resolution mode. New can only check that
//     something ACKs at the address.
//   - Measurement time: H-resolution 120 ms typical, 180 ms maximum; L-resolution 16 ms typical,
//     24 ms maximum (electrical characteristics). The part does not signal the end of a
//     measurement, so the driver always waits the maximum.
//   - lux = count / 1.2 with the default measurement time register; in H-resolution mode 2 one
//     count is half as much ("measurement sequence example": 0x8390 = 33680 counts = 28067 lx).
//   - The count saturates at 0xFFFF (about 54612 lx in H-resolution mode at MTreg 69): direct
//     summer sun (about 100,000 lx) exceeds it and is reported as ErrRange. A smaller measurement
//     time register lowers the sensitivity ("adjust measurement result for influence of optical
//     window": MTreg 31..254, counts scale with MTreg/69): at 31 the scale reaches
//     65535 / 1.2 * 69 / 31 = 121,557 lx, at 1.85 lx per count.
//
// # Options
//
// sensors[].options, defaults in DefaultOptions:
//
//	mode: h           # h (1 lx at mt 69, opcode 0x20), h2 (0.5 lx, 0x21), l (4 lx, 0x23)
//	mt: 69            # measurement time register 31..254 (h and h2 only; l keeps 69)
//	range: ""         # sunlight = mode h, mt 31: up to 121,557 lx; leave mode and mt out with it
//	stuck_after: 0    # identical counts in a row that are ErrStuck; 0 = off (night is all zeros)
//
// lux = count / 1.2 * 69 / mt, and / 2 more in mode h2. The driver waits the maximum measurement
// time: 180 ms * mt / 69 in modes h and h2 (81 ms at 31, 663 ms at 254), 24 ms in mode l.
//
// Channel: illuminance (lx), one measurement taken during Sample.
package bh1750
