// Package vl53l0x drives the ST VL53L0X time-of-flight laser ranging sensor over I²C, for
// parking-bay occupancy.
//
// The driver takes an i2c.Bus and an address (0x29 out of reset), checks the model id, runs a
// minimal initialisation and then measures in single-shot mode on every Sample. It reports the
// distance in metres and an occupancy flag derived from it with hysteresis: the bay becomes
// occupied below Opts.OccupiedBelow and free again only above Opts.FreeAbove, optionally after
// Opts.Confirm consistent samples.
//
// # Datasheets
//
// Datasheet DocID029104 "VL53L0X World's smallest Time-of-Flight ranging and gesture detection
// sensor": https://www.st.com/resource/en/datasheet/vl53l0x.pdf. It gives the 7-bit address 0x29
// (0x52 8-bit), the ranging profiles (default: 30 ms timing budget, up to 1.2 m; long range up to
// 2 m) and 400 kHz I²C, but not the register map.
//
// The register map is only in ST's API (STSW-IMG005, UM2039 "VL53L0X API user manual"):
// vl53l0x_device.h names the registers and vl53l0x_api.c (VL53L0X_DataInit, VL53L0X_StaticInit,
// VL53L0X_PerformRefCalibration, VL53L0X_PerformSingleRangingMeasurement,
// VL53L0X_GetRangingMeasurementData) gives the order. Pololu's public port
// (https://github.com/pololu/vl53l0x-arduino, VL53L0X.cpp) is a readable restatement of the same
// sequence. Comments in this package cite those function names.
//
// # Initialisation: what is done and what is skipped
//
// Done, in VL53L0X_DataInit / StaticInit / PerformRefCalibration order:
//
//  1. Model id: IDENTIFICATION_MODEL_ID (0xC0) must read 0xEE.
//  2. Optional 2.8 V I/O: VHV_CONFIG_PAD_SCL_SDA__EXTSUP_HV (0x89) bit 0 (Opts.IO2V8; most
//     breakout boards with a regulator and level shifters need it).
//  3. Standard I²C mode: 0x88 = 0x00.
//  4. Read the "stop variable" (0x91 on the private page selected by 0x80/0xFF/0x00); it is written
//     back before every measurement.
//  5. Disable the MSRC and pre-range signal-rate limit checks: MSRC_CONFIG_CONTROL (0x60) |= 0x12.
//  6. Final-range signal-rate limit 0.25 MCPS: FINAL_RANGE_CONFIG_MIN_COUNT_RATE_RTN_LIMIT (0x44),
//     16-bit fixed point 9.7, 0.25 × 128 = 0x0020.
//  7. Interrupt on "new sample ready": SYSTEM_INTERRUPT_CONFIG_GPIO (0x0A) = 0x04, GPIO active low
//     (GPIO_HV_MUX_ACTIVE_HIGH 0x84 bit 4 cleared), clear it (SYSTEM_INTERRUPT_CLEAR 0x0B = 0x01).
//  8. Sequence steps DSS, pre-range, final range: SYSTEM_SEQUENCE_CONFIG (0x01) = 0xE8.
//  9. Reference calibration: VHV (sequence 0x01, start 0x41) then phase (sequence 0x02, start 0x01),
//     each waiting for the interrupt, then sequence 0xE8 again.
//
// Skipped: reference SPAD management (reading the SPAD map from NVM and enabling the reference
// SPADs), ST's default tuning table (about 80 private registers), the measurement timing budget
// computation and offset/crosstalk calibration. Linux's driver skips all of them too and ranges
// 30-1200 mm. What is not verified without a chip: that the power-on timing budget (about 30 ms)
// and SYSTEM_RANGE_CONFIG (0x09, whole millimetres) hold without the tuning table, which is where
// ST writes them; how much range and accuracy are lost. Enough to tell a car from an empty bay, not
// for metrology. A cover glass needs crosstalk calibration, which this driver does not do.
//
// # Measurement
//
// VL53L0X_PerformSingleRangingMeasurement: write the stop variable sequence, SYSRANGE_START (0x00)
// = 0x01, wait for its bit 0 to clear (ranging has begun), poll RESULT_INTERRUPT_STATUS (0x13) until
// bits 2:0 are non-zero (Opts.Timeout, sensor.ErrTimeout; bits 4:3 set are a range error, reported as
// sensor.ErrNoData), read the 12-byte result block at RESULT_RANGE_STATUS (0x14) (status in byte 0,
// range in mm big-endian at 0x1E = bytes 10-11), clear the interrupt (0x0B = 0x01). Only range status
// 11 is a distance; the others are a failure, no target, or no valid range this time, and a run of
// Opts.InvalidAfter of those (a fogged or dirty cover) is sensor.ErrRange. Opts.Timeout bounds the
// whole measurement, the wait for the start bit included.
//
// Range statuses (device status in RESULT_RANGE_STATUS bits 6:3, and the range status ST's
// VL53L0X_get_pal_range_status makes of it, named by VL53L0X_GetRangeStatusString):
//
//	device 11 (range complete)              -> 0 Range Valid      distance
//	device 1, 2, 3 (VCSEL, watchdog, VHV)   -> 5 Hardware Fail    sensor.ErrRange (a fault)
//	device 4 (MSRC no target), 6, 9 (phase) -> 2 Signal / 4 Phase no target: Options.NoTarget, or ErrNoData
//	device 8 (TCC), 10 (MinClip)            -> 3 Min Range Fail   target too close: sensor.ErrNoData
//	device 0, 5, 7, 12-15                   -> none / sigma       no valid range this time: ErrNoData,
//	                                                              and Options.InvalidAfter in a row ErrRange
//
// Too close is not a fault: something on the cover or right over it (a tyre on a ground sensor) is
// nearer than the part ranges. It is sensor.ErrNoData however long it lasts, does not count towards
// InvalidAfter, and the occupancy keeps its state until a distance comes.
//
// # Options
//
// sensors[].options, defaults in DefaultOptions (the same as DefaultOpts), distances in metres:
//
//	occupied_below: 0.8   # a distance below it occupies the bay
//	free_above: 1.2       # a distance above it frees it; between the two the state holds
//	confirm: 2            # samples in a row beyond the band's far side that change the state
//	no_target: 2          # the distance an empty view stands for; 0 = sensor.ErrNoData instead
//	stuck_after: 10       # identical result blocks in a row that are ErrStuck; 0 = off
//	invalid_after: 30     # invalid ranges in a row that are ErrRange (dirty cover); 0 = off
//	timeout: 100ms        # one measurement, at least 5ms
//	io_2v8: true          # 2.8 V I/O pads (most breakout boards)
//
// Channels: distance (m) of this Sample's measurement; occupied (/), 1 or 0, the hysteresis state
// after it.
//
// # Quirks
//
// With no target in range the chip reports 8190 or 8191 mm, or a range status of signal or phase
// failure (VL53L0X_GetRangingMeasurementData). A sensor in the ground looking up sees nothing when
// the bay is empty: Opts.NoTarget turns that into a distance (DefaultOpts: 2 m, the datasheet's
// maximum), or, when 0, into sensor.ErrNoData.
//
// A hung chip keeps returning the same result block: with Opts.StuckAfter the driver compares the
// whole 12-byte block (range, signal rate, ambient rate, SPAD count), which never repeats exactly
// on a live part, and reports sensor.ErrStuck.
//
// To record real traffic for tests, wrap the bus in periph's i2ctest.Record and paste its Ops into
// an i2ctest.Playback script.
package vl53l0x
