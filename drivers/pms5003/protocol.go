package pms5003

import "encoding/binary"

// The wire protocol (datasheet appendix I and II): frames cut out of the byte stream and decoded,
// command answers recognised, and the commands the driver sends.

// Frame layout, datasheet appendix I.
const (
	FrameLen = 32   // bytes on the wire
	start1   = 0x42 // 'B'
	start2   = 0x4D // 'M'
	bodyLen  = 28   // value of the frame length field: 13 data words + check code
)

// Frame is one decoded frame. Concentrations are µg/m³, counts are particles per 0.1 L of air.
type Frame struct {
	// PM1CF1, PM25CF1 and PM10CF1 are data 1..3: "CF=1, standard particle".
	PM1CF1, PM25CF1, PM10CF1 uint16
	// PM1, PM25 and PM10 are data 4..6: "under atmospheric environment".
	PM1, PM25, PM10 uint16
	// Count03..Count100 are data 7..12: particles beyond 0.3, 0.5, 1.0, 2.5, 5.0 and 10 µm.
	Count03, Count05, Count10, Count25, Count50, Count100 uint16
}

// Commands, manual appendix II: 0x42 0x4D, command, data high, data low, and the 16 bit sum of the
// preceding bytes.
var (
	cmdSleep  = [7]byte{0x42, 0x4D, 0xE4, 0x00, 0x00, 0x01, 0x73}
	cmdWakeUp = [7]byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74}
	cmdActive = [7]byte{0x42, 0x4D, 0xE1, 0x00, 0x01, 0x01, 0x71}
)

// parser accumulates bytes and cuts frames out of them.
type parser struct {
	buf [4 * FrameLen]byte
	n   int
	f   Frame
}

// space is where the next Read goes.
func (p *parser) space() []byte { return p.buf[p.n:] }

// sink receives parse results.
type sink interface {
	good(*Frame)
	bad(kind error)
}

// parse consumes every complete frame or garbage in buf and keeps a trailing partial frame.
func (p *parser) parse(s sink) {
	i := 0
	for {
		// Find the start bytes.
		for i < p.n && p.buf[i] != start1 {
			i++
		}
		if p.n-i < 4 {
			if p.n-i >= 2 && p.buf[i+1] != start2 {
				i++
				continue
			}
			break
		}
		if p.buf[i+1] != start2 {
			i++
			continue
		}
		if binary.BigEndian.Uint16(p.buf[i+2:]) == ackLen {
			// The part's answer to a mode or sleep command: 0x42 0x4D 0x00 0x04, command, data, sum.
			if p.n-i < ackFrameLen {
				break
			}
			if isAck(p.buf[i : i+ackFrameLen]) {
				i += ackFrameLen
				continue
			}
		}
		if binary.BigEndian.Uint16(p.buf[i+2:]) != bodyLen {
			// A 0x42 0x4D in the data, or a corrupted length: not a frame start.
			s.bad(errLength)
			i++
			continue
		}
		if p.n-i < FrameLen {
			break
		}
		switch err := Decode(p.buf[i:i+FrameLen], &p.f); {
		case err == nil:
			s.good(&p.f)
			i += FrameLen
		case hasStart(p.buf[i+2 : i+FrameLen]):
			// Another frame starts inside this one: this one was cut short.
			s.bad(errShort)
			i++
		default:
			s.bad(errChecksum)
			i++
		}
	}
	// Keep the tail; if the buffer is full of undecidable bytes (cannot happen with FrameLen-sized
	// frames and a 4 frame buffer), drop them.
	p.n = copy(p.buf[:], p.buf[i:p.n])
	if p.n == len(p.buf) {
		p.n = 0
	}
}

// Command answers: a frame length of 4 (command, data, check code), 8 bytes on the wire. The manual
// does not describe them; parts answer the mode (0xE1) and sleep (0xE4) commands so, as other drivers
// observe (e.g. 42 4D 00 04 E1 00 01 74 to passive mode).
const (
	ackLen      = 4
	ackFrameLen = 8
)

func isAck(b []byte) bool {
	var sum uint16
	for _, v := range b[:ackFrameLen-2] {
		sum += uint16(v)
	}
	return sum == binary.BigEndian.Uint16(b[ackFrameLen-2:])
}

func hasStart(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == start1 && b[i+1] == start2 {
			return true
		}
	}
	return false
}

// Decode checks and decodes one 32 byte frame into f (datasheet appendix I). It does not allocate.
func Decode(b []byte, f *Frame) error {
	if len(b) != FrameLen {
		return errShort
	}
	if b[0] != start1 || b[1] != start2 || binary.BigEndian.Uint16(b[2:]) != bodyLen {
		return errLength
	}
	var sum uint16
	for _, v := range b[:FrameLen-2] {
		sum += uint16(v)
	}
	if sum != binary.BigEndian.Uint16(b[FrameLen-2:]) {
		return errChecksum
	}
	w := func(i int) uint16 { return binary.BigEndian.Uint16(b[4+2*(i-1):]) } // data i, 1-based as in the datasheet
	*f = Frame{
		PM1CF1: w(1), PM25CF1: w(2), PM10CF1: w(3),
		PM1: w(4), PM25: w(5), PM10: w(6),
		Count03: w(7), Count05: w(8), Count10: w(9), Count25: w(10), Count50: w(11), Count100: w(12),
	}
	return nil
}
