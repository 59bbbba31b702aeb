// Package sim owns the simulated board's sensors: deterministic, seeded models of a roadside cabinet's
// environment and traffic (a daily temperature curve, humidity, pressure, CO2, particulates, noise,
// light, vehicle counts with rush hours, radar speeds, parking-bay occupancy, a GPS fix) behind the same
// sensor.Sensor interface the hardware drivers implement, so the rest of the daemon cannot tell the
// difference.
//
// Every value is a pure function of (seed, sensor name, channel, sample time in ms, sampling interval):
// Expected recomputes it, which is how tests check that what reached the broker is what was sampled.
package sim
