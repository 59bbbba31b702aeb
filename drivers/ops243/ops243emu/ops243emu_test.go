package ops243emu

import (
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/drivers/ops243"
)

func read(t *testing.T, e *Emu) string {
	t.Helper()
	if err := e.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var all []byte
	buf := make([]byte, 7) // small reads: the output comes in pieces
	for {
		n, err := e.Read(buf)
		all = append(all, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return string(all)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, e *Emu, s string) {
	t.Helper()
	if _, err := io.WriteString(e, s); err != nil {
		t.Fatal(err)
	}
}

// Answers as UM-003-A gives them: "Speed Output Units" (US -> {"Units":"mph"}, international
// mile), "Module Information" (??).
func TestAnswers(t *testing.T) {
	e := New()
	if e.Unit() != ops243.MilePerHour {
		t.Fatalf("powers on in %s, want mph", e.Unit())
	}
	write(t, e, "U?\r\n")
	if got := read(t, e); got != "{\"Units\":\"mph\"}\r\n" {
		t.Errorf("U?: %q", got)
	}
	// A command split across writes, and R>n waiting for its return.
	write(t, e, "U")
	write(t, e, "K\r\nR>12.")
	write(t, e, "5\r\nR<0\r\nR+\r\nR?\r\n")
	want := "{\"Units\":\"km-per-hr\"}\r\n" +
		"{\"RequiredMinSpeed\":\"12.500\",\"RequiredMaxSpeed\":\"0.000\"}\r\n" +
		"{\"RequiredDirection\":\"inbound\"}\r\n"
	if got := read(t, e); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	write(t, e, "S2\r\n??\r\n")
	if got := read(t, e); !strings.Contains(got, "{\"Product\":\"OPS243\"}\r\n") || !strings.Contains(got, "{\"SamplingRate\":20000, \"resolution\":0.1214}\r\n") {
		t.Errorf("??: %q", got)
	}
	if c := e.Commands(); strings.Join(c, " ") != "U? UK R>12.5 R<0 R+ R? S2 ??" {
		t.Errorf("commands %q", c)
	}
}

func TestReports(t *testing.T) {
	e := New()
	// 20 m/s is 44.7387 mph: plain, two decimals, one report per 100 ms.
	e.Target(20, 250*time.Millisecond)
	if got := read(t, e); got != "44.74\r\n44.74\r\n" {
		t.Errorf("plain: %q", got)
	}
	e.TimeReport(true)
	e.MagnitudeReport(true)
	e.Target(-20, 100*time.Millisecond) // clock: 0.25 s + 0.1 s
	if got := read(t, e); got != "0.350, 1250, -44.74\r\n" {
		t.Errorf("OT OM: %q", got)
	}
	write(t, e, "UM\r\nOJ\r\nR>5\r\nR-\r\n")
	read(t, e)
	e.Target(4, 100*time.Millisecond)  // below R>5
	e.Target(6, 100*time.Millisecond)  // inbound, R- drops it
	e.Target(-6, 100*time.Millisecond) // kept
	if got := read(t, e); got != `{"unit":"mps","speed":"-6.00","direction":"outbound","time":"0.650","magnitude":"1250"}`+"\r\n" {
		t.Errorf("JSON: %q", got)
	}
	e.PowerCycle()
	e.TimeReport(false)
	e.MagnitudeReport(false)
	e.Target(10, 100*time.Millisecond)
	if got := read(t, e); got != "22.37\r\n" {
		t.Errorf("after a power cycle: %q", got)
	}
	if v := Reported(20, ops243.MilePerHour); math.Abs(v-44.74*0.44704) > 1e-12 {
		t.Errorf("Reported %v", v)
	}
}

func TestMuteOverrideClose(t *testing.T) {
	e := New()
	e.Mute(true)
	write(t, e, "UM\r\n")
	if got := read(t, e); got != "" {
		t.Errorf("muted: %q", got)
	}
	e.Mute(false)
	e.Override("R?", `{"RequiredMinSpeed":"9.000","RequiredMaxSpeed":"0.000"}`)
	write(t, e, "R?\r\n")
	if got := read(t, e); got != "{\"RequiredMinSpeed\":\"9.000\",\"RequiredMaxSpeed\":\"0.000\"}\r\n" {
		t.Errorf("override: %q", got)
	}
	if e.Unit() != ops243.MetrePerSecond {
		t.Error("UM not taken while muted")
	}
	done := make(chan error)
	go func() {
		e.SetReadDeadline(time.Time{})
		_, err := e.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	e.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("read after close: %v", err)
	}
	if _, err := e.Write([]byte("U?")); err == nil {
		t.Error("write after close")
	}
	if e.Close() == nil {
		t.Error("closed twice")
	}
}
