package sensor

import "testing"

func TestUnits(t *testing.T) {
	for _, u := range []string{"m/s", "/", "count", "dB", "Cel", "%RH", "Pa", "ppm", "lx", "V", "A", "1/min", "s", "m", "%", "ug/m3", "mA", "hPa", "/100", "km/h", "m3/s", "kWh", "deg"} {
		if !IsSenMLUnit(u) {
			t.Errorf("%q refused", u)
		}
	}
	for _, u := range []string{"", "mph", "degC", "cel", "dBA", "l/min", "psi"} {
		if IsSenMLUnit(u) {
			t.Errorf("%q accepted", u)
		}
	}
}
