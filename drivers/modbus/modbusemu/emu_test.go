package modbusemu

import (
	"bytes"
	"testing"

	"github.com/wayside-iot/wayside/drivers/modbus"
)

// frame is pdu with slave in front and the CRC behind (CRC-16/MODBUS, checked against its check
// value in package modbus).
func frame(slave byte, pdu ...byte) []byte { return withCRC(append([]byte{slave}, pdu...)) }

// TestSpecAnswers: the emulated slave answers the application protocol spec's requests (V1.1b3,
// 6.1 and 6.3) with the spec's responses, and refuses what a device refuses (section 7).
func TestSpecAnswers(t *testing.T) {
	s := NewSlave(17)
	// 6.3: registers 108..110 hold 555, 0, 100.
	s.Set(modbus.FuncReadHolding, 107, 0x022B, 0x0000, 0x0064)
	// 6.1: coils 20..38 are 1011 0011 / 1101 0110 / 101 (LSB first): CD 6B 05.
	s.Set(modbus.FuncReadCoils, 19, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1)
	cases := []struct{ req, want []byte }{
		{frame(17, 0x03, 0x00, 0x6B, 0x00, 0x03), frame(17, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64)},
		{frame(17, 0x01, 0x00, 0x13, 0x00, 0x13), frame(17, 0x01, 0x03, 0xCD, 0x6B, 0x05)},
		// A register it does not have: exception 02, illegal data address.
		{frame(17, 0x03, 0x00, 0x6B, 0x00, 0x04), frame(17, 0x83, 0x02)},
		// 126 registers: exception 03, illegal data value (6.3: quantity 1..125).
		{frame(17, 0x03, 0x00, 0x6B, 0x00, 0x7E), frame(17, 0x83, 0x03)},
		// Function 05 is not a read it serves: exception 01.
		{frame(17, 0x05, 0x00, 0x6B, 0xFF, 0x00), frame(17, 0x85, 0x01)},
	}
	for _, c := range cases {
		got, _ := s.Respond(c.req)
		if !bytes.Equal(got, c.want) {
			t.Errorf("request % X: answer % X, want % X", c.req, got, c.want)
		}
	}
	s.SetFault(Silent, 0)
	if got, _ := s.Respond(cases[0].req); got != nil {
		t.Errorf("a silent slave answered % X", got)
	}
}
