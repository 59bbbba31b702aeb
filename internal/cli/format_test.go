package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

func TestHumanUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 632 * time.Microsecond: "632µs", 1200 * time.Microsecond: "1.2ms", 850 * time.Millisecond: "850ms",
		time.Second: "1s", 1500 * time.Millisecond: "1.5s", 42 * time.Second: "42s", 192 * time.Second: "3m12s",
		5*time.Hour + 3*time.Minute: "5h03m", 101 * time.Hour: "4d05h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 256 << 20: "256.0 MiB", 12 << 30: "12.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[uint64]string{7: "7", 999: "999", 1000: "1,000", 16384: "16,384", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for v, want := range map[float64]string{11.100000000000001: "11.1", 101798: "101798", 52.528123449: "52.528123", -3.5: "-3.5"} {
		if got := number(v); got != want {
			t.Errorf("number(%v) = %q, want %q", v, got, want)
		}
	}
	// At the resolution the cloud gets (float32 on the wire, senml.WireValue): a BME280's Q24.8
	// pressure 102085.03125 Pa is 102085.03; positions keep float64's six decimals.
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{102085.03125, "Pa", "102085.03"}, {11.100000000000001, "Cel", "11.1"}, {0.1 + 0.2, "", "0.3"},
		{1234567, "count", "1234567"}, {-3.5, "m/s", "-3.5"}, {0.000125, "V", "0.000125"},
		{52.528123449, "lat", "52.528123"}, {13.4049541, "lon", "13.404954"},
	} {
		if got := reading(c.v, c.unit); got != c.want {
			t.Errorf("reading(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// TestTableColour checks that colour codes do not move columns: stripped of its escapes, the
// coloured table is the plain one.
func TestTableColour(t *testing.T) {
	mk := func() *table {
		tb := &table{header: []string{"SENSOR", "STATE", "LAST ERROR"}, colour: map[int]func(string) string{1: stateColour}}
		tb.add("env1", "ok", "-")
		tb.add("radar-long-name", "failing", "ops243: timeout")
		tb.add("gps", "degraded", "-")
		return tb
	}
	var plain, coloured bytes.Buffer
	mk().write(&plain, painter{})
	mk().write(&coloured, painter{on: true})
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("escape codes without colour:\n%q", plain.String())
	}
	for _, want := range []string{green + "ok" + reset, red + "failing" + reset, yellow + "degraded" + reset} {
		if !strings.Contains(coloured.String(), want) {
			t.Errorf("coloured table lacks %q:\n%q", want, coloured.String())
		}
	}
	strip := strings.NewReplacer(green, "", red, "", yellow, "", bold, "", reset, "")
	if got := strip.Replace(coloured.String()); got != plain.String() {
		t.Errorf("colour moved the layout:\n%s\nwant\n%s", got, plain.String())
	}
}

func TestColourOnlyOnTerminal(t *testing.T) {
	env := map[string]string{}
	a := &App{Stdout: &bytes.Buffer{}, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if a.useColour() {
		t.Error("colour on a buffer")
	}
	a.IsTerminal = func(io.Writer) bool { return true }
	if !a.useColour() {
		t.Error("no colour on a terminal")
	}
	env["NO_COLOR"] = ""
	if a.useColour() {
		t.Error("colour with NO_COLOR set")
	}
	delete(env, "NO_COLOR")
	env["TERM"] = "dumb"
	if a.useColour() {
		t.Error("colour on TERM=dumb")
	}
}

// TestClockLine: the status's clock line says what the gateway's clock trust says.
func TestClockLine(t *testing.T) {
	for _, c := range []struct {
		in   apitype.Clock
		want string
	}{
		{apitype.Clock{Trusted: false, Trust: "ntp"}, "not trusted (stamping from the monotonic clock; policy ntp)"},
		{apitype.Clock{Trusted: true, Trust: "always"}, "trusted (policy always)"},
		{apitype.Clock{Trusted: true, Trust: "ntp", CorrectionMs: 3600e3}, "trusted (policy ntp; earlier readings corrected by 1h0m0s)"},
	} {
		if got := clockLine(painter{}, &c.in); got != c.want {
			t.Errorf("clockLine(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}
