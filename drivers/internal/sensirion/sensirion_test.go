package sensirion

import "testing"

func TestCRC8DatasheetExample(t *testing.T) {
	// Sensirion's worked example (SHT4x datasheet section 4.4, SCD4x section 3.11): CRC(0xBEEF) = 0x92.
	if got := CRC8([]byte{0xBE, 0xEF}); got != 0x92 {
		t.Fatalf("CRC(0xBEEF) = %#x, want 0x92", got)
	}
	if got := CRC8([]byte{0xBE, 0xEE}); got == 0x92 {
		t.Fatal("CRC does not depend on the data")
	}
}
