package nmea

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		field string
		o     Options
	}{
		{"sentences", Options{Sentences: "GGA", MaxAge: time.Second}},
		{"sentences", Options{Sentences: "", MaxAge: time.Second}},
		{"max_age", Options{Sentences: "rmc"}},
	} {
		var fe *sensor.FieldError
		if err := c.o.Validate(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want a FieldError for %s", c.o, err, c.field)
		}
		if _, err := NewWithOptions(rw{}, "x", &c.o); !errors.As(err, &fe) {
			t.Errorf("NewWithOptions accepted %+v: %v", c.o, err)
		}
	}
}

// rw is a port: the driver only reads.
type rw struct {
	io.Reader
	io.Writer
}

func optionsDev(t *testing.T, sentences string) (*Dev, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	o := Options{Sentences: sentences, MaxAge: 3 * time.Second}
	d, err := NewWithOptions(rw{Reader: pr}, "ttyS2", &o)
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

// TestRMCOnly: a receiver that sends RMC and no GGA. RMC's layout (gpsd "NMEA Revealed", RMC; NMEA
// 0183 v4.11): time, status A/V, lat, N/S, lon, E/W, speed, course, date, magnetic variation, E/W,
// mode. Position from the classic example 4807.038,N 01131.000,E = 48 + 7.038/60, 11 + 31/60.
func TestRMCOnly(t *testing.T) {
	clk := useClock(t)
	d, w := optionsDev(t, SentencesRMC)
	if d.String() != "nmea(ttyS2)" {
		t.Error(d)
	}
	ch := d.Channels()
	if len(ch) != 2 || ch[0] != (sensor.Channel{Name: "lat", Unit: "lat", Resolution: 1e-7}) || ch[1] != (sensor.Channel{Name: "lon", Unit: "lon", Resolution: 1e-7}) {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 2)
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("before any sentence: %v", err)
	}
	write(t, w, classicRMC)
	drivertest.WaitFor(t, "RMC", func() bool { return d.Stats().RMC == 1 })
	if err := d.Sample(t0.Add(time.Second), dst); err != nil {
		t.Fatal(err)
	}
	if !near(dst[0], 48+7.038/60, 1e-9) || !near(dst[1], 11+31.0/60, 1e-9) {
		t.Errorf("position %v", dst)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Sample(t0, dst) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
	if err := d.Sample(t0.Add(4*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("stale: %v", err)
	}
	// Status V (void): no fix, whatever the position fields say.
	clk.set(t0.Add(10 * time.Second))
	write(t, w, sum("GPRMC,123529,V,4807.038,N,01131.000,E,,,230394,,,N"))
	drivertest.WaitFor(t, "RMC", func() bool { return d.Stats().RMC == 2 })
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("void: %v", err)
	}
	// GGA sentences do not make an rmc fix.
	write(t, w, classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("GGA after a void RMC: %v", err)
	}
}

// TestBoth: a fix needs a fresh, valid GGA and a fresh RMC with status A.
func TestBoth(t *testing.T) {
	clk := useClock(t)
	d, w := optionsDev(t, SentencesBoth)
	if len(d.Channels()) != 5 {
		t.Fatal(d.Channels())
	}
	dst := make([]float64, 5)
	write(t, w, classicGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 1 })
	if err := d.Sample(t0, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("GGA alone: %v", err)
	}
	write(t, w, classicRMC)
	drivertest.WaitFor(t, "RMC", func() bool { return d.Stats().RMC == 1 })
	if err := d.Sample(t0, dst); err != nil || dst[2] != 545.4 || dst[4] != 8 {
		t.Errorf("both: %v %v", dst, err)
	}
	// The RMC goes stale while GGA keeps coming.
	clk.set(t0.Add(5 * time.Second))
	write(t, w, ubloxGGA)
	drivertest.WaitFor(t, "GGA", func() bool { return d.Stats().GGA == 2 })
	if err := d.Sample(t0.Add(5*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Errorf("stale RMC: %v", err)
	}
}
