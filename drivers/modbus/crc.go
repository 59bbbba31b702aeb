package modbus

// crcTable is CRC-16/MODBUS by bytes: the reflected polynomial 0xA001 (0x8005 bit-reversed), as the
// serial line spec's CRC generation (section 6.2.2) computes it bit by bit.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of b: initial value 0xFFFF, reflected in and out, no final XOR. An
// RTU frame carries it low byte first (serial line spec 2.5.1.2).
func CRC(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, v := range b {
		c = c>>8 ^ crcTable[byte(c)^v]
	}
	return c
}
