// Package sht4x drives the Sensirion SHT4x family (SHT40, SHT41, SHT45) humidity and temperature
// sensors over I²C.
//
// # Datasheets
//
// SHT4x: https://sensirion.com/media/documents/33FD6951/662A593A/HT_DS_Datasheet_SHT4x.pdf
//
// Quirks worth knowing:
//
//   - The part has no registers: every action is a one-byte command (datasheet section 4.5, table
//     "overview of I²C commands"), and a measurement is read back as 6 bytes, two 16-bit words each
//     followed by a CRC-8 (section 4.4).
//   - The CRC is CRC-8 with polynomial 0x31, initial value 0xFF, no reflection and no final XOR;
//     Sensirion's worked example is CRC(0xBEEF) = 0x92 (section 4.4, CRC table).
//   - While a measurement runs the part NACKs its address (section 4.3): the driver waits the
//     datasheet maximum (8.3 ms for high repeatability, section 3.2 timing table), then retries a
//     NACKed read a few times before reporting a timeout.
//   - The humidity formula can give values slightly below 0 or above 100 %RH; the datasheet asks to
//     crop them to 0..100 %RH (section 4.6, conversion of the signal output).
//   - The address is fixed per variant: 0x44 (SHT4x-A), 0x45 (SHT4x-B), 0x46 (SHT4x-C).
//   - The heater commands are not used: a roadside enclosure needs no condensation burn-off from the
//     gateway, and the heater must not run more than 10 % of the time (section 4.9).
//
// # Options
//
// sensors[].options, defaults in DefaultOptions:
//
//	repeatability: high   # high (0xFD, 8.3 ms), medium (0xF6, 4.5 ms), low (0xE0, 1.6 ms)
//	heater: "off"         # off only: the heater is never run
//	stuck_after: 20       # identical raw readings in a row that are ErrStuck; 0 = off
//
// Channels: temperature (Cel), humidity (%RH), one measurement taken during Sample.
package sht4x
