// Package pms5003 reads the Plantower PMS5003 laser particulate sensor over its UART.
//
// The part streams a 32 byte frame every 200..800 ms in "active" mode (every 2.3 s once the
// concentration is stable). A goroutine started by New parses the stream, resynchronises on
// garbage and keeps the latest good frame; Sample hands that frame out once. The board opens the
// serial port (9600 8N1, datasheet "transport protocol"). New takes it as an io.Reader and never
// writes to the part; NewWithOptions takes an io.ReadWriter and commands the part (wake-up, active
// mode, sleep) for the warm-up and the duty cycle below.
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
//   - The fan takes 30 s after wake-up before readings are stable (technical index, "stable time";
//     appendix II: "stable data should be got at least 30 seconds after the sensor wakeup from the
//     sleep mode because of the fan's performance"). NewWithOptions drops frames for Options.WarmUp
//     after each wake-up (and after the start); Sample meanwhile returns sensor.ErrNoData.
//   - Host commands (appendix II): 0x42 0x4D, command, data high, data low, 16 bit sum of the five
//     bytes before it. Sleep 42 4D E4 00 00 01 73, wake-up 42 4D E4 00 01 01 74, active mode
//     42 4D E1 00 01 01 71, passive mode 42 4D E1 00 00 01 70, passive read 42 4D E2 00 00 01 71.
//     Parts answer the mode and sleep commands with an 8 byte frame of length 4 (not in the manual,
//     observed by other drivers); the parser skips those.
//
// # Options
//
// sensors[].options, defaults in DefaultOptions:
//
//	sleep_between: false     # sleep between readings (fan and laser off)
//	warm_up: 30s             # frames after a wake-up that are not readings; at least 30s
//	max_age: 10s             # awake and warmed up, no frame this long is ErrTimeout
//	max_concentration: 5000  # µg/m³ above which a reading is ErrRange
//
// Duty cycle rule: the driver sees only the options, not the configured interval, so it learns the
// interval from the at of successive Samples. After a reading, when that interval is longer than
// warm_up + 10 s (40 s by default), it sends sleep and wakes the part warm_up + 5 s before the next
// Sample is due (a timer goroutine; writes are serialised). At shorter intervals the part stays awake.
// A Sample that finds the part asleep (the interval shrank) wakes it and returns ErrNoData. Halt puts
// a duty-cycled part to sleep. The part stays in active mode while awake: Sample takes the latest
// frame, no request/answer round trip in Sample (passive mode would save nothing while the fan runs).
//
// Channels: pm1, pm2_5, pm10 (ug/m3, atmospheric), the latest frame since the previous Sample.
//   - Stuck detection is not done here: in clean air the part legitimately reports 0 µg/m³ for hours.
package pms5003
