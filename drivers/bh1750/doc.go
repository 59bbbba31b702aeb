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
//   - The count saturates at 0xFFFF (about 54612 lx in H-resolution mode): direct summer sun
//     exceeds it and is reported as ErrRange.
package bh1750
