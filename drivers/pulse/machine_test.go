package pulse

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// References for the known answers below (the package doc cites the same):
//
//   - [TDH] Traffic Detector Handbook, 3rd ed., Vol. I (FHWA-HRT-06-108, 2006), chapter 2 (inductive
//     loop detectors): occupancy is the percent of time the detection zone is occupied; with two
//     loops, speed = loop spacing / (t_on,downstream - t_on,upstream), and vehicle length = speed ×
//     on-time - effective loop length.
//   - [HCM] Highway Capacity Manual, 7th ed. (TRB 2022), chapter 4: headway is the time between
//     successive vehicles passing a point, measured from the same feature (front to front); gap
//     is the time from the rear of the leading vehicle to the front of the following one.
//   - [HF] Hyndman & Fan, "Sample Quantiles in Statistical Packages", The American Statistician
//     50(4), 1996, definition 1 (inverse of the empirical distribution function, "nearest rank"):
//     the p-quantile of n sorted values is the value of rank ceil(p × n).
//   - [ITE] ITE Manual of Transportation Engineering Studies, 2nd ed. (2010), spot speed studies:
//     the 85th-percentile speed is the speed at or below which 85 % of vehicles travel.

func ms(x float64) time.Duration  { return time.Duration(x * float64(time.Millisecond)) }
func sec(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }

func testMachine(t testing.TB, o Options) *machine {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	c := o.config()
	m := newMachine(&c)
	for i := range m.loops {
		m.loops[i].start(0, false)
	}
	return m
}

// lv is a line level after an edge: at (since start), active or not.
type lv struct {
	at     time.Duration
	active bool
}

// on returns the two edges of a presence from a to b.
func on(a, b time.Duration) []lv { return []lv{{a, true}, {b, false}} }

func feed(m *machine, line int, edges ...[]lv) {
	for _, es := range edges {
		for _, e := range es {
			m.level(line, e.at, e.active)
		}
	}
}

// near compares with a tolerance for the nanosecond timestamps and float sums.
func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

type presenceWant struct{ volume, occupancy, headway, gap float64 }

func checkPresence(t *testing.T, what string, dst []float64, w presenceWant) {
	t.Helper()
	got := presenceWant{dst[0], dst[1], dst[2], dst[3]}
	if !near(got.volume, w.volume) || !near(got.occupancy, w.occupancy) || !near(got.headway, w.headway) || !near(got.gap, w.gap) {
		t.Errorf("%s: got %+v, want %+v", what, got, w)
	}
}

func TestIssueTimelineIsOneVehicle(t *testing.T) {
	// Issue #14: edges at 0, 1, 3 ms (closing bounce) and 469, 471 ms (release chatter) from one
	// vehicle counted 2 with the old 20 ms lock-out. Those are the activating (falling) edges; the
	// releasing edges between them are written out too (the contact opens between two closings).
	m := testMachine(t, DefaultOptions)
	feed(m, 0, []lv{
		{ms(0), true}, {ms(0.5), false}, {ms(1), true}, {ms(2), false}, {ms(3), true}, // closing bounce
		{ms(468), false}, {ms(469), true}, {ms(470), false}, {ms(471), true}, {ms(472), false}, // release chatter
	})
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	// One vehicle present from 0 to 472 ms (every dropout is under min_off 100 ms): occupancy
	// [TDH] 0.472 s / 20 s = 2.36 %. One vehicle: no headway or gap in the interval.
	checkPresence(t, "issue timeline", dst, presenceWant{1, 2.36, 0, 0})
}

func TestTwoVehicles1500msApart(t *testing.T) {
	// Issue #14: two vehicles 1.5 s apart are two. Each present 470 ms: headway [HCM] 1.5 s, gap
	// 1.5 - 0.47 = 1.03 s, occupancy 0.94 s / 20 s = 4.7 %.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, on(0, ms(470)), on(ms(1500), ms(1970)))
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	checkPresence(t, "two vehicles", dst, presenceWant{2, 4.7, 1.5, 1.03})
}

func TestTrailerDropout(t *testing.T) {
	// A tractor-trailer whose hitch leaves the loop for 60 ms (< min_off 100 ms) is one vehicle
	// present 0 to 900 ms: 4.5 % of 20 s. A 150 ms absence (>= min_off) is two vehicles: headway
	// 0.45 s, gap 0.15 s, occupancy (0.3 + 0.45) / 20 = 3.75 %.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, on(0, ms(300)), on(ms(360), ms(900)))
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	checkPresence(t, "60 ms dropout", dst, presenceWant{1, 4.5, 0, 0})

	m = testMachine(t, DefaultOptions)
	feed(m, 0, on(0, ms(300)), on(ms(450), ms(900)))
	m.sample(sec(20), dst)
	checkPresence(t, "150 ms absence", dst, presenceWant{2, 3.75, 0.45, 0.15})
}

