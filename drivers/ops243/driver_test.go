package ops243_test

import (
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/ops243"
	"github.com/wayside-iot/wayside/drivers/ops243/ops243emu"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

var t0 = time.Date(2026, 11, 5, 7, 0, 0, 0, time.UTC)

// clock is the driver's time seam, set by the test; the reader goroutine reads it.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return t0.Add(time.Duration(c.ns.Load())) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// recorder is the emulated port with every byte the driver writes recorded.
type recorder struct {
	*ops243emu.Emu
	mu sync.Mutex
	w  []byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.w = append(r.w, p...)
	r.mu.Unlock()
	return r.Emu.Write(p)
}

func (r *recorder) written() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.w)
}

// open opens the driver on a fresh emulator with a test clock; the radar answers at once, so the
// pauses between commands are skipped.
func open(t testing.TB, o *ops243.Options, setup ...func(*ops243emu.Emu)) (*ops243.Dev, *recorder, *clock) {
	t.Helper()
	c := &clock{}
	restore := ops243.SetNow(c.now)
	drivertest.RecordSleeps(t, ops243.SleepSeam)
	e := &recorder{Emu: ops243emu.New()}
	for _, f := range setup {
		f(e.Emu)
	}
	d, err := ops243.New(e, "ttyS1", o)
	if err != nil {
		restore()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
		restore()
	})
	return d, e, c
}

func drain(t *testing.T, e *recorder) {
	t.Helper()
	if !e.Drained(5 * time.Second) {
		t.Fatal("the driver did not read the radar's output")
	}
}

