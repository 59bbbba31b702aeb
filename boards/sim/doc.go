// Package sim owns the simulated board's sensors: deterministic, seeded models of a roadside cabinet's
// environment and traffic (a daily temperature curve, humidity, pressure, CO2, particulates, noise,
// light, vehicle counts with rush hours, radar speeds, parking-bay occupancy, a GPS fix) that drive
// the real drivers through emulated buses, so `make run` runs the same decoding as the field and the
// rest of the daemon cannot tell the difference.
//
// Every model value is a pure function of (seed, sensor name, quantity, sample time in ms, sampling
// interval). Before each Sample the sensor sets its emulated part's physical state to the model's
// values at the sample time, then calls the real driver's Sample:
//
//   - I²C parts (bme280/bmp280, sht4x, scd4x, ads1115 as a noise meter, bh1750, vl53l0x): the
//     driver talks to its emulator (drivers/*/…emu) on a Bus, one per I²C bus of the board, which
//     routes by address. The SCD4x emulator has a new measurement at every Sample whatever the
//     interval (the part measures every 5 s). The BH1750 uses L-resolution (24 ms) below 1 s
//     intervals, since H-resolution takes 180 ms. The VL53L0X confirms occupancy on one sample.
//   - UART parts (pms5003, ops243, nmea): the driver's reader goroutine reads an emulated port. Sample
//     writes one frame or line (pms5003emu, ops243.AppendSpeed, nmea.AppendGGA) and waits until the
//     goroutine is back for more bytes, which it is only once it has parsed them: the feed is
//     synchronous and deterministic. No vehicle in the beam means no radar line (ErrNoData).
//   - Modbus slaves (modbus): the sensors on one UART share an emulated RS-485 line (RS485: an
//     in-memory pipe with read deadlines and a modbusemu.Line serving one emulated slave per
//     sensor). Before each Sample the slave's registers are set from the model through the
//     register map's scale, offset and type: temperature, humidity and pressure by unit, an energy
//     meter's volts, amps, watts and kWh from a daily cycle. Expected knows the map the part opens
//     with no options (temperature, humidity, pressure); configured maps are not Checked.
//   - The GPIO pulse counter: the driver's goroutine waits on an emulated pin; Sample makes the
//     model's vehicle count of edges and waits until they are counted. Edges come back to back, so
//     the sim turns debounce and the rate check off.
//
// The drivers' real sleeps remain (about 10 ms per BME280 or SHT4x sample, 500 ms to open and halt
// an SCD4x).
//
// Expected recomputes a reading: the model's state at that time through a second emulator and the
// driver's conversions, which is how tests check that what reached the broker is what was sampled.
package sim
