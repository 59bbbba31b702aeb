package ops243

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestParseLine(t *testing.T) {
	ms := func(v float64) physic.Speed { return physic.Speed(math.Round(v * 1e9)) }
	for _, tc := range []struct {
		line string
		unit Unit
		want physic.Speed
		res  Result
	}{
		{"12.4", MetrePerSecond, ms(12.4), ResultSpeed},
		{"-3.7", MetrePerSecond, ms(-3.7), ResultSpeed}, // Receding target with R|.
		{"+5", MetrePerSecond, ms(5), ResultSpeed},
		{" 12.40 ", MetrePerSecond, ms(12.4), ResultSpeed},
		{"45.0", KilometrePerHour, ms(12.5), ResultSpeed},
		{"10", MilePerHour, 10 * physic.MilePerHour, ResultSpeed},
		{"10", FootPerSecond, 10 * physic.FootPerSecond, ResultSpeed},
		{"1250", CentimetrePerSecond, ms(12.5), ResultSpeed},
		{`{"unit":"mps","speed":"12.4"}`, KilometrePerHour, ms(12.4), ResultSpeed},
		{`{"speed":"12.4"}`, MetrePerSecond, ms(12.4), ResultSpeed},
		{`{ "speed" : 12.4 }`, MetrePerSecond, ms(12.4), ResultSpeed},
		{`{"speed":"-36.0","unit":"kmph"}`, MetrePerSecond, ms(-10), ResultSpeed},
		{`"mps",-1.2`, KilometrePerHour, ms(-1.2), ResultSpeed}, // Units in output (Ou).
		{`"kmph", 36`, MetrePerSecond, ms(10), ResultSpeed},
		{`"parsec",1`, MetrePerSecond, 0, ResultGarbage},
		{`"mps" 1.2`, MetrePerSecond, 0, ResultGarbage},
		{`{"speed":0.58,"direction":"inbound"}`, MetrePerSecond, ms(0.58), ResultSpeed},
		{`{"speed":0.58,"direction":"outbound"}`, MetrePerSecond, ms(-0.58), ResultSpeed},
		{`{"direction":"outbound","speed":"-2.5"}`, MetrePerSecond, ms(-2.5), ResultSpeed},
		{`{"speed":"-2.5","direction":"inbound"}`, MetrePerSecond, ms(2.5), ResultSpeed},
		{`{"speed":1,"direction":"sideways"}`, MetrePerSecond, 0, ResultGarbage},
		{`{"Units":"m-per-sec"}`, MetrePerSecond, 0, ResultIgnored},
		{`{}`, MetrePerSecond, 0, ResultIgnored},
		{"", MetrePerSecond, 0, ResultGarbage},
		{"12.4.5", MetrePerSecond, 0, ResultGarbage},
		{"12,4", MetrePerSecond, 0, ResultGarbage},
		{"-", MetrePerSecond, 0, ResultGarbage},
		{"mph", MetrePerSecond, 0, ResultGarbage},
		{"1234567890123456", MetrePerSecond, 0, ResultGarbage},
		{"{", MetrePerSecond, 0, ResultGarbage},
		{`{"speed":"fast"}`, MetrePerSecond, 0, ResultGarbage},
		{`{"unit":"parsec","speed":"1"}`, MetrePerSecond, 0, ResultGarbage},
		{`{"speed":"1"} x`, MetrePerSecond, 0, ResultGarbage},
		{`{"speed":{"v":1}}`, MetrePerSecond, 0, ResultGarbage},
		{`{"sp\"eed":"1"}`, MetrePerSecond, 0, ResultGarbage},
		{`{"speed":"1",}`, MetrePerSecond, 0, ResultGarbage},
		{`{"speed" "1"}`, MetrePerSecond, 0, ResultGarbage},
	} {
		v, res := ParseLine([]byte(tc.line), tc.unit)
		if res != tc.res || (res == ResultSpeed && abs(v-tc.want) > 2) {
			t.Errorf("%q in %s: %s %d, want %s %d", tc.line, tc.unit, v, res, tc.want, tc.res)
		}
	}
	lines := [][]byte{[]byte("12.4"), []byte(`{"unit":"kmph","speed":"-36.0"}`), []byte("junk")}
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
		if got, res := ParseLine(line, u); res != ResultSpeed || abs(got-v) > 5*physic.MilliMetrePerSecond {
			t.Errorf("%s %q: %s %d", u, line, got, res)
		}
		// JSON carries its unit: the default passed must not matter.
		line = bytes.TrimRight(AppendJSON(nil, v, u, 3), "\r\n")
		if got, res := ParseLine(line, MilePerHour); res != ResultSpeed || abs(got-v) > 5*physic.MilliMetrePerSecond {
			t.Errorf("%s %q: %s %d", u, line, got, res)
		}
	}
}

func pipeDev(t *testing.T, o *Opts) (*Dev, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	d, err := New(pr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pw.Close()
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
	})
	return d, pw
}

func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 5, 7, 0, 0, 0, time.UTC)

