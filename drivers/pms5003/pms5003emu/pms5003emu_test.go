package pms5003emu

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/pms5003"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func TestEncodeDecode(t *testing.T) {
	f := Atmospheric(7, 12, 19)
	b := Encode(f)
	var got pms5003.Frame
	if err := pms5003.Decode(b[:], &got); err != nil {
		t.Fatal(err)
	}
	if got != f {
		t.Fatalf("got %+v, want %+v", got, f)
	}
}

func TestDriverThroughEncoder(t *testing.T) {
	pr, pw := io.Pipe()
	d, err := pms5003.New(pr, "emu", nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	for _, c := range [][3]uint16{{3, 5, 8}, {40, 61, 90}, {0, 0, 0}} {
		frame := Append([]byte{0x00, 0x42}, Atmospheric(c[0], c[1], c[2])) // with line noise in front
		if _, err := pw.Write(frame); err != nil {
			t.Fatal(err)
		}
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if err = d.Sample(time.Now(), dst); !errors.Is(err, sensor.ErrNoData) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if dst[0] != float64(c[0]) || dst[1] != float64(c[1]) || dst[2] != float64(c[2]) {
			t.Errorf("sent %v, decoded %v", c, dst)
		}
	}
	pw.Close()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
}
