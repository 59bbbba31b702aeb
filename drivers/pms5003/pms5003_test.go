package pms5003

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/internal/drivertest"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// handFrame was laid out by hand from the datasheet's frame table and its check code computed
// separately: CF=1 12/18/21, atmospheric 11/17/20 µg/m³, counts 2100/620/110/12/4/1, reserved 0;
// check code 0x0237 = sum of the 30 bytes before it.
var handFrame = []byte{
	0x42, 0x4D, 0x00, 0x1C, // start 1, start 2, frame length 28
	0x00, 0x0C, 0x00, 0x12, 0x00, 0x15, // data 1..3: CF=1
	0x00, 0x0B, 0x00, 0x11, 0x00, 0x14, // data 4..6: atmospheric
	0x08, 0x34, 0x02, 0x6C, 0x00, 0x6E, 0x00, 0x0C, 0x00, 0x04, 0x00, 0x01, // data 7..12: counts
	0x00, 0x00, // data 13: reserved
	0x02, 0x37, // check code
}

var handDecoded = Frame{
	PM1CF1: 12, PM25CF1: 18, PM10CF1: 21, PM1: 11, PM25: 17, PM10: 20,
	Count03: 2100, Count05: 620, Count10: 110, Count25: 12, Count50: 4, Count100: 1,
}

// frame encodes atmospheric values (CF=1 the same) with a correct check code.
func frame(pm1, pm25, pm10 uint16) []byte {
	b := []byte{0x42, 0x4D, 0x00, 0x1C}
	for _, w := range []uint16{pm1, pm25, pm10, pm1, pm25, pm10, 1000, 300, 50, 5, 1, 0, 0} {
		b = append(b, byte(w>>8), byte(w))
	}
	var s uint16
	for _, v := range b {
		s += uint16(v)
	}
	return append(b, byte(s>>8), byte(s))
}

func badChecksum(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[31] ^= 0x01
	return b
}

func TestDecode(t *testing.T) {
	var f Frame
	if err := Decode(handFrame, &f); err != nil {
		t.Fatal(err)
	}
	if f != handDecoded {
		t.Fatalf("got %+v, want %+v", f, handDecoded)
	}
	if err := Decode(badChecksum(handFrame), &f); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("bad checksum: %v", err)
	}
	if err := Decode(handFrame[:20], &f); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("short: %v", err)
	}
	b := append([]byte(nil), handFrame...)
	b[3] = 0x14 // frame length 20 (the PMS3003's)
	if err := Decode(b, &f); !errors.Is(err, sensor.ErrFrame) {
		t.Errorf("length 20: %v", err)
	}
}

// recorder is a parse sink.
type recorder struct {
	good []Frame
	bad  []error
}

func (r *recorder) good_(f *Frame) { r.good = append(r.good, *f) }

type recSink struct{ r *recorder }

func (s recSink) good(f *Frame)  { s.r.good_(f) }
func (s recSink) bad(kind error) { s.r.bad = append(s.r.bad, kind) }

func TestParserResync(t *testing.T) {
	var stream []byte
	stream = append(stream, 0x00, 0xFF, 0x42, 0x42, 0x13) // garbage, with lone start bytes
	stream = append(stream, handFrame...)                 // good
	stream = append(stream, 0x42, 0x4D, 0x00, 0x99)       // start bytes with a bad length
	stream = append(stream, badChecksum(frame(5, 6, 7))...)
	stream = append(stream, frame(1, 2, 3)[:20]...) // short: cut after 20 bytes
	stream = append(stream, frame(30, 40, 50)...)   // good
	stream = append(stream, frame(8, 9, 10)[:7]...) // partial: kept for later
	// Feed in uneven chunks, as a UART driver would deliver them.
	var p parser
	rec := &recorder{}
	for len(stream) > 0 {
		n := copy(p.space()[:min(len(p.space()), 13)], stream)
		stream = stream[n:]
		p.n += n
		p.parse(recSink{rec})
	}
	if len(rec.good) != 2 || rec.good[0] != handDecoded || rec.good[1].PM25 != 40 {
		t.Fatalf("good frames %+v", rec.good)
	}
	want := []error{sensor.ErrFrame, sensor.ErrCRC, sensor.ErrFrame}
	if len(rec.bad) != len(want) {
		t.Fatalf("bad %v", rec.bad)
	}
	for i := range want {
		if !errors.Is(rec.bad[i], want[i]) {
			t.Errorf("bad[%d] = %v, want %v", i, rec.bad[i], want[i])
		}
	}
	if p.n != 7 {
		t.Errorf("kept %d bytes of the partial frame, want 7", p.n)
	}
}

