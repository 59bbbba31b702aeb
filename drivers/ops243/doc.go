// Package ops243 reads vehicle speeds from an OmniPreSense OPS243-A 24 GHz Doppler radar over its
// UART (or USB CDC) text interface.
//
// The driver takes an io.Reader (the board opens the port) and optionally an io.Writer to send setup
// commands; a reader goroutine parses speed reports and keeps the fastest and the latest speed since
// the previous Sample. Sample reports one channel, "speed" in m/s, whatever unit the sensor is set to.
//
// # Datasheets
//
// OPS243-A product page and datasheet: https://omnipresense.com/product/ops243-doppler-radar-sensor/
//
// UM-003-A "OPS243-A User Manual" and AN-010 "API Interface" (https://omnipresense.com/support/):
// section "Speed Output Units": U? query, UC cm/s, UF ft/s, UK km/h, UM m/s (factory default), US mph;
// each write answers with a JSON line such as {"Units":"m-per-sec"}. Section "Data Output": OJ turns
// JSON output on, Oj off. Section "Direction Control": R+ inbound only, R- outbound only, R| both
// (default); with both, outbound (receding) targets are reported negative. "Fn" sets decimals.
//
// # Quirks
//
// Plain output is one number per line, "12.4\r\n" or "-3.7\r\n", in the configured unit: the driver
// must know the unit (Opts.Unit) and, with Opts.Setup, sets it itself so both agree. With units in
// output turned on the line is "mps",12.4 and the driver takes the unit from it.
//
// JSON output looks like {"speed":"12.4"} or, with units in output turned on (OU),
// {"unit":"mps","speed":"12.4"}: the value is a quoted string (a bare number is accepted too). Some
// firmware reports the direction apart, {"speed":0.58,"direction":"inbound"}: "outbound" makes the
// speed negative, as R| prints it. The "unit" names are not listed in one place in the manual; the
// driver accepts "mps"/"m-per-sec"/"m/s", "kmph"/"kph"/"km-per-hr"/"km/h", "mph", "fps"/"ft-per-sec"
// and "cmps"/"cm-per-sec", and falls back to Opts.Unit without one. Command answers ({"Units":...},
// {"OutputFeature":...}) and other JSON objects without "speed" are ignored, not errors.
//
// Multi-object reports (O2..O9, "speed":[...]) and magnitude output (OM) are not parsed: those lines
// count as garbage, and the sensor must be left at its defaults (O1, Om) for them.
//
// The sensor reports only while it sees a moving target: no line at all between vehicles is normal
// and Sample then returns sensor.ErrNoData.
//
// Commands are two ASCII characters; the driver terminates each with "\r\n" and does not wait for
// the JSON acknowledgement (it is skipped by the reader like any other non-speed object).
package ops243
