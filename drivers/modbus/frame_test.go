package modbus

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// TestCRCCheckValue: the CRC catalogue's check value of CRC-16/MODBUS (width 16, poly 0x8005, init
// 0xFFFF, refin and refout true, xorout 0): the CRC of the ASCII string "123456789" is 0x4B37
// (Greg Cook, "Catalogue of parametrised CRC algorithms", CRC-16/MODBUS).
func TestCRCCheckValue(t *testing.T) {
	if got := CRC([]byte("123456789")); got != 0x4B37 {
		t.Fatalf("CRC(\"123456789\") = %04X, want 4B37", got)
	}
}

// TestRequestKnownAnswer: read holding registers 0..9 of slave 1 is 01 03 00 00 00 0A C5 CD on the
// wire (issue #19's known answer: the CRC 0xCDC5 goes low byte first, serial line spec 2.5.1.2).
func TestRequestKnownAnswer(t *testing.T) {
	want := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}
	if got := AppendRequest(nil, 1, FuncReadHolding, 0, 10); !bytes.Equal(got, want) {
		t.Fatalf("got % X, want % X", got, want)
	}
}

// adu wraps a PDU from the application protocol spec in an RTU frame for slave: address in front,
// CRC behind (the CRC itself is checked by TestCRCCheckValue and TestRequestKnownAnswer).
func adu(slave byte, pdu ...byte) []byte {
	b := append([]byte{slave}, pdu...)
	c := CRC(b)
	return append(b, byte(c), byte(c>>8))
}

