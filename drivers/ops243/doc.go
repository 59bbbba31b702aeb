// Package ops243 counts vehicles and surveys their speeds with an OmniPreSense OPS243-A 24 GHz
// Doppler radar on its UART (or USB CDC) text interface.
//
// New takes the serial port as an io.ReadWriter (the board opens it, 19200 8N1 by default),
// configures the radar, reads the settings back, and starts a reader goroutine that groups the
// radar's speed reports into vehicles. Sample reports, per interval (between two Samples), what a
// spot speed survey reports.
//
// # Datasheets
//
// OPS243-A product page and datasheet: https://omnipresense.com/product/ops243-doppler-radar-sensor/
//
// UM-003-A "OPS243-A User Manual" and AN-010 "API Interface Specification"
// (https://omnipresense.com/support/). Sections used, by their titles in UM-003-A (pages 7 to 16):
// "Module Information" (??, page 7), "Speed Output Units" (U?, UC/UF/UK/UM/US and their answers
// {"Units":"m-per-sec"}, page 8), "Sampling Rate/Buffer Size" (SI/SV/SX/S2/SL/SC, page 9),
// "Reported Speed/Range/Direction Filter" (R>n, R<n, R?, R+, R-, R|, page 10), "Data Output"
// (OJ/Oj, OM, OT, On, OU, page 12), "Simple Counter" (page 14). Where the manual gives no example
// (the answer to R?), the member names are those OmniPreSense's own OPS241A_NodeInterface reads:
// RequiredMinSpeed, RequiredMaxSpeed, RequiredDirection; ?? prints RequiredMinSpeed too. These
// facts were checked against copies of UM-003-A and of OmniPreSense's public code found with a
// search tool, not on a real part.
//
// # Configuration at New
//
// Every command ends with CR LF. In order:
//
//	U<x>       units (UM m/s, UK km/h, US mph, UF ft/s, UC cm/s); the answer {"Units":...} must name it
//	O1         one report per line, the strongest target
//	OJ or Oj   JSON or plain output
//	S<x>       sampling rate (SI 1k, SV 5k, SX 10k, S2 20k, SL 50k, SC 100k samples/s)
//	R| R+ R-   both directions, inbound only, outbound only
//	R>n R<n    slowest and fastest reported speed in the radar's unit, 3 decimals (0 no limit)
//	U? R? ??   read back: the unit, the speed filter (and direction when R? reports it), the
//	           sampling rate
//
// A radar that does not answer within answer_timeout is an error wrapping sensor.ErrTimeout
// naming the step and what to check (wiring, baud rate, power); an answer that differs from the
// setting is an error wrapping sensor.ErrFrame naming the setting, the answer and what was
// wanted. The radar keeps these settings until it loses power: in JSON output a plain line shows
// it went back to its saved settings, and the driver sends them again (at most every 2 s). In
// plain output that cannot be noticed: prefer JSON, or save the settings in the radar.
//
// # Options (yaml keys under sensors[].options, defaults in DefaultOptions)
//
//	units           "m/s"    unit the radar is set to: m/s, km/h, mph, ft/s, cm/s. The driver
//	                         reports m/s whatever it is.
//	output          "json"   json or plain
//	direction       "both"   both, inbound (approaching), outbound (receding)
//	min_speed       2        m/s, 0 no limit; below the Doppler limit of sample_rate
//	max_speed       0        m/s, 0 no limit; above min_speed, at most the Doppler limit
//	sample_rate     20000    samples/s: 1000, 5000, 10000, 20000, 50000, 100000. The Doppler limit
//	                         is rate·c/(4·24.125 GHz): 31.1 m/s at 10000, 62.1 m/s at 20000.
//	vehicle_gap     300ms    10ms to 10s: reports closer than this are one vehicle
//	answer_timeout  1s       10ms to 30s: wait for each answer while configuring
//
// # Channels, per interval
//
//	count      count  vehicles that left the beam in the interval
//	speed      m/s    their mean speed
//	speed_p85  m/s    their 85th-percentile speed
//	speed_max  m/s    the fastest of them
//
// An interval without vehicles is a valid reading: count 0 and the speeds 0, which mean nothing
// when count is 0. The 85th percentile is the speed at or below which 85 percent of the vehicles
// travel (ITE Manual of Transportation Engineering Studies, "Spot Speed Studies"; FHWA "Speed
// Concepts: Informational Guide", FHWA-SA-10-001, 2009), taken on the observed speeds by nearest
// rank: the k-th slowest, k = ceil(0.85 n), with no interpolation (10, 12, ..., 28 m/s give 26).
// Speeds are kept exactly (up to MaxVehicles per interval), so the resolution is the radar's:
// its printed decimals and its bin width (0.06 m/s at 10 ksps, 0.12 m/s at 20 ksps).
//
// # What a vehicle is
//
// The radar prints a report every buffer (about 10 a second) while something moves in its beam,
// and nothing between targets. The driver keeps the reports that pass the direction and speed
// filters (applied again in software: inbound is a positive speed, as the radar prints it with
// R|, or "direction":"inbound" in JSON) and groups consecutive reports less than vehicle_gap
// apart, by the time they arrive, into one vehicle whose speed is its peak |speed| (the radar
// measures the radial speed, which is closest to the true speed when the vehicle is furthest
// away, at the smallest angle to the beam; the peak also ignores the slow reports of a vehicle
// braking or turning at the edge of the beam). A vehicle counts in the interval in which it left
// the beam, that is when vehicle_gap passed after its last report: up to vehicle_gap late.
//
// Limits, as for any single Doppler radar without tracking: two vehicles in the beam at once
// (side by side in two lanes, or closer than vehicle_gap) count as one, at the faster speed; the
// radar reports the strongest target (O1), so a car beside a truck may not be seen. A vehicle
// whose reports break up for longer than vehicle_gap (occlusion by another vehicle) counts twice.
// Both directions share the count unless direction is set: with two-way traffic use one radar per
// direction or set direction. Slow clutter (pedestrians, foliage) is held off by min_speed. Set
// vehicle_gap above the report period and below the shortest time headway expected (about 1 s on
// a busy road). A radar that stops reporting altogether looks like an empty road: the driver
// cannot tell a dead radar from no traffic (it notices a closed or failed port, and lines that are
// all malformed: a wrong baud rate, sensor.ErrFrame).
//
// # Lines
//
// ParseLine reads every output form: plain "12.4"; with the time report (OT) "137.429, 3.6" and
// the magnitude report (OM) "1250, 3.6" or both, "137.429, 1250, 3.6" (time, magnitude, speed, as
// the manual orders them); with the unit in the output, "mps",12.4; JSON
// {"speed":..,"direction":..,"unit":..,"time":..,"magnitude":..}, values strings or numbers, the
// first element of arrays (O2..O9). JSON objects without a speed (command answers) are ignored.
// Line handling and Sample do not allocate.
package ops243
