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
// # Options
//
// sensors[].options, defaults in DefaultOptions:
//
//	low_power: false           # 30 s low power periodic mode instead of 5 s
//	data_timeout: 0s           # no measurement this long is ErrTimeout; 0 = 3 periods (15 s / 90 s)
//	stuck_after: 20            # identical raw measurements in a row that are ErrStuck; 0 = off
//	altitude: 0                # m above sea level, 0..3000 (set_sensor_altitude, section 3.6.3)
//	pressure_from: ""          # "<sensor>/<channel>" whose Pa the gateway feeds to SetAmbientPressure
//	asc: true                  # automatic self-calibration (section 3.7.2); needs fresh air weekly
//	temperature_offset: 4      # °C, 0..20, subtracted by the part (section 3.6.1)
//
// The idle-mode settings (altitude, temperature offset, ASC) are written at every start: stop
// periodic measurement, wait 500 ms, set each (1 ms), start. They are not persisted (persist_settings
// would write the EEPROM, rated for 2000 cycles, on every start; the driver writes RAM each time
// instead), so a part that resets comes back with its EEPROM values: the driver's restart after a
// data timeout writes ours again. Encodings: altitude in m; offset word = °C * 2^16 / 175 (5.4 °C is
// 0x07E6); ASC 1 or 0; ambient pressure in hPa (98700 Pa is 0x03DB).
//
// Live pressure: SetAmbientPressure(pa) may be called from any goroutine (it stores the value
// atomically and touches no bus); the next Sample sends set_ambient_pressure, accepted during
// periodic measurement (section 3.6.5), before it polls for data, when the hPa value changed or the
// part was restarted. Once sent it overrides the altitude. Until the first value arrives the altitude
// compensates, so altitude is worth setting together with pressure_from.
//
// Channels: co2 (ppm), temperature (Cel), humidity (%RH), the part's latest measurement.
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