func TestShortPresenceRejected(t *testing.T) {
	// A 10 ms blip (< min_on 20 ms) is noise, also when it bounces; 25 ms is a vehicle.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, on(sec(1), sec(1)+ms(4)), on(sec(1)+ms(6), sec(1)+ms(10)), on(sec(5), sec(5)+ms(25)))
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	checkPresence(t, "blip", dst, presenceWant{1, 100 * 0.025 / 20, 0, 0})
	if m.lanes[0].rejected != 1 {
		t.Errorf("rejected %d, want 1", m.lanes[0].rejected)
	}
}

func TestOccupancy(t *testing.T) {
	// [TDH] occupancy: a vehicle present 0.5 s in a 20 s interval = 0.5 / 20 = 2.5 %.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, on(sec(5), sec(5.5)))
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	checkPresence(t, "0.5 s in 20 s", dst, presenceWant{1, 2.5, 0, 0})
	// The next interval is empty: a valid reading of zeros.
	m.sample(sec(40), dst)
	checkPresence(t, "empty interval", dst, presenceWant{0, 0, 0, 0})
}

func TestOccupancySplitAtBoundary(t *testing.T) {
	// A vehicle present from 19.8 to 20.3 s with samples every 20 s: 0.2 s in the first interval
	// (1 %) and 0.3 s in the second (1.5 %). It is counted once, in the interval of its front.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, []lv{{sec(19.8), true}})
	dst := make([]float64, 4)
	m.sample(sec(20), dst)
	checkPresence(t, "first interval", dst, presenceWant{1, 1, 0, 0})
	feed(m, 0, []lv{{sec(20.3), false}})
	m.sample(sec(40), dst)
	checkPresence(t, "second interval", dst, presenceWant{0, 1.5, 0, 0})

	// A stopped vehicle over the loop for a whole interval: 100 %.
	m.level(0, sec(45), true)
	m.sample(sec(60), dst)
	m.sample(sec(80), dst)
	checkPresence(t, "stopped vehicle", dst, presenceWant{0, 100, 0, 0})
}

func TestHeadwayAndGap(t *testing.T) {
	// [HCM] fronts at 0, 2 and 5 s: headways 2 and 3 s, mean 2.5 s. Each vehicle present 0.4 s:
	// gaps = headway - on-time of the leading vehicle = 1.6 and 2.6 s, mean 2.1 s. Occupancy
	// 3 × 0.4 / 30 = 4 % of a 30 s interval.
	m := testMachine(t, DefaultOptions)
	feed(m, 0, on(0, sec(0.4)), on(sec(2), sec(2.4)), on(sec(5), sec(5.4)))
	dst := make([]float64, 4)
	m.sample(sec(30), dst)
	checkPresence(t, "three vehicles", dst, presenceWant{3, 4, 2.5, 2.1})
	// The next vehicle's headway reaches back to the previous interval's last vehicle: 35 - 5 =
	// 30 s, gap 35 - 5.4 = 29.6 s.
	feed(m, 0, on(sec(35), sec(35.4)))
	m.sample(sec(60), dst)
	checkPresence(t, "next interval", dst, presenceWant{1, 0.4 / 30 * 100, 30, 29.6})
}

func trapOptions() Options {
	o := DefaultOptions
	o.Mode = ModeSpeedTrap
	o.Trap.Spacing = 4.0
	o.Trap.LoopLength = 1.8
	return o
}

type trapWant struct{ matched, speed, p85, length, unmatched float64 }

func checkTrap(t *testing.T, what string, dst []float64, w trapWant) {
	t.Helper()
	got := trapWant{dst[4], dst[5], dst[6], dst[7], dst[8]}
	if !near(got.matched, w.matched) || !near(got.speed, w.speed) || !near(got.p85, w.p85) ||
		!near(got.length, w.length) || !near(got.unmatched, w.unmatched) {
		t.Errorf("%s: got %+v, want %+v", what, got, w)
	}
}

