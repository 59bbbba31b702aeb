//go:build linux

package serialport

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestPTY: the settings Configure puts on a pseudo-terminal read back through TCGETS, and bytes
// cross the pair unchanged (raw mode: no CR/LF translation, no echo).
func TestPTY(t *testing.T) {
	m, tty, err := OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer m.Close()
	defer tty.Close()
	for _, c := range []Config{{Baud: 9600, Parity: Even, StopBits: 1}, {Baud: 19200, Parity: None, StopBits: 2}, {Baud: 115200, Parity: Odd, StopBits: 1}} {
		if err := Configure(tty, c); err != nil {
			t.Fatal(err)
		}
		got, err := Get(tty)
		// The pty driver clears PARENB whatever is set (drivers/tty/pty.c, pty_set_termios: "a pty
		// never has parity"), so only speed and stop bits read back; a UART keeps all three.
		want := c
		want.Parity = None
		if err != nil || got != want {
			t.Fatalf("set %v, read back %v (%v), want %v", c, got, err, want)
		}
	}
	want := []byte{0x01, 0x03, 0x0a, 0x0d, 0xff, 0x00}
	if _, err := m.Write(want); err != nil {
		t.Fatal(err)
	}
	tty.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(tty, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read % x (%v), want % x", got, err, want)
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []Config{{Baud: 9601}, {Baud: 9600, Parity: "mark"}, {Baud: 9600, StopBits: 3}} {
		if c.Check() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if s := (Config{Baud: 9600, Parity: Even}).String(); s != "9600 8E1" {
		t.Errorf("String %q", s)
	}
}
