package pms5003emu

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/pms5003"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

func read(t *testing.T, p *Port, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(p, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPortCommands: the manual's host commands (appendix II) with their sums written out.
func TestPortCommands(t *testing.T) {
	p := NewPort()
	f := Atmospheric(5, 8, 12)
	p.Set(f) // awake, active: streamed
	if got, want := read(t, p, 32), Encode(f); !bytes.Equal(got, want[:]) {
		t.Fatalf("active frame % x", got)
	}
	// Passive mode 42 4D E1 00 00 01 70: answered 42 4D 00 04 E1 00 01 74; then Set is not sent, a
	// read (42 4D E2 00 00 01 71) is.
	p.Write([]byte{0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70})
	if got := read(t, p, 8); !bytes.Equal(got, []byte{0x42, 0x4D, 0x00, 0x04, 0xE1, 0x00, 0x01, 0x74}) {
		t.Fatalf("passive answer % x", got)
	}
	p.Set(Atmospheric(6, 9, 13))
	p.Write([]byte{0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71})
	if got, want := read(t, p, 32), Encode(Atmospheric(6, 9, 13)); !bytes.Equal(got, want[:]) {
		t.Fatalf("passive read % x", got)
	}
	// Sleep 42 4D E4 00 00 01 73: answered, then nothing until wake-up 42 4D E4 00 01 01 74.
	p.Write([]byte{0x42, 0x4D, 0xE4, 0x00, 0x00, 0x01, 0x73})
	if got := read(t, p, 8); !bytes.Equal(got, []byte{0x42, 0x4D, 0x00, 0x04, 0xE4, 0x00, 0x01, 0x77}) || !p.Asleep() {
		t.Fatalf("sleep answer % x asleep %v", got, p.Asleep())
	}
	p.Write([]byte{0x42, 0x4D, 0xE1, 0x00, 0x01, 0x01, 0x72}) // wrong sum (0x0171): ignored
	p.Write([]byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74})
	if p.Asleep() || len(p.Commands()) != 4 {
		t.Fatalf("asleep %v, %d commands", p.Asleep(), len(p.Commands()))
	}
	p.Close()
	if _, err := p.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Close: %v", err)
	}
}

// TestDriverOnPort: NewWithOptions wakes the part and sets active mode; frames within the warm-up
// are no data, not a fault.
func TestDriverOnPort(t *testing.T) {
	p := NewPort()
	o := pms5003.DefaultOptions
	o.SleepBetween = true
	d, err := pms5003.NewWithOptions(p, "ttyAMA1", &o)
	if err != nil {
		t.Fatal(err)
	}
	cmds := p.Commands()
	if len(cmds) != 2 || cmds[0] != [7]byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74} || cmds[1] != [7]byte{0x42, 0x4D, 0xE1, 0x00, 0x01, 0x01, 0x71} {
		t.Fatalf("commands % x", cmds)
	}
	p.Set(Atmospheric(5, 8, 12))
	time.Sleep(20 * time.Millisecond)
	if err := d.Sample(time.Now(), make([]float64, 3)); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("in the warm-up: %v", err)
	}
	// Halt sends sleep first; its answer unblocks the reader, which then sees the stop.
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if !p.Asleep() {
		t.Error("Halt with sleep_between left the fan running")
	}
}
