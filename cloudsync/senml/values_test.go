package senml

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
)

// TestValueForms pins how each kind of value travels. Every expected value is written by hand from
// RFC 8949: section 3.1 (major type 0 for unsigned and 1 for negative integers, -1-n; arguments below
// 24 in the initial byte, then 1, 2, 4 or 8 bytes after 0x18, 0x19, 0x1a, 0x1b) and section 3.3 with
// IEEE 754 (0xf9 binary16, 0xfa binary32, 0xfb binary64). The float16 bits are worked out in the
// comments: sign | exponent+15 (5 bits) | the 10 bits of the significand after the leading 1.
func TestValueForms(t *testing.T) {
	count := Channel{Name: "/loop1/count", Unit: "count", Resolution: 1}
	undeclared := Channel{Name: "/x/v", Unit: "V"} // no resolution: float32 precision
	lat := Channel{Name: "/gps/lat", Unit: "lat"}  // undeclared, float64
	cel := Channel{Name: "/env1/temperature", Unit: "Cel", Resolution: 0.01}
	deci := Channel{Name: "/noise1/laeq", Unit: "dB", Resolution: 0.1}
	pa := Channel{Name: "/env1/pressure", Unit: "Pa", Resolution: 0.125}
	for _, c := range []struct {
		name string
		ch   Channel
		v    float64
		hex  string
		dec  float64 // what a decoder reads
	}{
		{"zero", count, 0, "00", 0},
		{"23, the largest in the initial byte", count, 23, "17", 23},
		{"24, one byte after 0x18", count, 24, "1818", 24},
		{"400 ppm, two bytes after 0x19", count, 400, "190190", 400},
		{"-40 as major type 1: -1-39", cel, -40, "3827", -40},
		{"a temperature that is integral travels as an integer", cel, 21.0, "15", 21},
		{"2^53, the largest count a float64 holds with all smaller counts", count, 1 << 53, "1b0020000000000000", 1 << 53},
		{"the largest float64 below 2^64: 0xfffffffffffff800", count, 18446744073709549568, "1bfffffffffffff800", 18446744073709549568},
		{"2^64 does not fit an integer head: float32 0x5f800000 (exponent 64+127=0xbf)", count, 18446744073709551616, "fa5f800000", 18446744073709551616},
		{"-2^64: float32 0xdf800000", count, -18446744073709551616, "fadf800000", -18446744073709551616},
		{"-0 keeps its sign: float16 0x8000", undeclared, math.Copysign(0, -1), "f98000", math.Copysign(0, -1)},
		// 21.5 = 1.34375 * 2^4: exponent 19 = 10011, significand .34375*1024 = 352 = 0101100000
		{"21.5 °C fits float16: 0 10011 0101100000", cel, 21.5, "f94d60", 21.5},
		// float16 steps are 2^-6 = 0.015625 in [16, 32): 21.37 is 1367.68 steps, 21.375 rounds to
		// 21.38 at 0.01, so it takes float32: 21.37 = 1.335625 * 2^4, exponent 131 = 0x83,
		// significand 0x2af5c3 (0x41aaf5c3, the value of RFC 8949 appendix A's float32 rows' form).
		{"21.37 °C needs float32 at 0.01", cel, 21.37, "fa41aaf5c3", float64(float32(21.37))},
		// At 0.1 dB: 21.4 is 1369.6 float16 steps → 1370 → 21.40625, which rounds back to 21.4:
		// 0 10011 0101011010 (1370-1024 = 346 = 0x15a) = 0x4d5a.
		{"21.4 dB at 0.1 fits float16", deci, 21.4, "f94d5a", 21.40625},
		{"21.43 dB is rounded to 21.4 first", deci, 21.43, "f94d5a", 21.40625},
		// 101325.125 Pa = 810601 eighths (< 2^24): float32 exactly; 101325.125 = 1.546... * 2^16,
		// exponent 143 = 0x8f, significand (101325.125-65536)*128 = 4581008 = 0x45e690.
		{"pressure at 1/8 Pa: float32 0x47c5e690", pa, 101325.17, "fa47c5e690", 101325.125},
		// Subnormals: binary16's smallest is 2^-24 (bits 0x0001), its largest 1023 * 2^-24 (0x03ff);
		// binary32's smallest 2^-149 (0x00000001); binary64's smallest 2^-1074.
		{"float16 subnormal 2^-24", undeclared, 0x1p-24, "f90001", 0x1p-24},
		{"largest float16 subnormal", undeclared, 1023 * 0x1p-24, "f903ff", 1023 * 0x1p-24},
		{"smallest float16 normal 2^-14", undeclared, 0x1p-14, "f90400", 0x1p-14},
		{"float32 subnormal 2^-149", undeclared, 0x1p-149, "fa00000001", 0x1p-149},
		{"float64 subnormal 2^-1074 on a float64 channel", lat, 0x1p-1074, "fb0000000000000001", 0x1p-1074},
		// 65504.5 is past float16's last step (65504 = 0x7bff, steps of 32 there): float32, 1.999... *
		// 2^15, exponent 142 = 0x8e, significand (65504.5-32768)*256 = 8380544 = 0x7fe080.
		{"65504.5 is no float16", undeclared, 65504.5, "fa477fe080", 65504.5},
		// float16 steps are 16 in [2^14, 2^15): 32767.75 = 1.99998 * 2^14 takes float32, exponent 141 =
		// 0x8d, significand (32767.75-16384)*512 = 8388480 = 0x7fff80.
		{"32767.75 needs float32", undeclared, 32767.75, "fa46ffff80", 32767.75},
		// A position: 52.520008123456 needs all of binary64.
		{"latitude keeps float64", lat, 52.5, "f95290", 52.5}, // 52.5 = 1.640625*2^5: 0 10100 1010010000
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := wireOf(&c.ch, c.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(w.append(nil)); got != c.hex {
				t.Errorf("%v: %s, want %s", c.v, got, c.hex)
			}
			if got := WireValue(&c.ch, c.v); got != c.dec || math.Signbit(got) != math.Signbit(c.dec) {
				t.Errorf("WireValue(%v) = %v, want %v", c.v, got, c.dec)
			}
			// Through a whole pack and the decoder.
			e, err := NewEncoder("gw", "b", []Channel{c.ch}, 1)
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.Encode(1, []buffer.Reading{{Time: 1e9, Value: c.v}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Readings[0].Value; got != c.dec || math.Signbit(got) != math.Signbit(c.dec) {
				t.Errorf("decoded %v, want %v", got, c.dec)
			}
			if c.ch.Resolution > 0 && steps(c.ch.Resolution, p.Readings[0].Value) != steps(c.ch.Resolution, c.v) {
				t.Errorf("decoded %v is not %v at resolution %v", p.Readings[0].Value, c.v, c.ch.Resolution)
			}
		})
	}
}

// TestNotFiniteRefused: NaN and infinities have no SenML form (RFC 8428 values are JSON numbers).
func TestNotFiniteRefused(t *testing.T) {
	e, _ := NewEncoder("gw", "b", testChannels, 2)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := e.Encode(1, []buffer.Reading{{Time: 1e9, Value: 1}, {Time: 1e9, Value: v, Channel: 1}})
		if !errors.Is(err, ErrNotFinite) {
			t.Errorf("%v: %v, want ErrNotFinite", v, err)
		}
	}
	if _, err := NewEncoder("gw", "b", []Channel{{Name: "/x", Resolution: math.NaN()}}, 1); err == nil {
		t.Error("a NaN resolution was accepted")
	}
	if _, err := NewEncoder("gw", "b", []Channel{{Name: "/x", Resolution: -1}}, 1); err == nil {
		t.Error("a negative resolution was accepted")
	}
}

