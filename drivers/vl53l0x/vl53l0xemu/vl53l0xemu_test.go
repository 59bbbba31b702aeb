package vl53l0xemu_test

import (
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/drivers/vl53l0x"
	"github.com/wayside-iot/wayside/drivers/vl53l0x/vl53l0xemu"
)

func TestDriverOnEmu(t *testing.T) {
	e := vl53l0xemu.New(0x29)
	e.SetReadyAfter(2)
	o := vl53l0x.DefaultOpts
	o.Confirm = 1
	d, err := vl53l0x.New(e, 0x29, &o)
	if err != nil {
		t.Fatal(err)
	}
	if e.Starts() != 2 {
		t.Errorf("%d starts during init, want the 2 reference calibrations", e.Starts())
	}
	dst := make([]float64, 2)
	for _, tc := range []struct {
		dist physic.Distance
		none bool
		want [2]float64
	}{
		{dist: 250 * physic.MilliMetre, want: [2]float64{0.25, 1}},
		{dist: 1000 * physic.MilliMetre, want: [2]float64{1, 1}},
		{dist: 1800 * physic.MilliMetre, want: [2]float64{1.8, 0}},
		{none: true, want: [2]float64{2, 0}},
		{dist: 400 * physic.MilliMetre, want: [2]float64{0.4, 1}},
	} {
		if tc.none {
			e.SetNoTarget()
		} else {
			e.SetDistance(tc.dist)
		}
		if err := d.Sample(time.Time{}, dst); err != nil {
			t.Fatal(err)
		}
		if dst[0] != tc.want[0] || dst[1] != tc.want[1] {
			t.Errorf("%s: %v, want %v", tc.dist, dst, tc.want)
		}
	}
	// A hung chip trips the stuck check.
	e.SetFrozen(true)
	var err2 error
	for i := 0; i < o.StuckAfter+1 && err2 == nil; i++ {
		err2 = d.Sample(time.Time{}, dst)
	}
	if !errors.Is(err2, sensor.ErrStuck) {
		t.Errorf("frozen chip: %v", err2)
	}
	e.SetFrozen(false)
	// A measurement that never completes times out.
	e.SetReadyAfter(1000)
	if err := d.Sample(time.Time{}, dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Errorf("slow chip: %v", err)
	}
}

func TestNACK(t *testing.T) {
	if _, err := vl53l0x.New(vl53l0xemu.New(0x29), 0x30, nil); !errors.Is(err, sensor.ErrBus) {
		t.Fatal(err)
	}
}

// TestTooCloseThroughEmulator: a target closer than the part ranges is no data, for as long as it
// lasts, and the bay keeps its state; the next real distance is reported.
func TestTooCloseThroughEmulator(t *testing.T) {
	e := vl53l0xemu.New(0x29)
	o := vl53l0x.DefaultOptions
	o.Confirm, o.InvalidAfter = 1, 2
	d, err := vl53l0x.NewWithOptions(e, 0x29, &o)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 2)
	e.SetDistance(300 * physic.MilliMetre)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[1] != 1 {
		t.Fatalf("parked: %v %v", dst, err)
	}
	e.SetTooClose()
	for i := range 5 {
		if err := d.Sample(time.Time{}, dst); sensor.Kind(err) != sensor.ErrNoData {
			t.Fatalf("too close %d: %v, want ErrNoData", i, err)
		}
	}
	if !d.Occupied() {
		t.Error("occupancy changed without data")
	}
	e.SetDistance(1500 * physic.MilliMetre)
	if err := d.Sample(time.Time{}, dst); err != nil || dst[0] != 1.5 || dst[1] != 0 {
		t.Fatalf("left: %v %v", dst, err)
	}
}
