// Package bme280 drives the Bosch Sensortec BME280 (temperature, humidity, pressure) and its sibling
// BMP280 (temperature and pressure, no humidity) over I²C.
//
// The driver runs the part in forced mode: every Sample starts one measurement, waits the datasheet's
// maximum measurement time, checks the "measuring" status bit and reads the result burst. Forced mode
// keeps the part asleep between samples (about 0.1 µA), which suits a gateway sampling every few
// seconds, and keeps the self-heating of a roadside enclosure out of the temperature reading.
//
// # Datasheets
//
// BME280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
//
// BMP280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf
//
// Quirks worth knowing:
//
//   - Chip id (register 0xD0) is 0x60 for a BME280 and 0x58 for a production BMP280 (BME280 section
//     5.4.1, BMP280 section 4.3.1). Boards sold as "BME280" are often BMP280s: the id decides, and a
//     BMP280 reports no humidity channel.
//   - ctrl_hum (0xF2) only takes effect after a write to ctrl_meas (0xF4) (BME280 section 5.4.3), so
//     ctrl_hum is written first. The driver writes both in one transaction as register/value pairs,
//     which the I²C write protocol allows (BME280 section 6.2.1).
//   - config (0xF5) writes may be ignored in normal mode (BME280 section 5.4.6); the driver writes it
//     once, in sleep mode, right after the soft reset.
//   - A measurement that was skipped reads as 0x80000 (temperature, pressure) or 0x8000 (humidity)
//     (BME280 section 4.2.2 / 5.4.7..5.4.9); the driver reports that as a malformed frame.
//   - Calibration words are little endian while the measurement registers are big endian
//     (BME280 section 4.2.2, table 16 and section 5.4.7).
//   - H4 and H5 share register 0xE5: H4 = 0xE4<<4 | 0xE5[3:0], H5 = 0xE6<<4 | 0xE5[7:4], both signed
//     12 bit (BME280 table 16).
//   - Compensation uses the datasheet's integer formulas (BME280 section 4.2.3, BMP280 section 3.11.3):
//     32 bit for temperature and humidity, 64 bit for pressure.
//   - Each Sample waits t_measure,max of section 9.1 for the oversampling in use:
//     1.25 + 2.3*T + (2.3*P + 0.575) + (2.3*H + 0.575) ms, a term dropped when skipped (9.3 ms at 1x
//     everywhere, 112.8 ms at 16x everywhere), then polls the measuring bit.
//
// # Options
//
// sensors[].options, defaults in DefaultOptions (the "weather monitoring" profile, section 3.5.1):
//
//	oversampling:
//	  temperature: "1"   # 1, 2, 4, 8, 16 (cannot be skipped: the others are compensated with it)
//	  pressure: "1"      # skip, 1, 2, 4, 8, 16; skip drops the pressure channel
//	  humidity: "1"      # skip, 1, 2, 4, 8, 16; skip drops the humidity channel (ignored on a BMP280)
//	filter: "off"        # IIR coefficient off, 2, 4, 8, 16 (section 3.4.4); one step per Sample
//	stuck_after: 20      # identical raw readings in a row that are ErrStuck; 0 = off
//
// The part runs in forced mode, so there is no standby time (t_sb only paces normal mode).
//
// Channels: temperature (Cel), humidity (%RH, BME280 unless skipped), pressure (Pa, unless skipped),
// one forced measurement taken during Sample.
package bme280
