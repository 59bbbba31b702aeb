// Package sensirion owns what Sensirion's I2C sensors (sht4x, scd4x) share on the wire: the CRC-8
// that follows every 16-bit word. Commands, conversions and timings stay in each driver.
package sensirion

// CRC8 is Sensirion's CRC-8: polynomial 0x31 (x^8 + x^5 + x^4 + 1), initialisation 0xFF, no
// reflection, no final XOR (SHT4x datasheet section 4.4, SCD4x section 3.11). CRC8([]byte{0xBE,
// 0xEF}) is 0x92.
func CRC8(b []byte) byte {
	crc := byte(0xFF)
	for _, v := range b {
		crc ^= v
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