func sample(t *testing.T, d *ops243.Dev) []float64 {
	t.Helper()
	dst := make([]float64, len(d.Channels()))
	if err := d.Sample(t0, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The case: a radar that powers on in mph (its saved unit) is set to the option's unit,
// read back, and its speeds come out in m/s.
func TestMphRadarReadsMetresPerSecond(t *testing.T) {
	d, e, c := open(t, nil)
	if e.Unit() != ops243.MetrePerSecond {
		t.Fatalf("radar left in %s", e.Unit())
	}
	s := d.Settings()
	if s.Unit != ops243.MetrePerSecond || s.Product != "OPS243" || s.SampleRate != 20000 || s.MinSpeed != 2 || s.MaxSpeed != 0 || s.Direction != "both" {
		t.Errorf("settings %+v", s)
	}
	e.Target(25, time.Second) // 90 km/h approaching
	drain(t, e)
	c.advance(time.Second)
	got := sample(t, d)
	if got[0] != 1 || !near(got[1], 25, 0.005) || !near(got[2], 25, 0.005) || !near(got[3], 25, 0.005) {
		t.Errorf("got %v, want 1 vehicle at 25 m/s", got)
	}
	for _, tc := range []struct {
		units string
		tol   float64 // the radar prints 2 decimals in its unit
	}{{"mph", 0.005 * 0.44704}, {"km/h", 0.005 / 3.6}, {"ft/s", 0.005 * 0.3048}, {"cm/s", 0.005 * 0.01}} {
		o := ops243.DefaultOptions
		o.Units = tc.units
		d, e, c := open(t, &o)
		e.Target(-25, 500*time.Millisecond)
		drain(t, e)
		c.advance(time.Second)
		if got := sample(t, d); got[0] != 1 || !near(got[1], 25, tc.tol+1e-9) {
			t.Errorf("%s: got %v, want 1 vehicle at 25 m/s", tc.units, got)
		}
	}
}

// The bytes the driver sends, checked against UM-003-A: "Speed Output Units" (UM, US), "Data
// Output" (O1, OJ, Oj), "Sampling Rate/Buffer Size" (S2, SX), "Reported Speed/Range/Direction
// Filter" (R|, R+, R>n, R<n with a return after the number, R?), "Module Information" (??).
func TestCommandBytes(t *testing.T) {
	_, e, _ := open(t, nil)
	want := "UM\r\n" + // m/s; answered {"Units":"m-per-sec"}
		"O1\r\n" + // one report per line
		"OJ\r\n" + // JSON
		"S2\r\n" + // 20 ksps
		"R|\r\n" + // both directions
		"R>2\r\n" + // min_speed 2 m/s
		"R<0\r\n" + // no maximum
		"U?\r\n" + "R?\r\n" + "??\r\n" // read back
	if got := e.written(); got != want {
		t.Errorf("sent %q\nwant %q", got, want)
	}
	// In mph the filters are in mph: 2 m/s / 0.44704 = 4.47387 -> 4.474; 30 m/s -> 67.10809 -> 67.108.
	o := ops243.Options{Units: "mph", Output: "plain", Direction: "inbound", MinSpeed: 2, MaxSpeed: 30,
		SampleRate: 10000, VehicleGap: 300 * time.Millisecond, AnswerTimeout: time.Second}
	_, e, _ = open(t, &o)
	want = "US\r\nO1\r\nOj\r\nSX\r\nR+\r\nR>4.474\r\nR<67.108\r\nU?\r\nR?\r\n??\r\n"
	if got := e.written(); got != want {
		t.Errorf("sent %q\nwant %q", got, want)
	}
}

func TestConfigureFailures(t *testing.T) {
	o := ops243.DefaultOptions
	o.AnswerTimeout = 50 * time.Millisecond
	for _, tc := range []struct {
		name  string
		setup func(*ops243emu.Emu)
		kind  error
		msg   string
	}{
		{"silent radar", func(e *ops243emu.Emu) { e.Mute(true) }, sensor.ErrTimeout,
			"set speed unit (UM): no answer in 50ms: check the wiring"},
		{"unit stuck in mph", func(e *ops243emu.Emu) { e.IgnoreUnits(true) }, sensor.ErrFrame,
			`speed unit (UM): the radar answered {"Units":"mph"}, want "m-per-sec" (m/s)`},
		{"unknown unit", func(e *ops243emu.Emu) { e.Override("UM", `{"Units":"furlong-per-fortnight"}`) }, sensor.ErrFrame,
			`unit "furlong-per-fortnight"`},
		{"unit read back differs", func(e *ops243emu.Emu) { e.Override("U?", `{"Units":"km-per-hr"}`) }, sensor.ErrFrame,
			`speed unit (U?): the radar answered {"Units":"km-per-hr"}`},
		{"filter not taken", func(e *ops243emu.Emu) {
			e.Override("R?", `{"RequiredMinSpeed":"0.000","RequiredMaxSpeed":"0.000"}`)
		}, sensor.ErrFrame, "read back speed filter (R?): minimum 0 m/s, want 2 (R>2)"},
		{"no filter answer", func(e *ops243emu.Emu) { e.Override("R?") }, sensor.ErrTimeout, "read back speed filter (R?): no answer"},
		{"direction not taken", func(e *ops243emu.Emu) {
			e.Override("R?", `{"RequiredMinSpeed":"2.000","RequiredMaxSpeed":"0.000"}`, `{"RequiredDirection":"inbound"}`)
		}, sensor.ErrFrame, `read back direction filter (R?): "inbound", want both`},
		{"sampling rate not taken", func(e *ops243emu.Emu) {
			e.Override("??", `{"Product":"OPS243"}`, `{"SamplingRate":10000, "resolution":0.0607}`)
		}, sensor.ErrFrame, "the radar samples at 10000/s, want 20000/s"},
	} {
		drivertest.RecordSleeps(t, ops243.SleepSeam)
		e := ops243emu.New()
		tc.setup(e)
		_, err := ops243.New(e, "ttyS1", &o)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "ops243: ops243(ttyS1): ") {
			t.Errorf("%s: %v", tc.name, err)
		}
		e.Close()
	}
	bad := ops243.DefaultOptions
	bad.Units = "knots"
	var fe *sensor.FieldError
	if _, err := ops243.New(ops243emu.New(), "x", &bad); !errors.As(err, &fe) || fe.Field != "units" {
		t.Errorf("bad options: %v", err)
	}
}

// A timeline of reports, replayed on the driver's clock: consecutive reports less than
// vehicle_gap (300 ms) apart are one vehicle at its peak |speed|.
func TestVehicles(t *testing.T) {
	d, e, c := open(t, nil)
	e.Target(20, time.Second) // vehicle 1 approaching: 10 reports at 20 m/s
	drain(t, e)
	c.advance(200 * time.Millisecond) // 200 ms later, still within the gap
	e.Target(22, 300*time.Millisecond)
	drain(t, e)
	c.advance(2 * time.Second)
	e.Target(-15, time.Second) // vehicle 2 receding: speeds are magnitudes
	drain(t, e)
	c.advance(100 * time.Millisecond)
	e.Target(1.5, time.Second) // a pedestrian below min_speed 2: the radar's R> drops it
	drain(t, e)
	c.advance(400 * time.Millisecond) // > 300 ms after vehicle 2: closed at Sample
	got := sample(t, d)
	// Two vehicles, 22 and 15 m/s: mean 18.5; k = ceil(0.85*2) = 2 -> 22; max 22.
	if got[0] != 2 || !near(got[1], 18.5, 1e-9) || got[2] != 22 || got[3] != 22 {
		t.Errorf("got %v, want [2 18.5 22 22]", got)
	}
	// An empty interval is a reading of zeros.
	if got := sample(t, d); got[0] != 0 || got[1] != 0 || got[2] != 0 || got[3] != 0 {
		t.Errorf("empty interval %v", got)
	}
	// A vehicle still in the beam at Sample is counted in the interval it leaves in.
	e.Target(30, time.Second)
	drain(t, e)
	c.advance(100 * time.Millisecond)
	if got := sample(t, d); got[0] != 0 {
		t.Errorf("vehicle counted before it left: %v", got)
	}
	c.advance(time.Second)
	if got := sample(t, d); got[0] != 1 || got[3] != 30 {
		t.Errorf("got %v", got)
	}
	st := d.Stats()
	if st.Vehicles != 3 || st.Speeds != 10+3+10+10 || st.Garbage != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The known answer of the interval statistics through the whole driver: vehicles at 10, 12, ...,
// 28 m/s give count 10, mean 19, 85th percentile 26 (the 9th slowest, k = ceil(8.5)), max 28.
func TestIntervalThroughDriver(t *testing.T) {
	d, e, c := open(t, nil)
	for v := 28.0; v >= 10; v -= 2 {
		e.Target(v, 700*time.Millisecond)
		drain(t, e)
		c.advance(time.Second)
	}
	if got := sample(t, d); got[0] != 10 || !near(got[1], 19, 1e-9) || got[2] != 26 || got[3] != 28 {
		t.Errorf("got %v, want [10 19 26 28]", got)
	}
}

// The driver applies the direction and speed filters itself too: a radar whose filter was lost
// or that rounds still yields only the configured vehicles.
func TestSoftwareFilters(t *testing.T) {
	o := ops243.DefaultOptions
	o.Direction, o.MinSpeed, o.MaxSpeed = "inbound", 5, 40
	d, _, c := open(t, &o)
	for _, l := range []string{
		`{"unit":"mps","speed":"-20.00","direction":"outbound"}`, // wrong direction
		`{"unit":"mps","speed":"4.99","direction":"inbound"}`,    // below min_speed
		`{"unit":"mps","speed":"40.01","direction":"inbound"}`,   // above max_speed
		`{"unit":"mps","speed":"0.00","direction":"inbound"}`,    // no target
		`{"unit":"mph","speed":"22.37","direction":"inbound"}`,   // 22.37 mph = 10.0003 m/s, kept
	} {
		d.Line([]byte(l))
	}
	c.advance(time.Second)
	if got := sample(t, d); got[0] != 1 || !near(got[1], 22.37*0.44704, 1e-9) {
		t.Errorf("got %v", got)
	}
	if st := d.Stats(); st.Filtered != 4 || st.Speeds != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Time (OT) and magnitude (OM) reports: the manual's "137.429, 3.6" form and with both on, in
// plain and JSON output, all counted.
func TestTimeAndMagnitudeOutput(t *testing.T) {
	for _, out := range []string{"plain", "json"} {
		o := ops243.DefaultOptions
		o.Output = out
		d, e, c := open(t, &o)
		e.TimeReport(true)
		e.Target(12, 500*time.Millisecond)
		drain(t, e)
		c.advance(time.Second)
		e.MagnitudeReport(true)
		e.Target(-14, 500*time.Millisecond)
		drain(t, e)
		c.advance(time.Second)
		if got := sample(t, d); got[0] != 2 || got[3] != 14 {
			t.Errorf("%s: got %v", out, got)
		}
		if st := d.Stats(); st.Garbage != 0 || st.Speeds != 10 {
			t.Errorf("%s: stats %+v", out, st)
		}
	}
}

// A radar that loses its settings (power cycle: back to its saved mph, plain output) is noticed in
// JSON mode by its plain lines, which are not used; the driver sends its settings again.
func TestResyncAfterPowerCycle(t *testing.T) {
	d, e, c := open(t, nil)
	e.PowerCycle()
	e.Target(20, 300*time.Millisecond) // printed "44.74" in mph: unknown unit to the driver
	drain(t, e)
	if st := d.Stats(); st.Unconfigured != 3 || st.Resyncs != 1 || st.Speeds != 0 {
		t.Fatalf("stats %+v", st)
	}
	drivertest.WaitFor(t, "the settings again", func() bool { return e.Unit() == ops243.MetrePerSecond })
	drain(t, e) // the radar's answers to the settings
	e.Target(20, 300*time.Millisecond)
	drain(t, e)
	c.advance(time.Second)
	if got := sample(t, d); got[0] != 1 || got[3] != 20 {
		t.Errorf("got %v", got)
	}
}

func TestErrors(t *testing.T) {
	d, e, c := open(t, nil)
	drain(t, e)
	sample(t, d) // the interval of the answers to the settings
	// Only malformed lines in an interval (a wrong baud rate): a frame error.
	for _, l := range []string{"\x15\x8a\x07", "12.\x004"} {
		d.Line([]byte(l))
	}
	dst := make([]float64, 4)
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("garbage: %v", err)
	}
	if err := d.Sample(t0, dst[:3]); err == nil {
		t.Error("short dst accepted")
	}
	// A port error: the vehicle read before it is reported, then the error.
	e.Target(12, 500*time.Millisecond)
	drain(t, e)
	c.advance(time.Second)
	e.Close()
	vehicle := false
	var err error
	drivertest.WaitFor(t, "the read error", func() bool {
		if err = d.Sample(t0, dst); err == nil {
			vehicle = vehicle || dst[0] == 1
		}
		return err != nil
	})
	if !vehicle || !errors.Is(err, sensor.ErrBus) || !strings.HasPrefix(err.Error(), "ops243: read: ") {
		t.Errorf("vehicle reported %v, then %v", vehicle, err)
	}
}

func TestHaltIsPrompt(t *testing.T) {
	c := &clock{}
	defer ops243.SetNow(c.now)()
	drivertest.RecordSleeps(t, ops243.SleepSeam)
	e := ops243emu.New()
	d, err := ops243.New(e, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "ops243(uart)" {
		t.Error(d)
	}
	start := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Halt took %s", el)
	}
}

func TestAllocs(t *testing.T) {
	d, _, c := open(t, nil)
	dst := make([]float64, 4)
	lines := [][]byte{
		[]byte(`{"unit":"mps","speed":"21.50","direction":"inbound","time":"12.345","magnitude":"1250"}`),
		[]byte(`{"Units":"m-per-sec"}`),
		[]byte("junk"),
	}
	n := testing.AllocsPerRun(200, func() {
		for _, l := range lines {
			d.Line(l)
		}
		c.advance(time.Second)
		_ = d.Sample(t0, dst)
	})
	if n != 0 {
		t.Errorf("line handling and Sample allocate %v per run", n)
	}
	if dst[0] != 1 || dst[1] != 21.5 {
		t.Errorf("%v", dst)
	}
}

// How the simulated board drives the part, on the real clock: a vehicle_gap of 10 ms and one
// Pass per sample; the next Sample counts the vehicle at the speed Reported says.
func TestSimulatedBoardRecipe(t *testing.T) {
	drivertest.RecordSleeps(t, ops243.SleepSeam)
	e := ops243emu.New()
	o := ops243.DefaultOptions
	o.VehicleGap = 10 * time.Millisecond
	d, err := ops243.New(e, "sim", &o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Halt()
	defer e.Close()
	dst := make([]float64, 4)
	for _, v := range []float64{13.333, -27.5} {
		if err := e.Pass(v, o.VehicleGap); err != nil {
			t.Fatal(err)
		}
		want := ops243emu.Reported(v, ops243.MetrePerSecond)
		if err := d.Sample(time.Now(), dst); err != nil || dst[0] != 1 || !near(dst[1], want, 1e-9) || dst[3] != dst[1] {
			t.Errorf("%g m/s: %v %v, want 1 vehicle at %g", v, err, dst, want)
		}
	}
	// No vehicle: zeros.
	if err := d.Sample(time.Now(), dst); err != nil || dst[0] != 0 {
		t.Errorf("%v %v", err, dst)
	}
}

// BenchmarkAggregate is the radar's cost per report line (make bench's interval-aggregation table):
// a JSON report parsed, filtered and grouped into a vehicle, and one Sample per 100 lines.
func BenchmarkAggregate(b *testing.B) {
	b.Run("radar_report", func(b *testing.B) {
		d, _, c := open(b, nil)
		dst := make([]float64, 4)
		line := []byte(`{"unit":"mps","speed":"21.50","direction":"inbound"}`)
		b.ReportAllocs()
		for i := range b.N {
			d.Line(line)
			if i%100 == 99 {
				c.advance(time.Second)
				_ = d.Sample(t0, dst)
			}
		}
	})
}