// TestSpecExamples: the request and response PDUs of the MODBUS Application Protocol Specification
// V1.1b3, sections 6.1 to 6.4 and 7.
func TestSpecExamples(t *testing.T) {
	cases := []struct {
		name        string
		fn          byte
		addr, count uint16
		request     []byte // the spec's request PDU
		response    []byte // the spec's response PDU
		want        []uint16
	}{
		// 6.1 Read Coils 20-38: "outputs 27-20 [...] CD hex, or binary 1100 1101. Output 27 is the MSB
		// of this byte, and output 20 is the LSB"; 6B holds 35-28, 05 holds 38-36 padded with zeros.
		{"6.1 read coils", FuncReadCoils, 19, 19, []byte{0x01, 0x00, 0x13, 0x00, 0x13}, []byte{0x01, 0x03, 0xCD, 0x6B, 0x05},
			[]uint16{1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1}},
		// 6.2 Read Discrete Inputs 197-218: AC is inputs 204-197 (1010 1100), DB 212-205, 35 218-213.
		{"6.2 read discrete inputs", FuncReadDiscreteInputs, 196, 22, []byte{0x02, 0x00, 0xC4, 0x00, 0x16}, []byte{0x02, 0x03, 0xAC, 0xDB, 0x35},
			[]uint16{0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1}},
		// 6.3 Read Holding Registers 108-110: "register 108 [...] 02 2B hex, or 555 decimal", 109 is
		// 0, 110 is 00 64 hex, 100 decimal.
		{"6.3 read holding registers", FuncReadHolding, 107, 3, []byte{0x03, 0x00, 0x6B, 0x00, 0x03}, []byte{0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64},
			[]uint16{555, 0, 100}},
		// 6.4 Read Input Register 9: "00 0A hex, or 10 decimal".
		{"6.4 read input registers", FuncReadInput, 8, 1, []byte{0x04, 0x00, 0x08, 0x00, 0x01}, []byte{0x04, 0x02, 0x00, 0x0A},
			[]uint16{10}},
	}
	for _, c := range cases {
		req := AppendRequest(nil, 17, c.fn, c.addr, c.count)
		if !bytes.Equal(req[1:6], c.request) || !bytes.Equal(req, adu(17, c.request...)) {
			t.Errorf("%s: request % X, want PDU % X", c.name, req, c.request)
		}
		if n := ResponseLen(c.fn, c.count); n != len(c.response)+3 {
			t.Errorf("%s: ResponseLen %d, want %d", c.name, n, len(c.response)+3)
		}
		got := make([]uint16, c.count)
		if err := DecodeResponse(adu(17, c.response...), 17, c.fn, c.count, got); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: decoded %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	// 7: "Request: function 01 (Read Coil Status), starting address 04A1" answered with 81 02,
	// illegal data address.
	err := DecodeResponse(adu(10, 0x81, 0x02), 10, FuncReadCoils, 1, make([]uint16, 1))
	var ex *ExceptionError
	if !errors.As(err, &ex) || ex.Code != 0x02 || ex.Function != 0x01 || !errors.Is(err, sensor.ErrException) {
		t.Fatalf("exception: %v", err)
	}
}

// TestDecodeErrors: each malformed answer is refused with its kind and leaves dst alone.
func TestDecodeErrors(t *testing.T) {
	good := adu(1, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 0xFF
	cases := []struct {
		name string
		adu  []byte
		kind error
	}{
		{"empty", nil, sensor.ErrFrame},
		{"short", good[:4], sensor.ErrFrame},
		{"truncated", good[:len(good)-1], sensor.ErrCRC}, // the last data byte is taken for CRC
		{"bad CRC", badCRC, sensor.ErrCRC},
		{"other slave", adu(2, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02), sensor.ErrFrame},
		{"other function", adu(1, 0x04, 0x04, 0x00, 0x01, 0x00, 0x02), sensor.ErrFrame},
		{"byte count short", adu(1, 0x03, 0x02, 0x00, 0x01), sensor.ErrFrame},
		{"byte count lies", adu(1, 0x03, 0x06, 0x00, 0x01, 0x00, 0x02), sensor.ErrFrame},
		{"long exception", adu(1, 0x83, 0x02, 0x00), sensor.ErrFrame},
		{"exception", adu(1, 0x83, 0x06), sensor.ErrException},
	}
	for _, c := range cases {
		dst := []uint16{7, 7}
		err := DecodeResponse(c.adu, 1, FuncReadHolding, 2, dst)
		if sensor.Kind(err) != c.kind {
			t.Errorf("%s: %v, want kind %v", c.name, err, c.kind)
		}
		if dst[0] != 7 || dst[1] != 7 {
			t.Errorf("%s: dst written on error: %v", c.name, dst)
		}
	}
	if err := DecodeResponse(good, 1, FuncReadHolding, 2, make([]uint16, 2)); err != nil {
		t.Fatal(err)
	}
}

// TestFrameGap: serial line spec 2.5.1.1, t3.5 = 3.5 characters of 11 bits; above 19200 baud a
// fixed 1.75 ms. At 9600 baud: 38.5 bits / 9600 bit/s = 4.0104 ms; at 19200: 2.0052 ms.
func TestFrameGap(t *testing.T) {
	for baud, want := range map[int]float64{9600: 4.0104, 19200: 2.0052, 38400: 1.75, 115200: 1.75, 1200: 32.0833} {
		got := float64(FrameGap(baud).Nanoseconds()) / 1e6
		if got < want-0.001 || got > want+0.001 {
			t.Errorf("%d baud: t3.5 %.4f ms, want %.4f", baud, got, want)
		}
	}
}

// FuzzDecodeResponse: whatever arrives, decoding neither panics nor writes past count items, and
// only a frame with a good CRC of exactly the expected length is accepted.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(adu(1, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02), byte(1), byte(3), uint16(2))
	f.Add(adu(17, 0x01, 0x03, 0xCD, 0x6B, 0x05), byte(17), byte(1), uint16(19))
	f.Add(adu(1, 0x83, 0x02), byte(1), byte(3), uint16(1))
	f.Add([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}, byte(1), byte(3), uint16(10))
	f.Fuzz(func(t *testing.T, b []byte, slave, fn byte, count uint16) {
		count %= 2001
		dst := make([]uint16, int(count)+1)
		dst[count] = 0xBEEF
		err := DecodeResponse(b, slave, fn, count, dst[:count])
		if dst[count] != 0xBEEF {
			t.Fatal("wrote past count")
		}
		if err != nil {
			if sensor.Kind(err) == nil {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		if len(b) != ResponseLen(fn, count) || CRC(b[:len(b)-2]) != uint16(b[len(b)-2])|uint16(b[len(b)-1])<<8 || b[0] != slave {
			t.Fatalf("accepted % X for slave %d function %d count %d", b, slave, fn, count)
		}
	})
}