// trapVehicle feeds one vehicle through the trap, the edges of both lines in time order as the
// goroutines deliver them: upstream presence from a for onTime, downstream the same travel later.
func trapVehicle(m *machine, a, travel, onTime time.Duration) {
	type e struct {
		line int
		lv
	}
	es := [4]e{{0, lv{a, true}}, {0, lv{a + onTime, false}}, {1, lv{a + travel, true}}, {1, lv{a + travel + onTime, false}}}
	for i := 1; i < len(es); i++ { // Insertion sort: no allocation in TestMachineAllocs.
		for j := i; j > 0 && es[j].at < es[j-1].at; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	for _, x := range es {
		m.level(x.line, x.at, x.active)
	}
}

func TestSpeedTrap(t *testing.T) {
	// [TDH] spacing 4.0 m, B actuates 0.2 s after A: 4.0 / 0.2 = 20 m/s (72 km/h). On-time
	// 0.35 s on both loops, effective loop length 1.8 m: length 20 × 0.35 - 1.8 = 5.2 m.
	m := testMachine(t, trapOptions())
	// Edges interleaved in time order as the two goroutines deliver them.
	m.level(0, sec(1), true)
	m.level(1, sec(1.2), true)
	m.level(0, sec(1.35), false)
	m.level(1, sec(1.55), false)
	dst := make([]float64, 9)
	m.sample(sec(20), dst)
	checkPresence(t, "upstream loop", dst, presenceWant{1, 0.35 / 20 * 100, 0, 0})
	checkTrap(t, "one vehicle", dst, trapWant{1, 20, 20, 5.2, 0})
}

func TestSpeedP85(t *testing.T) {
	// 20 speeds, m/s, sorted: 12.0 13.5 14.0 14.2 15.0 15.5 16.0 16.1 16.4 17.0 17.2 17.5 18.0 18.3
	// 18.8 19.0 19.6 20.5 22.0 25.0. Sum 345.6 (added by hand), mean 17.28 m/s.
	// [HF]/[ITE] nearest rank: ceil(0.85 × 20) = 17th value = 19.6 m/s. (Linear interpolation,
	// Hyndman & Fan definition 7, would give 19.6 + 0.15 × (20.5 - 19.6) = 19.735: not ours.)
	// Every vehicle 6.0 m long: on-time (6.0 + 1.8) / speed, length back to 6.0 m.
	speeds := []float64{17.0, 25.0, 12.0, 18.3, 15.5, 19.6, 14.0, 22.0, 16.1, 13.5,
		18.8, 16.0, 20.5, 14.2, 17.5, 15.0, 19.0, 16.4, 18.0, 17.2} // Arrival order.
	m := testMachine(t, trapOptions())
	for i, v := range speeds {
		a := sec(3 * float64(i))
		trapVehicle(m, a, sec(4.0/v), sec(7.8/v))
	}
	dst := make([]float64, 9)
	m.sample(sec(60), dst)
	checkTrap(t, "20 vehicles", dst, trapWant{20, 17.28, 19.6, 6.0, 0})
	if dst[0] != 20 {
		t.Errorf("volume %v", dst[0])
	}
}

func TestSpeedTrapUnmatched(t *testing.T) {
	// 0 s: a vehicle on both loops at 20 m/s. 3 s: one on the upstream loop only (it changes
	// lane). 6 s: one on both at 10 m/s: its downstream front is 3.2 s after the lone upstream
	// one, beyond spacing / min_speed = 4 / 2 = 2 s, so it pairs with its own (0.4 s, 10 m/s), not
	// the lone one (which would read 1.25 m/s). 9 s: one on the downstream loop only.
	m := testMachine(t, trapOptions())
	trapVehicle(m, 0, sec(0.2), sec(0.3))
	feed(m, 0, on(sec(3), sec(3.3)))
	trapVehicle(m, sec(6), sec(0.4), sec(0.6))
	feed(m, 1, on(sec(9), sec(9.3)))
	dst := make([]float64, 9)
	m.sample(sec(20), dst)
	// Mean speed (20 + 10) / 2 = 15; lengths 20 × 0.3 - 1.8 = 4.2 and 10 × 0.6 - 1.8 = 4.2;
	// nearest rank ceil(0.85 × 2) = 2nd of (10, 20) = 20.
	checkTrap(t, "lane changes", dst, trapWant{2, 15, 20, 4.2, 2})
	if dst[0] != 3 {
		t.Errorf("upstream volume %v, want 3", dst[0])
	}

	// A lone upstream vehicle with nothing after it is unmatched once its window has passed.
	feed(m, 0, on(sec(30), sec(30.3)))
	m.sample(sec(40), dst)
	checkTrap(t, "lone upstream", dst, trapWant{0, 0, 0, 0, 1})

	// Faster than max_speed (70 m/s: 4 m in under 57 ms): not paired, both unmatched.
	trapVehicle(m, sec(45), ms(40), sec(0.1))
	m.sample(sec(60), dst)
	checkTrap(t, "too fast", dst, trapWant{0, 0, 0, 0, 2})
}

func TestAxles(t *testing.T) {
	// Issue #14: two axles 75 ms apart (2.7 m wheelbase at 130 km/h: 2.7 / 36.1 m/s = 74.8 ms)
	// are one vehicle with two axles (gap 400 ms). A tube switch bouncing 3 ms after the first
	// axle (< debounce 10 ms) adds nothing. A second car 1.5 s later: 2 vehicles, 4 axles.
	o := DefaultOptions
	o.Mode = ModeAxle
	m := testMachine(t, o)
	for _, at := range []time.Duration{0, ms(3), ms(75), sec(1.5), sec(1.575)} {
		m.pulse(at)
	}
	dst := make([]float64, 2)
	m.sample(sec(20), dst)
	if dst[0] != 2 || dst[1] != 4 {
		t.Errorf("got %v vehicles %v axles, want 2 and 4", dst[0], dst[1])
	}
	// A 5-axle truck (axles 0, 3.6, 4.9, 11.5, 12.7 m from the first) at 25 m/s: every axle
	// less than 400 ms after the previous (longest step 6.6 m = 264 ms): one vehicle.
	for _, x := range []float64{0, 3.6, 4.9, 11.5, 12.7} {
		m.pulse(sec(30 + x/25))
	}
	m.sample(sec(40), dst)
	if dst[0] != 1 || dst[1] != 5 {
		t.Errorf("truck: got %v vehicles %v axles, want 1 and 5", dst[0], dst[1])
	}
}

func TestMachineAllocs(t *testing.T) {
	m := testMachine(t, trapOptions())
	dst := make([]float64, 9)
	var at time.Duration
	n := testing.AllocsPerRun(200, func() {
		at += sec(2)
		trapVehicle(m, at, sec(0.2), sec(0.3))
		m.sample(at+sec(1), dst)
	})
	if n != 0 {
		t.Errorf("speed trap: %v allocs per vehicle and sample", n)
	}
	o := DefaultOptions
	o.Mode = ModeAxle
	m = testMachine(t, o)
	n = testing.AllocsPerRun(200, func() {
		at += sec(2)
		m.pulse(at)
		m.sample(at+sec(1), dst)
	})
	if n != 0 {
		t.Errorf("axle: %v allocs per pulse and sample", n)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultOptions.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	o := DefaultOptions
	o.Mode = "loop"
	o.Active = "0"
	o.Pull = "pullup"
	o.MinOn = -time.Millisecond
	o.MinOff = time.Minute
	o.Trap.MinSpeed = 80
	o.Axle.Gap = 0
	err := o.Validate()
	want := []string{"mode", "active", "pull", "min_on", "min_off", "trap.min_speed", "axle.gap"}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *sensor.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		fields = append(fields, fe.Field)
	}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("fields %v, want %v\n%v", fields, want, err)
	}
	o = DefaultOptions
	o.Mode = ModeSpeedTrap
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "trap.spacing: required") {
		t.Errorf("speed trap without spacing: %v", err)
	}
}

func TestOptionsYAML(t *testing.T) {
	// What the registry does: decode the sensor's mapping over a copy of the defaults, strictly.
	src := `
mode: speed-trap
active: high
pull: none
min_off: 150ms
trap:
  spacing: 4.0
  max_speed: 60
`
	o := DefaultOptions
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultOptions
	want.Mode, want.Active, want.Pull, want.MinOff = ModeSpeedTrap, "high", "none", 150*time.Millisecond
	want.Trap.Spacing, want.Trap.MaxSpeed = 4, 60
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
}

// BenchmarkAggregate is the detector's cost per vehicle (make bench's interval-aggregation table):
// its four edges through the two loops' presence machines and the trap's pairing and histogram,
// and one interval's Sample per 30 vehicles.
func BenchmarkAggregate(b *testing.B) {
	b.Run("speed_trap_vehicle", func(b *testing.B) {
		m := testMachine(b, trapOptions())
		dst := make([]float64, 9)
		var at time.Duration
		b.ReportAllocs()
		for i := range b.N {
			at += sec(2)
			trapVehicle(m, at, sec(0.2), sec(0.3))
			if i%30 == 29 {
				m.sample(at+sec(1), dst)
			}
		}
	})
}
