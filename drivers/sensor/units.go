package sensor

// senmlUnits are the unit symbols a SenML record may carry: the SenML Units registry of RFC 8428
// section 12.1 (those marked NOT RECOMMENDED for producers, "%", "l", "g", ..., included since
// consumers accept them), the primary units RFC 8798 section 2 added, and RFC 8798 section 3's
// secondary units (linear transformations of a primary unit, e.g. "mA", "km/h", "ppm", "/100").
var senmlUnits = map[string]bool{}

func init() {
	for _, u := range []string{
		// RFC 8428 section 12.1.
		"m", "kg", "g", "s", "A", "K", "cd", "mol", "Hz", "rad", "sr", "N", "Pa", "J", "W", "C", "V",
		"F", "Ohm", "S", "Wb", "T", "H", "Cel", "lm", "lx", "Bq", "Gy", "Sv", "kat", "m2", "m3", "l",
		"m/s", "m/s2", "m3/s", "l/s", "W/m2", "cd/m2", "bit", "bit/s", "lat", "lon", "pH", "dB", "dBW",
		"Bspl", "count", "/", "%", "%RH", "%EL", "EL", "1/s", "1/min", "beat/min", "beats", "S/m",
		// RFC 8798 section 2: new primary units.
		"B", "VA", "VAs", "var", "vars", "J/m", "kg/m3", "deg",
		// RFC 8798 section 3: secondary units.
		"ms", "min", "h", "MHz", "kW", "kVA", "kvar", "Ah", "Wh", "kWh", "varh", "kvarh", "kVAh",
		"Wh/km", "KiB", "GB", "Mbit/s", "B/s", "MB/s", "mV", "mA", "dBm", "ug/m3", "mm/h", "m/h",
		"ppm", "/100", "/1000", "hPa", "mm", "cm", "km", "km/h",
	} {
		senmlUnits[u] = true
	}
}

// IsSenMLUnit reports whether u is a registered SenML unit symbol (RFC 8428 section 12.1,
// RFC 8798). Symbols are case-sensitive: "Cel", not "cel".
func IsSenMLUnit(u string) bool { return senmlUnits[u] }
