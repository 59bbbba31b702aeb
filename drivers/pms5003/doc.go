// Package pms5003 reads the Plantower PMS5003 laser particulate sensor over its UART.
//
// The part streams a 32 byte frame every 200..800 ms in "active" mode (every 2.3 s once the
// concentration is stable). A goroutine started by New parses the stream, resynchronises on
// garbage and keeps the latest good frame; Sample hands that frame out once. The board opens the
// serial port (9600 8N1, datasheet "transport protocol") and passes it as an io.Reader; the driver
// never writes to the part.
//
// # Datasheets
//
// PMS5003: https://www.aqmd.gov/docs/default-source/aq-spec/resources-page/plantower-pms5003-manual_v2-3.pdf
//
// Quirks worth knowing:
//
//   - Frame (datasheet appendix I, "transport protocol - active mode"): start bytes 0x42 0x4D, a 16
//     bit frame length of 28 (2*13 data words + 2 check bytes), 13 big-endian data words, and a 16
//     bit check code equal to the sum of the 30 preceding bytes.
//   - Data 1..3 are "CF=1, standard particle" concentrations, meant for factory calibration; data
//     4..6 are the "atmospheric environment" concentrations this driver reports (appendix I, note).
//   - Data 7..12 count particles per 0.1 L above 0.3, 0.5, 1.0, 2.5, 5 and 10 µm; data 13 is
//     reserved.
//   - Effective range 0..500 µg/m³, maximum range at least 1000 µg/m³ (technical index table):
//     readings above Opts.MaxConcentration are reported as ErrRange.
//   - The fan takes 30 s after wake-up before readings are stable (technical index, "stable time");
//     the gateway should discard the first half minute.
//   - Stuck detection is not done here: in clean air the part legitimately reports 0 µg/m³ for hours.
package pms5003