func TestSampleMax(t *testing.T) {
	d, w := pipeDev(t, &Opts{Name: "ttyACM0", Unit: KilometrePerHour, MaxSpeed: 100 * physic.MetrePerSecond,
		Poll: time.Second, HaltTimeout: time.Second})
	if d.String() != "ops243(ttyACM0)" || d.Channels()[0].Unit != "m/s" {
		t.Fatal(d, d.Channels())
	}
	dst := make([]float64, 1)
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("no target: %v", err)
	}
	// A vehicle receding: speeds in km/h, negative, peak -72 km/h; one answer to a command.
	write(t, w, "-36.0\r\n{\"Units\":\"km-per-hr\"}\r\n-72.0\r\n-54.0\r\n")
	drivertest.WaitFor(t, "3 speeds", func() bool { return d.Stats().Speeds == 3 })
	if err := d.Sample(t0, dst); err != nil || math.Abs(dst[0]+20) > 1e-6 {
		t.Fatalf("%v %v, want -20 m/s", err, dst)
	}
	if s, ok := d.Last(); !ok || abs(s+15*physic.MetrePerSecond) > 1 {
		t.Errorf("last %s", s)
	}
	if st := d.Stats(); st.Ignored != 1 || st.Garbage != 0 {
		t.Errorf("%+v", st)
	}
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("nothing new: %v", err)
	}
	// Only garbage: a frame error once, then no data.
	write(t, w, "12.\x004\r\n"+strings.Repeat("9", 200)+"\r\n")
	drivertest.WaitFor(t, "garbage", func() bool { return d.Stats().Garbage == 2 })
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("garbage: %v", err)
	}
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("after garbage: %v", err)
	}
	// Out of range: 400 km/h > 100 m/s.
	write(t, w, "400\r\n")
	drivertest.WaitFor(t, "range", func() bool { return d.Stats().Range == 1 })
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrRange) {
		t.Errorf("out of range: %v", err)
	}
	// A good speed wins over garbage around it.
	write(t, w, "xx\r\n18\r\n")
	drivertest.WaitFor(t, "speed", func() bool { return d.Stats().Speeds == 4 })
	if err := d.Sample(t0, dst); err != nil || math.Abs(dst[0]-5) > 1e-6 {
		t.Errorf("%v %v", err, dst)
	}
	write(t, w, "18\r\n")
	drivertest.WaitFor(t, "speed", func() bool { return d.Stats().Speeds == 5 })
	if n := testing.AllocsPerRun(10, func() { _ = d.Sample(t0, dst) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
}

func TestSampleLatestJSON(t *testing.T) {
	o := DefaultOpts
	o.Report = Latest
	d, w := pipeDev(t, &o)
	write(t, w, `{"unit":"mps","speed":"12.4"}`+"\r\n"+`{"unit":"mps","speed":"30.1"}`+"\n"+`{"speed":"11.0"}`+"\r\n")
	drivertest.WaitFor(t, "3 speeds", func() bool { return d.Stats().Speeds == 3 })
	dst := make([]float64, 1)
	if err := d.Sample(t0, dst); err != nil || dst[0] != 11 {
		t.Errorf("%v %v", err, dst)
	}
}

func TestSetup(t *testing.T) {
	var cmd bytes.Buffer
	o := DefaultOpts
	o.Unit, o.Setup = KilometrePerHour, &cmd
	d, _ := pipeDev(t, &o)
	_ = d
	if cmd.String() != "UK\r\nOj\r\n" {
		t.Errorf("setup %q", cmd.String())
	}
	o.Setup = failWriter{}
	if _, err := New(strings.NewReader(""), &o); !errors.Is(err, sensor.ErrBus) {
		t.Errorf("setup failure: %v", err)
	}
	o = DefaultOpts
	o.Unit = 9
	if _, err := New(strings.NewReader(""), &o); err == nil {
		t.Error("bad unit accepted")
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("nil reader accepted")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("port gone") }

func TestReaderError(t *testing.T) {
	d, w := pipeDev(t, nil)
	write(t, w, "12.0\r\n")
	drivertest.WaitFor(t, "speed", func() bool { return d.Stats().Speeds == 1 })
	w.CloseWithError(errors.New("usb reset"))
	<-d.rd.Done()
	dst := make([]float64, 1)
	// The speed read before the error is still reported, then the error.
	if err := d.Sample(t0, dst); err != nil || dst[0] != 12 {
		t.Errorf("%v %v", err, dst)
	}
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrBus) || !strings.HasPrefix(err.Error(), "ops243: ") {
		t.Errorf("%v", err)
	}
}

func TestHaltWithDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	d, err := New(a, &Opts{Unit: MetrePerSecond, MaxSpeed: physic.KiloMetrePerSecond, Poll: 10 * time.Millisecond, HaltTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	write(t, b, "1.5\r\n")
	drivertest.WaitFor(t, "speed", func() bool { return d.Stats().Speeds == 1 })
	start := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Halt took %s", el)
	}
}

func TestHaltWithoutDeadline(t *testing.T) {
	pr, pw := io.Pipe()
	o := DefaultOpts
	o.HaltTimeout = 20 * time.Millisecond
	d, err := New(pr, &o)
	if err != nil {
		t.Fatal(err)
	}
	write(t, pw, "1.5\r\n")
	drivertest.WaitFor(t, "speed", func() bool { return d.Stats().Speeds == 1 })
	if err := d.Halt(); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("Halt with the port open: %v", err)
	}
	pw.Close()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
}
