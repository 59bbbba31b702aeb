package ascii

import "testing"

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want float64
		ok   bool
	}{
		{"12.4", MaxDigits, 12.4, true},
		{"-3.70", MaxDigits, -3.7, true},
		{"+5", MaxDigits, 5, true},
		{"4807.038", MaxDigits, 4807.038, true},
		{"5.", MaxDigits, 5, true},
		{".5", MaxDigits, 0.5, true},
		{".000000000000000001", MaxDigits, 1e-18, true},
		{"0.000000000000000001", MaxDigits, 0, false}, // The leading zero is a 19th digit.
		{"123456789012345", 15, 123456789012345, true},
		{"1234567890123456", 15, 0, false}, // One digit too many.
		{"12345678901234.56", 15, 0, false},
		{"", MaxDigits, 0, false},
		{"-", MaxDigits, 0, false},
		{".", MaxDigits, 0, false},
		{"12.4.5", MaxDigits, 0, false},
		{"12,4", MaxDigits, 0, false},
		{" 1", MaxDigits, 0, false},
		{"1e3", MaxDigits, 0, false},
		{"--1", MaxDigits, 0, false},
	} {
		got, ok := ParseDecimal([]byte(tc.in), tc.max)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDecimal(%q, %d) = %v %v, want %v %v", tc.in, tc.max, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"08", 8, true},
		{"123456789", 123456789, true},
		{"1234567890", 0, false}, // Beyond 9 digits.
		{"", 0, false},
		{"+1", 0, false},
		{"1.0", 0, false},
	} {
		got, ok := ParseUint([]byte(tc.in), 9)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseUint(%q, 9) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPow10(t *testing.T) {
	v := 1.0
	for n := 0; n <= MaxDigits; n++ {
		if Pow10(n) != v {
			t.Errorf("Pow10(%d) = %v", n, Pow10(n))
		}
		v *= 10
	}
}

func TestNoAllocs(t *testing.T) {
	d, u := []byte("-4807.038"), []byte("123519")
	if n := testing.AllocsPerRun(100, func() {
		ParseDecimal(d, MaxDigits)
		ParseUint(u, 9)
	}); n != 0 {
		t.Errorf("parsing allocates %v", n)
	}
}
