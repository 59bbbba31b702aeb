package ops243

import (
	"bytes"
	"math"
	"testing"

	"periph.io/x/conn/v3/physic"
)

func ms(v float64) physic.Speed { return physic.Speed(math.Round(v * 1e9)) }

func abs(v physic.Speed) physic.Speed {
	if v < 0 {
		return -v
	}
	return v
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		unit Unit
		want Report
		res  Result
	}{
		// Plain output, the factory form: one number in the configured unit.
		{"12.4", MetrePerSecond, Report{Speed: ms(12.4)}, ResultSpeed},
		{"-3.7", MetrePerSecond, Report{Speed: ms(-3.7)}, ResultSpeed}, // Receding target with R|.
		{"+5", MetrePerSecond, Report{Speed: ms(5)}, ResultSpeed},
		{" 12.40 ", MetrePerSecond, Report{Speed: ms(12.4)}, ResultSpeed},
		{"45.0", KilometrePerHour, Report{Speed: ms(12.5), Unit: KilometrePerHour}, ResultSpeed},
		// mph is the international mile: 10 mph = 16093.44 m / 3600 s = 4.4704 m/s.
		{"10", MilePerHour, Report{Speed: ms(4.4704), Unit: MilePerHour}, ResultSpeed},
		{"10", FootPerSecond, Report{Speed: ms(3.048), Unit: FootPerSecond}, ResultSpeed},
		{"1250", CentimetrePerSecond, Report{Speed: ms(12.5), Unit: CentimetrePerSecond}, ResultSpeed},
		// UM-003-A "Data Output", OT: "137.429, 3.6 is read as 137 seconds and 429 milliseconds
		// with a speed of 3.6 m/s".
		{"137.429, 3.6", MetrePerSecond, Report{Speed: ms(3.6), Time: 137.429, HasTime: true}, ResultSpeed},
		// OM: magnitude before speed; OT and OM: time, magnitude, speed.
		{"1250, -3.6", MetrePerSecond, Report{Speed: ms(-3.6), Magnitude: 1250, HasMagnitude: true}, ResultSpeed},
		{"88.5,3.6", MetrePerSecond, Report{Speed: ms(3.6), Magnitude: 88.5, HasMagnitude: true}, ResultSpeed},
		{"137.429, 1250, 3.6", MetrePerSecond, Report{Speed: ms(3.6), Time: 137.429, HasTime: true, Magnitude: 1250, HasMagnitude: true}, ResultSpeed},
		// Units in output.
		{`"mps",-1.2`, KilometrePerHour, Report{Speed: ms(-1.2), HasUnit: true}, ResultSpeed},
		{`"kmph", 36`, MetrePerSecond, Report{Speed: ms(10), Unit: KilometrePerHour, HasUnit: true}, ResultSpeed},
		{`"mph", 137.429, 10`, MetrePerSecond, Report{Speed: ms(4.4704), Unit: MilePerHour, HasUnit: true, Time: 137.429, HasTime: true}, ResultSpeed},
		{`"parsec",1`, MetrePerSecond, Report{}, ResultGarbage},
		{`"mps" 1.2`, MetrePerSecond, Report{}, ResultGarbage},
		{`"mps",`, MetrePerSecond, Report{}, ResultGarbage},
		// JSON (OJ), the OPS242/243 manuals' example {"speed":0.58, "direction":"inbound", ...}.
		{`{"speed":0.58, "direction":"inbound", "time":105, "tick":135}`, MetrePerSecond, Report{Speed: ms(0.58), Form: FormJSON, Time: 105, HasTime: true}, ResultSpeed},
		{`{"speed":0.58,"direction":"outbound"}`, MetrePerSecond, Report{Speed: ms(-0.58), Form: FormJSON}, ResultSpeed},
		{`{"direction":"outbound","speed":"-2.5"}`, MetrePerSecond, Report{Speed: ms(-2.5), Form: FormJSON}, ResultSpeed},
		{`{"speed":"-2.5","direction":"inbound"}`, MetrePerSecond, Report{Speed: ms(2.5), Form: FormJSON}, ResultSpeed},
		{`{"unit":"mps","speed":"12.4"}`, KilometrePerHour, Report{Speed: ms(12.4), Form: FormJSON, HasUnit: true}, ResultSpeed},
		{`{ "speed" : 12.4 }`, MetrePerSecond, Report{Speed: ms(12.4), Form: FormJSON}, ResultSpeed},
		{`{"speed":"-36.0","unit":"kmph"}`, MetrePerSecond, Report{Speed: ms(-10), Form: FormJSON, Unit: KilometrePerHour, HasUnit: true}, ResultSpeed},
		{`{"unit":"mph","speed":"22.37","direction":"inbound","time":"137.429","magnitude":"1250"}`, MetrePerSecond,
			Report{Speed: ms(22.37 * 0.44704), Form: FormJSON, Unit: MilePerHour, HasUnit: true, Time: 137.429, HasTime: true, Magnitude: 1250, HasMagnitude: true}, ResultSpeed},
		// O2..O9: arrays, strongest first.
		{`{"magnitude":["467.72","362.44"],"speed":["-0.25","-1.44"]}`, MetrePerSecond, Report{Speed: ms(-0.25), Form: FormJSON, Magnitude: 467.72, HasMagnitude: true}, ResultSpeed},
		{`{"magnitude":"467.72","speed":"-0.25","distance":"0.00"}`, MetrePerSecond, Report{Speed: ms(-0.25), Form: FormJSON, Magnitude: 467.72, HasMagnitude: true}, ResultSpeed},
		{`{"speed":1,"direction":"sideways"}`, MetrePerSecond, Report{}, ResultGarbage},
		// Command answers: UM-003-A "Speed Output Units", "Module Information".
		{`{"Units":"m-per-sec"}`, MetrePerSecond, Report{}, ResultIgnored},
		{`{"SamplingRate":10000, "resolution":0.0607}`, MetrePerSecond, Report{}, ResultIgnored},
		{`{}`, MetrePerSecond, Report{}, ResultIgnored},
		// Garbage.
		{"", MetrePerSecond, Report{}, ResultGarbage},
		{"12.4.5", MetrePerSecond, Report{}, ResultGarbage},
		{"1,2,3,4", MetrePerSecond, Report{}, ResultGarbage},
		{"1,,3", MetrePerSecond, Report{}, ResultGarbage},
		{",3", MetrePerSecond, Report{}, ResultGarbage},
		{"3,", MetrePerSecond, Report{}, ResultGarbage},
		{"-", MetrePerSecond, Report{}, ResultGarbage},
		{"mph", MetrePerSecond, Report{}, ResultGarbage},
		{"1234567890123456", MetrePerSecond, Report{}, ResultGarbage},
		{"{", MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":"fast"}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"unit":"parsec","speed":"1"}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":"1"} x`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":{"v":1}}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":[{"v":1}]}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":["1"`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"sp\"eed":"1"}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":"1",}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed" "1"}`, MetrePerSecond, Report{}, ResultGarbage},
		{`{"speed":"1","time":"noon"}`, MetrePerSecond, Report{}, ResultGarbage},
	} {
		got, res := ParseLine([]byte(tc.line), tc.unit)
		if res != ResultSpeed {
			got.Speed = 0
		}
		want := tc.want
		if res == ResultSpeed && want.Unit == 0 && !want.HasUnit {
			want.Unit = tc.unit
		}
		if res != tc.res || (res == ResultSpeed && (abs(got.Speed-want.Speed) > 2 || got.Form != want.Form ||
			got.Unit != want.Unit || got.HasUnit != want.HasUnit || got.HasTime != want.HasTime || got.Time != want.Time ||
			got.HasMagnitude != want.HasMagnitude || got.Magnitude != want.Magnitude)) {
			t.Errorf("%q in %s: %+v %d, want %+v %d", tc.line, tc.unit, got, res, want, tc.res)
		}
	}
	lines := [][]byte{[]byte("12.4"), []byte("137.429, 1250, 3.6"), []byte(`{"unit":"kmph","speed":"-36.0","direction":"outbound","time":"1.5"}`), []byte("junk")}
	if n := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			ParseLine(l, MetrePerSecond)
		}
	}); n != 0 {
		t.Errorf("ParseLine allocates %v", n)
	}
}

func TestRoundTrip(t *testing.T) {
	v := -27777778 * physic.MicroMetrePerSecond // -100 km/h
	for u := MetrePerSecond; u <= CentimetrePerSecond; u++ {
		line := bytes.TrimRight(AppendSpeed(nil, v, u, 3), "\r\n")
		if got, res := ParseLine(line, u); res != ResultSpeed || abs(got.Speed-v) > 5*physic.MilliMetrePerSecond {
			t.Errorf("%s %q: %+v %d", u, line, got, res)
		}
		// JSON carries its unit: the default passed must not matter.
		line = bytes.TrimRight(AppendJSON(nil, v, u, 3), "\r\n")
		if got, res := ParseLine(line, MilePerHour); res != ResultSpeed || abs(got.Speed-v) > 5*physic.MilliMetrePerSecond {
			t.Errorf("%s %q: %+v %d", u, line, got, res)
		}
	}
}

// FuzzParseLine checks that ParseLine never panics, that what it accepts as a speed is finite and
// that a speed report's line is one of the documented forms. `go test` runs only the seed corpus;
// `go test -fuzz FuzzParseLine -fuzztime 30s ./drivers/ops243` explores.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"12.4", "-3.7", "137.429, 3.6", "137.429, 1250, 3.6", `"mps",12.4`,
		`{"speed":0.58, "direction":"inbound", "time":105, "tick":135}`, `{"Units":"mph"}`,
		`{"magnitude":["467.72","362.44"],"speed":["-0.25","-1.44"]}`, `{"speed":"1",}`, "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, res := ParseLine(b, MilePerHour)
		switch res {
		case ResultSpeed:
			if math.IsNaN(float64(r.Speed)) || r.Unit > CentimetrePerSecond {
				t.Fatalf("%q: %+v", b, r)
			}
			tb := trim(b)
			if len(tb) == 0 || !(tb[0] == '{' || tb[0] == '"' || tb[0] == '-' || tb[0] == '+' || tb[0] == '.' || (tb[0] >= '0' && tb[0] <= '9')) {
				t.Fatalf("%q accepted as %+v", b, r)
			}
			if (r.Form == FormJSON) != (tb[0] == '{') {
				t.Fatalf("%q: form %d", b, r.Form)
			}
		case ResultIgnored:
			if tb := trim(b); len(tb) == 0 || tb[0] != '{' {
				t.Fatalf("%q ignored", b)
			}
		case ResultGarbage:
		default:
			t.Fatalf("%q: result %d", b, res)
		}
		var a answers
		a.record(b) // must not panic either
	})
}