// TestResolutionRoundTrip: across each resolution's range, the decoded value is the reported value
// at the channel's resolution, and the float chosen is the narrowest that is.
func TestResolutionRoundTrip(t *testing.T) {
	for _, res := range []float64{0.001, 0.01, 0.1, 0.125, 1.0 / 1024, 0.5, 1, 0.18} {
		ch := Channel{Name: "/x", Unit: "V", Resolution: res}
		for i := -3000; i <= 3000; i++ {
			v := float64(i)*res*7.3 + res/3 // off the grid: Quantize rounds
			w, err := wireOf(&ch, v)
			if err != nil {
				t.Fatal(err)
			}
			got := w.value()
			if steps(res, got) != steps(res, v) {
				t.Fatalf("res %v: %v decodes as %v", res, v, got)
			}
			// Narrowest: no narrower float would have done.
			switch w.head {
			case headFloat32:
				if _, f, ok := toFloat16(Quantize(&ch, v)); ok && steps(res, f) == steps(res, v) {
					t.Fatalf("res %v: %v sent as float32 where float16 %v holds it", res, v, f)
				}
			case headFloat64:
				if f := float64(float32(Quantize(&ch, v))); steps(res, f) == steps(res, v) {
					t.Fatalf("res %v: %v sent as float64 where float32 %v holds it", res, v, f)
				}
			}
		}
	}
}