// waitEnded waits for the reader goroutine to end on its own (EOF).
func waitEnded(t *testing.T, d *Dev) {
	t.Helper()
	select {
	case <-d.rd.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not end")
	}
}

func (d *Dev) counts() (seq, bad uint64, badErr error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seq, d.badSeq, d.badErr
}

func TestStreamOverPipe(t *testing.T) {
	pr, pw := io.Pipe()
	d, err := New(pr, "ttyAMA1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "pms5003(ttyAMA1)" {
		t.Errorf("name %q", d)
	}
	if ch := d.Channels(); len(ch) != 3 || ch[0] != (sensor.Channel{Name: "pm1", Unit: "ug/m3", Resolution: 1}) || ch[1].Name != "pm2_5" || ch[2].Name != "pm10" {
		t.Fatalf("channels %v", ch)
	}
	dst := make([]float64, 3)
	at := time.Now()
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("before any frame: %v", err)
	}

	// Garbage, then a good frame written in two pieces.
	pw.Write([]byte{0x13, 0x37, 0x42})
	pw.Write(handFrame[:10])
	pw.Write(handFrame[10:])
	drivertest.WaitFor(t, "1 good frame", func() bool { s, _, _ := d.counts(); return s == 1 })
	if err := d.Sample(at, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 11 || dst[1] != 17 || dst[2] != 20 {
		t.Errorf("got %v, want atmospheric [11 17 20]", dst)
	}
	if f, _, ok := d.Latest(); !ok || f != handDecoded {
		t.Errorf("Latest %+v %v", f, ok)
	}
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("same frame twice: %v", err)
	}

	// A bad check code only: Sample says so once, then no data again.
	pw.Write(badChecksum(frame(5, 6, 7)))
	drivertest.WaitFor(t, "1 bad frame", func() bool { _, b, _ := d.counts(); return b == 1 })
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrCRC) {
		t.Fatalf("bad checksum: %v", err)
	}
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("after bad checksum: %v", err)
	}

	// A short frame followed by a good one: the good one wins, the short one is recorded.
	pw.Write(append(frame(1, 2, 3)[:20], frame(30, 40, 50)...))
	drivertest.WaitFor(t, "2 good frames", func() bool { s, _, _ := d.counts(); return s == 2 })
	if _, _, e := d.counts(); !errors.Is(e, sensor.ErrFrame) {
		t.Errorf("short frame recorded as %v", e)
	}
	if err := d.Sample(at, dst); err != nil || dst[1] != 40 {
		t.Fatalf("after short frame: %v %v", dst, err)
	}

	// The port closes: the goroutine ends and Sample reports a bus error.
	pw.Close()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(at, dst); !errors.Is(err, sensor.ErrBus) {
		t.Fatalf("closed: %v", err)
	}
}

func TestStreamFromBytesReader(t *testing.T) {
	var stream []byte
	stream = append(stream, []byte("garbage\r\n")...)
	stream = append(stream, handFrame...)
	stream = append(stream, badChecksum(frame(5, 6, 7))...)
	stream = append(stream, frame(1, 2, 3)[:12]...)
	stream = append(stream, frame(30, 40, 50)...)
	d, err := New(bytes.NewReader(stream), "bytes", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, d)
	dst := make([]float64, 3)
	if err := d.Sample(time.Now(), dst); err != nil || dst[0] != 30 || dst[1] != 40 || dst[2] != 50 {
		t.Fatalf("got %v %v", dst, err)
	}
	if s, b, _ := d.counts(); s != 2 || b != 2 {
		t.Errorf("good %d bad %d, want 2 and 2", s, b)
	}
	if err := d.Sample(time.Now(), dst); !errors.Is(err, sensor.ErrBus) || !errors.Is(err, io.EOF) {
		t.Fatalf("after EOF: %v", err)
	}
}

