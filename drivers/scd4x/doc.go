// Package scd4x drives the Sensirion SCD40 and SCD41 photoacoustic CO₂ sensors (with on-board
// temperature and humidity) over I²C.
//
// The driver runs the part in periodic measurement mode (one measurement every 5 s, or every 30 s
// in low power mode) and reads the latest result when get_data_ready_status says there is one. A
// Sample with no new result returns sensor.ErrNoData; a part that has produced nothing for
// Opts.DataTimeout returns sensor.ErrTimeout, and the driver sends the start command again (at most
// once per timeout): a part that reset comes back idle. New wakes the part first (an SCD41 left in
// power-down answers nothing else). A 0 ppm result is skipped as an invalid sample, as Sensirion's
// drivers do, and does not count as data. Temperatures outside the specified -10..60 °C are reported
// (less accurate); outside the -40..70 °C storage range they are sensor.ErrRange.
//
// # Datasheets
//
// SCD4x: https://sensirion.com/media/documents/48C4B7FB/64C134E7/Sensirion_SCD4x_Datasheet.pdf
//
// Quirks worth knowing:
//
//   - Commands are 16 bit, sent MSB first; replies are 16 bit words each followed by a CRC-8
//     (polynomial 0x31, init 0xFF, the same as the SHT4x; worked example CRC(0xBEEF) = 0x92)
//     (datasheet section 3.11 "checksum calculation").
//   - While periodic measurement runs, the part only accepts read_measurement, get_data_ready_status,
//     stop_periodic_measurement and a few setters (section 3.5); get_serial_number is therefore
//     read after stopping any measurement a previous run left going.
//   - stop_periodic_measurement takes 500 ms before the part answers again (command table).
//   - get_data_ready_status: "if the least significant 11 bits of word[0] are 0, data is not ready"
//     (section 3.8.2); the other bits are undefined.
//   - read_measurement returns CO₂ in ppm, then T = -45 + 175 * word / (2^16 - 1) °C, then
//     RH = 100 * word / (2^16 - 1) %RH (section 3.5.2).
//   - The 5 s period drifts with the part's own clock; sampling the gateway at the same nominal
//     period gives an ErrNoData now and then, which is not a fault.
package scd4x
