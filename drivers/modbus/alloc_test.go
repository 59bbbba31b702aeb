package modbus

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// cannedPort answers every request with one fixed frame, without allocating.
type cannedPort struct {
	answer []byte
	out    []byte
	req    [RequestLen]byte
}

func (p *cannedPort) Write(b []byte) (int, error) {
	copy(p.req[:], b)
	p.out = p.answer
	return len(b), nil
}

func (p *cannedPort) Read(b []byte) (int, error) {
	if len(p.out) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

func (p *cannedPort) SetReadDeadline(time.Time) error { return nil }

// TestSampleDoesNotAllocate: a request, its answer decoded into readings: 0 allocations.
func TestSampleDoesNotAllocate(t *testing.T) {
	p := &cannedPort{answer: adu(1, 0x03, 0x06, 0x07, 0x02, 0x07, 0x1D, 0x07, 0x1D)}
	o := validOptions()
	o.Registers = []Register{reg("t", "Cel", "holding", 0, "i16"), reg("vwc", "%", "holding", 1, "u16"), reg("ec", "S/m", "holding", 2, "u16")}
	bus, err := NewBus(p, "canned", o.Serial())
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, &o)
	if err != nil {
		t.Fatal(err)
	}
	old := sleep
	sleep = func(time.Duration) {}
	t.Cleanup(func() { sleep = old })
	dst := make([]float64, 3)
	if err := d.Sample(time.Now(), dst); err != nil || dst[0] != 1794 {
		t.Fatalf("%v %v", dst, err)
	}
	if !bytes.Equal(p.req[:], AppendRequest(nil, 1, FuncReadHolding, 0, 3)) {
		t.Fatalf("request % X", p.req)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Sample(time.Now(), dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
	items := make([]uint16, 3)
	if n := testing.AllocsPerRun(100, func() { _ = DecodeResponse(p.answer, 1, FuncReadHolding, 3, items) }); n != 0 {
		t.Fatalf("DecodeResponse allocates %v times", n)
	}
}
