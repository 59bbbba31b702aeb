package pulse

import (
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
)

// TestPresenceThroughGPIO drives the presence mode through a periph gpiotest.Pin: the goroutine
// stamps each edge with the clock seam and reads the level after it, as on gpioioctl.
func TestPresenceThroughGPIO(t *testing.T) {
	clk := useClock(t)
	p := newPin(1)
	d, err := NewWithOptions([]gpio.PinIn{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
	})
	p.Lock()
	pull := p.P
	p.Unlock()
	if pull != gpio.PullUp {
		t.Errorf("pull %s", pull)
	}
	var names []string
	for _, c := range d.Channels() {
		names = append(names, c.Name+" "+c.Unit)
	}
	if got := strings.Join(names, ", "); got != "volume count, occupancy %, headway s, gap s" {
		t.Errorf("channels %s", got)
	}
	// The timeline, active low (see TestIssueTimelineIsOneVehicle), then a second vehicle
	// 1.5 s after the first, present 470 ms.
	steps := []struct {
		at    time.Duration
		level gpio.Level
	}{
		{0, gpio.Low}, {ms(0.5), gpio.High}, {ms(1), gpio.Low}, {ms(2), gpio.High}, {ms(3), gpio.Low},
		{ms(468), gpio.High}, {ms(469), gpio.Low}, {ms(470), gpio.High}, {ms(471), gpio.Low}, {ms(472), gpio.High},
		{ms(1500), gpio.Low}, {ms(1970), gpio.High},
	}
	for i, s := range steps {
		clk.set(s.at)
		p.EdgesChan <- s.level
		drivertest.WaitFor(t, "edge", func() bool { return d.Stats().Edges == uint64(i+1) })
	}
	// Two vehicles: occupancy (0.472 + 0.47) / 20 = 4.71 %; headway 1.5 s; gap 1.5 - 0.472 =
	// 1.028 s.
	dst := make([]float64, 4)
	if err := d.Sample(t0.Add(20*time.Second), dst); err != nil {
		t.Fatal(err)
	}
	checkPresence(t, "gpio timeline", dst, presenceWant{2, 4.71, 1.5, 1.028})
	if st := d.Stats(); st.Counted != 2 || st.Rejected != 0 {
		t.Errorf("%+v", st)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Sample(t0.Add(30*time.Second), dst) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
}

func TestNewWithOptionsRefuses(t *testing.T) {
	o := DefaultOptions
	o.Mode = ModeSpeedTrap
	o.Trap.Spacing = 4
	if _, err := NewWithOptions([]gpio.PinIn{newPin(1)}, &o); err == nil || !strings.Contains(err.Error(), "2 line(s)") {
		t.Errorf("speed trap on one line: %v", err)
	}
	o.Mode = "loop"
	if _, err := NewWithOptions([]gpio.PinIn{newPin(1)}, &o); err == nil || !strings.Contains(err.Error(), "mode:") {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := NewWithOptions([]gpio.PinIn{nil}, nil); err == nil {
		t.Error("nil pin accepted")
	}
}