// TestFloat16 checks toFloat16 against every binary16 value: each converts exactly, and the midpoint
// between two neighbours rounds to the even one (IEEE 754 round to nearest, ties to even).
func TestFloat16(t *testing.T) {
	val := func(bits uint16) float64 { // the binary16 value of bits, decoded by its definition
		e, m := int(bits>>10&0x1f), float64(bits&0x3ff)
		var v float64
		if e == 0 {
			v = math.Ldexp(m, -24)
		} else {
			v = math.Ldexp(1024+m, e-25)
		}
		if bits&0x8000 != 0 {
			v = -v
		}
		return v
	}
	for bits := uint16(0); bits < 0x7c00; bits++ {
		v := val(bits)
		h, f, ok := toFloat16(v)
		if !ok || h != bits || f != v {
			t.Fatalf("%v: bits %#x %v %v, want %#x", v, h, f, ok, bits)
		}
		if nh, nf, _ := toFloat16(-v); nh != bits|0x8000 || nf != -v {
			t.Fatalf("%v: bits %#x", -v, nh)
		}
		if bits+1 < 0x7c00 {
			mid := (v + val(bits+1)) / 2
			want := bits
			if bits&1 == 1 {
				want = bits + 1
			}
			if h, _, _ := toFloat16(mid); h != want {
				t.Fatalf("midpoint %v: %#x, want %#x", mid, h, want)
			}
		}
	}
	if _, _, ok := toFloat16(65520); ok { // rounds to infinity
		t.Error("65520 fits float16")
	}
}