func TestStaleness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var clock atomic.Int64 // seconds after t0
	old := now
	now = func() time.Time { return t0.Add(time.Duration(clock.Load()) * time.Second) }
	t.Cleanup(func() { now = old })
	pr, pw := io.Pipe()
	defer pw.Close()
	d, err := New(pr, "stale", nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	if err := d.Sample(t0.Add(10*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("at the bound: %v", err)
	}
	if err := d.Sample(t0.Add(11*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("no frame for 11 s: %v", err)
	}
	clock.Store(12) // the frame arrives 12 s after the start
	pw.Write(frame(1, 2, 3))
	drivertest.WaitFor(t, "1 good frame", func() bool { s, _, _ := d.counts(); return s == 1 })
	if err := d.Sample(t0.Add(12*time.Second), dst); err != nil {
		t.Fatal(err)
	}
	if err := d.Sample(t0.Add(20*time.Second), dst); !errors.Is(err, sensor.ErrNoData) {
		t.Fatalf("8 s after the frame: %v", err)
	}
	if err := d.Sample(t0.Add(23*time.Second), dst); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("11 s after the frame: %v", err)
	}
}

func TestOutOfRange(t *testing.T) {
	// Smoke: PM10 above the datasheet's 1000 µg/m³ is still a reading.
	d, err := New(bytes.NewReader(frame(700, 1200, 1500)), "smoke", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, d)
	dst := make([]float64, 3)
	if err := d.Sample(time.Now(), dst); err != nil || dst[2] != 1500 {
		t.Fatalf("1500 µg/m³: %v %v", dst, err)
	}
	d, _ = New(bytes.NewReader(frame(10, 20, 6000)), "range", nil) // beyond any air
	waitEnded(t, d)
	if err := d.Sample(time.Now(), dst); !errors.Is(err, sensor.ErrRange) {
		t.Fatalf("6000 µg/m³: %v", err)
	}

	d, _ = New(bytes.NewReader(frame(30, 20, 40)), "order", nil) // PM1 > PM2.5
	waitEnded(t, d)
	if err := d.Sample(time.Now(), make([]float64, 3)); !errors.Is(err, sensor.ErrRange) {
		t.Fatalf("PM1 > PM2.5: %v", err)
	}
}

// deadlineReader blocks in Read until data arrives or the deadline passes, like an *os.File tty.
type deadlineReader struct {
	mu       sync.Mutex
	deadline time.Time
	data     chan []byte
	sets     int
}

func (r *deadlineReader) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadline = t
	r.sets++
	return nil
}

func (r *deadlineReader) Read(b []byte) (int, error) {
	r.mu.Lock()
	dl := r.deadline
	r.mu.Unlock()
	var timeout <-chan time.Time
	if !dl.IsZero() {
		timer := time.NewTimer(time.Until(dl))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case p := <-r.data:
		return copy(b, p), nil
	case <-timeout:
		return 0, os.ErrDeadlineExceeded
	}
}

func TestHaltWithDeadlines(t *testing.T) {
	r := &deadlineReader{data: make(chan []byte, 1)}
	opts := DefaultOpts
	opts.ReadTimeout = 10 * time.Millisecond
	d, err := New(r, "dl", &opts)
	if err != nil {
		t.Fatal(err)
	}
	r.data <- frame(1, 2, 3)
	drivertest.WaitFor(t, "1 good frame", func() bool { s, _, _ := d.counts(); return s == 1 })
	time.Sleep(30 * time.Millisecond) // a few deadline expiries: not errors
	start := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Halt took %v", el)
	}
	if err := d.Sample(time.Now(), make([]float64, 3)); err != nil {
		t.Fatalf("frame lost by deadlines: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets < 3 {
		t.Errorf("deadline set %d times", r.sets)
	}
}

func TestHaltWithoutDeadlines(t *testing.T) {
	pr, pw := io.Pipe()
	opts := DefaultOpts
	opts.HaltTimeout = 20 * time.Millisecond
	d, err := New(pr, "pipe", &opts)
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the goroutine is blocked in Read: one frame through, then a pause.
	pw.Write(frame(1, 2, 3))
	drivertest.WaitFor(t, "1 good frame", func() bool { s, _, _ := d.counts(); return s == 1 })
	time.Sleep(20 * time.Millisecond)
	if err := d.Halt(); !errors.Is(err, sensor.ErrTimeout) {
		t.Fatalf("blocked reader: %v", err)
	}
	pw.Close() // the owner closes the port
	opts.HaltTimeout = 5 * time.Second
	d.opts.HaltTimeout = opts.HaltTimeout
	if err := d.Halt(); err != nil {
		t.Fatalf("after close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, "x", nil); err == nil {
		t.Error("nil reader accepted")
	}
	if _, err := New(bytes.NewReader(nil), "x", &Opts{}); err == nil {
		t.Error("zero Opts accepted")
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	d, err := New(pr, "allocs", nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	f := handDecoded
	if n := testing.AllocsPerRun(100, func() {
		d.good(&f) // what the reader goroutine does per frame
		if err := d.Sample(time.Now(), dst); err != nil {
			t.Fatal(err)
		}
		if err := d.Sample(time.Now(), dst); !errors.Is(err, sensor.ErrNoData) {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
	var p parser
	if n := testing.AllocsPerRun(100, func() {
		p.n = copy(p.buf[:], handFrame)
		p.parse(d)
	}); n != 0 {
		t.Fatalf("parsing allocates %v times", n)
	}
}