// TestGridTimes: readings on a one-second grid travel with an integer base time and integer offsets,
// 1 byte each below 24 s (RFC 8949 section 3.1). Hand-written pack:
// [{-2: "gw/loop1/count", -4: "count", -3: 1763890000, "seq": 1, "bid": "b", 2: 5},
//
//	{2: 7, 6: 1}, {2: 0, 6: 23}, {2: 1, 6: 24}]
//
// 1763890000 = 0x6922d350, a 4-byte unsigned integer after 0x1a.
func TestGridTimes(t *testing.T) {
	e, _ := NewEncoder("gw", "b", []Channel{{Name: "/loop1/count", Unit: "count", Resolution: 1}}, 4)
	const bt = 1763890000 * int64(time.Second)
	b, err := e.Encode(1, []buffer.Reading{
		{Time: bt, Value: 5}, {Time: bt + 1e9, Value: 7}, {Time: bt + 23e9, Value: 0}, {Time: bt + 24e9, Value: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "84" +
		"a6" + "21" + tstr("gw/loop1/count") + "23" + tstr("count") + "22" + "1a6922d350" +
		tstr("seq") + "01" + tstr("bid") + tstr("b") + "02" + "05" +
		"a2" + "02" + "07" + "06" + "01" +
		"a2" + "02" + "00" + "06" + "17" +
		"a2" + "02" + "01" + "06" + "1818"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// TestGridTimesAcrossCorrection: a batch sampled on the monotonic grid before the clock was trusted
// keeps its integer offsets; Restamp moves the base time by the correction, and every decoded time
// is the untrusted grid time plus the offset, to the millisecond.
func TestGridTimesAcrossCorrection(t *testing.T) {
	e, _ := NewEncoder("gw", "b", testChannels, 6)
	const boot = 3 * int64(time.Second) // a board that booted at 1970 + 3 s
	var rs []buffer.Reading
	for s := int64(0); s < 3; s++ {
		for c := uint32(0); c < 2; c++ {
			rs = append(rs, buffer.Reading{Time: boot + s*1e9, Value: float64(s) + 0.5, Channel: c, Flags: buffer.FlagClockUntrusted})
		}
	}
	b, err := e.Encode(9, rs)
	if err != nil {
		t.Fatal(err)
	}
	const offset = 1763890000_417 * time.Millisecond
	out, err := e.Restamp(append([]byte(nil), b...), offset)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > len(b)+8 { // bt: a 1-byte integer became a float64 (9 bytes); nothing else grows
		t.Errorf("restamped pack %d bytes, from %d", len(out), len(b))
	}
	p, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range grouped(rs) {
		got := p.Readings[i]
		if got.UnixMilli() != (want.Time+int64(offset))/1e6 || got.Flags != buffer.FlagTimeCorrected || got.Value != want.Value {
			t.Errorf("reading %d: %+v, want %d ms value %v", i, got, (want.Time+int64(offset))/1e6, want.Value)
		}
	}
}

// TestBaseValue: a group whose values differ only in their last digits goes relative to a base value
// (RFC 8428 section 4.1, label -5: each value is bv + v), and the next group ends it with bv 0.
// Hand-written pack (RFC 8949): latitudes at 1e-7° and then a CO2 level ("lat" < "ppm"):
//
//	[{-2: "gw/gps/lat", -4: "lat", -3: 1, "seq": 1, "bid": "b", -5: 52.5280783, 2: 0},
//	 {2: -0.0000016 (float16), 6: 1},
//	 {-2: "gw/co2/co2", -4: "ppm", -5: 0, 2: 446}]
//
// -5 is 0x24. 52.5280783 needs float64: 0x404a439812... (its IEEE 754 bits, checked below by
// math.Float64bits rather than our encoder). -0.0000016 is a float16 subnormal: 0.0000016 / 2^-24 =
// 26.84 → 27 steps = 0x801b, which resolves to 52.5280783 - 0.00000160933 = 52.52807669..., 52.5280767
// at 1e-7°.
func TestBaseValue(t *testing.T) {
	chans := []Channel{{Name: "/gps/lat", Unit: "lat", Resolution: 1e-7}, {Name: "/co2/co2", Unit: "ppm", Resolution: 1}}
	e, _ := NewEncoder("gw", "b", chans, 3)
	b, err := e.Encode(1, []buffer.Reading{
		{Time: 1e9, Value: 52.52807833333333}, {Time: 2e9, Value: 52.528076666666664}, {Time: 1e9, Value: 446, Channel: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	bits := math.Float64bits(52.5280783)
	f64 := "fb" + hex.EncodeToString([]byte{byte(bits >> 56), byte(bits >> 48), byte(bits >> 40), byte(bits >> 32),
		byte(bits >> 24), byte(bits >> 16), byte(bits >> 8), byte(bits)})
	want := "83" +
		"a7" + "21" + tstr("gw/gps/lat") + "23" + tstr("lat") + "22" + "01" + tstr("seq") + "01" + tstr("bid") + tstr("b") +
		"24" + f64 + "02" + "00" +
		"a2" + "02" + "f9801b" + "06" + "01" +
		"a4" + "21" + tstr("gw/co2/co2") + "23" + tstr("ppm") + "24" + "00" + "02" + "1901be" // 446 = 0x01be
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{52.5280783, 52.5280767, 446} {
		ch := chans[min(i, 2)/2]
		if got := Quantize(&ch, p.Readings[i].Value); got != w {
			t.Errorf("reading %d: %v (%v at the resolution), want %v", i, p.Readings[i].Value, got, w)
		}
	}
	// Restamp keeps the base values: a corrected batch resolves to the same values.
	out, err := e.Restamp(append([]byte(nil), b...), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Readings {
		if q.Readings[i].Value != p.Readings[i].Value || q.Readings[i].Time != p.Readings[i].Time+3600 {
			t.Errorf("restamped reading %d: %+v, was %+v", i, q.Readings[i], p.Readings[i])
		}
	}
}

// TestBaseValueOnlyWhenSmaller: a group of unrelated values keeps plain values (no -5 label).
func TestBaseValueOnlyWhenSmaller(t *testing.T) {
	e, _ := NewEncoder("gw", "b", []Channel{{Name: "/c", Unit: "count", Resolution: 1}}, 3)
	b, _ := e.Encode(1, []buffer.Reading{{Time: 1e9, Value: 3}, {Time: 2e9, Value: 5}, {Time: 3e9, Value: 1}})
	if strings.Contains(hex.EncodeToString(b), "24") {
		var recs []map[any]any
		_ = cbor.Unmarshal(b, &recs)
		for _, r := range recs {
			if _, ok := r[int64(-5)]; ok {
				t.Fatalf("bv used for small counts: %v", recs)
			}
		}
	}
}
