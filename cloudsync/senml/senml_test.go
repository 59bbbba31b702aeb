package senml

import (
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
)

var testChannels = []Channel{
	{Name: "/env1/temperature", Unit: "Cel"},
	{Name: "/env1/humidity", Unit: "%RH"},
	{Name: "/traffic1/vehicles", Unit: "count"},
}

func batch(n int, start time.Time) []buffer.Reading {
	rs := make([]buffer.Reading, n)
	for i := range rs {
		rs[i] = buffer.Reading{
			Time:    start.Add(time.Duration(i) * 10 * time.Millisecond).UnixNano(),
			Value:   float64(i)*0.25 - 3,
			Channel: uint32(i % len(testChannels)),
		}
	}
	return rs
}

// grouped is rs in the pack's order for testChannels: by channel, channels of the same unit
// together in the byte order of their units ("%RH" < "Cel" < "count"), input order within a channel.
func grouped(rs []buffer.Reading) []buffer.Reading { return groupedBy(testChannels, rs) }

// groupedBy is rs in the pack's order for the channel table chans.
func groupedBy(chans []Channel, rs []buffer.Reading) []buffer.Reading {
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b buffer.Reading) int {
		if c := strings.Compare(chans[a.Channel].Unit, chans[b.Channel].Unit); c != 0 {
			return c
		}
		return int(a.Channel) - int(b.Channel)
	})
	return out
}

func TestRoundTrip(t *testing.T) {
	start := time.UnixMilli(1763890000123)
	rs := batch(100, start)
	rs[7].Flags = 1
	e, err := NewEncoder("gw-1", "b00t", testChannels, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode(42, rs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Seq != 42 || p.BootID != "b00t" || p.BaseName != "gw-1/env1/humidity" || len(p.Readings) != len(rs) {
		t.Fatalf("pack header: seq=%d bid=%q bn=%q n=%d", p.Seq, p.BootID, p.BaseName, len(p.Readings))
	}
	want := grouped(rs)
	for i, got := range p.Readings {
		want := want[i]
		ch := testChannels[want.Channel]
		if got.Name != "gw-1"+ch.Name || got.Unit != ch.Unit || got.Value != want.Value ||
			got.UnixMilli() != time.Unix(0, want.Time).UnixMilli() || got.Flags != want.Flags {
			t.Errorf("reading %d: got %+v (ms %d), want %+v", i, got, got.UnixMilli(), want)
		}
	}
}

// TestWireFormat pins the bytes of a small pack so a change of label, layout or float width is
// noticed.
func TestWireFormat(t *testing.T) {
	e, _ := NewEncoder("gw", "b", testChannels, 4)
	b, err := e.Encode(1, []buffer.Reading{
		{Time: 1_000_000_000, Value: 21.5, Channel: 0},
		{Time: 1_000_000_000, Value: 3, Channel: 2},
		{Time: 1_500_000_000, Value: 21.37, Channel: 0},
		{Time: 2_001_000_000, Value: 4, Channel: 2, Flags: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Expected bytes, written out by hand from RFC 8949 (major types, float16/32 heads) and RFC 8428
	// table 6 (labels): -2 is 0x21, -3 0x22, -4 0x23; value 2 is 0x02, time 6 is 0x06.
	want := "84" + // array of 4 records
		"a6" + "21" + tstr("gw/env1/temperature") + "23" + tstr("Cel") + // {-2: "gw/env1/temperature", -4: "Cel",
		"22" + "01" + // -3: 1 (whole seconds: an unsigned integer, major type 0, RFC 8428 section 6)
		tstr("seq") + "01" + tstr("bid") + tstr("b") + // "seq": 1, "bid": "b"
		"02" + "f94d60" + // 2: 21.5 (float16)}
		"a2" + "02" + "fa41aaf5c3" + "06" + "f93800" + // {2: 21.37 (float32), 6: 0.5 (float16)}
		"a3" + "21" + tstr("gw/traffic1/vehicles") + "23" + tstr("count") + "02" + "03" + // {-2: …, -4: "count", 2: 3 (an integer)}
		"a3" + "02" + "04" + "06" + "fa3f8020c5" + tstr("wf_") + "01" // {2: 4, 6: 1.001 (float32), "wf_": 1}: untrusted, must-understand
	if got := hex.EncodeToString(b); got != want {
		var diag any
		_ = cbor.Unmarshal(b, &diag)
		t.Fatalf("wire bytes\n got %s\nwant %s\n(decoded %v)", got, want, diag)
	}
}

// tstr is the hex of a CBOR text string shorter than 24 bytes.
func tstr(s string) string {
	return hex.EncodeToString(append([]byte{0x60 + byte(len(s))}, s...))
}

func TestEncodeErrors(t *testing.T) {
	e, _ := NewEncoder("gw", "b", testChannels, 10)
	if _, err := e.Encode(1, nil); err != ErrEmpty {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := e.Encode(1, []buffer.Reading{{Channel: 99}}); err == nil {
		t.Fatal("reading for an unknown channel encoded")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"not cbor":     {0xff, 0x00},
		"empty array":  {0x80},
		"map not list": {0xa0},
		"no value":     mustMarshal(t, []map[int]any{{-2: "gw", 0: "x"}}),
		"no name":      mustMarshal(t, []map[int]any{{2: 1.0}}),
		"indefinite":   {0x9f, 0xff},
		"dup key":      {0x81, 0xa2, 0x02, 0x01, 0x02, 0x02},
		"too deep":     mustMarshal(t, []any{[]any{[]any{[]any{[]any{1}}}}}),
	} {
		if _, err := Decode(data); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestDecodeBaseFields(t *testing.T) {
	// RFC 8428 section 5.1.2 style: base unit and base value apply to later records.
	data := mustMarshal(t, []map[int]any{
		{-2: "urn:dev:ow:10e2073a01080063:", -3: 1.320067464e+09, -4: "%RH", -5: 10.0, 0: "humidity", 2: 10.1},
		{0: "humidity", 2: 0.2, 6: 60.0},
	})
	p, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Readings[1]
	if r.Name != "urn:dev:ow:10e2073a01080063:humidity" || r.Unit != "%RH" || math.Abs(r.Value-10.2) > 1e-9 || r.Time != 1.320067524e+09 {
		t.Fatalf("resolved %+v", r)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeAllocs proves the encode half of the hot path: a 100-reading batch into the reused buffer
// allocates nothing.
func TestEncodeAllocs(t *testing.T) {
	rs := batch(100, time.UnixMilli(1763890000000))
	e, _ := NewEncoder("gw-0001", "0123456789abcdef", testChannels, 100)
	seq := uint64(0)
	allocs := testing.AllocsPerRun(200, func() {
		seq++
		if _, err := e.Encode(seq, rs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Encode of 100 readings: %v allocs, want 0", allocs)
	}
}

func BenchmarkEncode100(b *testing.B) {
	rs := batch(100, time.UnixMilli(1763890000000))
	e, _ := NewEncoder("gw-0001", "0123456789abcdef", testChannels, 100)
	var n int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out, err := e.Encode(uint64(i), rs)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n)/100, "bytes/reading")
}

func FuzzDecode(f *testing.F) {
	e, _ := NewEncoder("gw", "b", testChannels, 10)
	good, _ := e.Encode(3, batch(5, time.UnixMilli(1763890000000)))
	f.Add(append([]byte(nil), good...))
	f.Add([]byte{0x80})
	f.Add([]byte{0x81, 0xa1, 0x02, 0xf9, 0x3c, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err == nil && len(p.Readings) == 0 {
			t.Fatal("decoded a pack without readings")
		}
	})
}

// TestBackwardsClockStep: a wall clock stepped backwards mid-batch gives readings earlier than ones
// before them; the pack keeps their order and every time, with the base time at the earliest.
func TestBackwardsClockStep(t *testing.T) {
	rs := []buffer.Reading{
		{Time: 1763890005_000_000_000, Value: 1}, {Time: 1763890006_000_000_000, Value: 2},
		{Time: 1763890001_000_000_000, Value: 3}, // NTP stepped the clock back 5 s
		{Time: 1763890002_000_000_000, Value: 4},
	}
	e, _ := NewEncoder("gw", "b", testChannels, 4)
	b, err := e.Encode(1, rs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range p.Readings {
		if r.Value != rs[i].Value || r.UnixMilli() != rs[i].Time/1e6 {
			t.Fatalf("reading %d: %+v, want value %v at %d", i, r, rs[i].Value, rs[i].Time/1e6)
		}
	}
}

func TestRestamp(t *testing.T) {
	rs := batch(10, time.UnixMilli(1000))
	for i := range rs {
		rs[i].Flags = buffer.FlagClockUntrusted
	}
	e, _ := NewEncoder("gw", "b", testChannels, 10)
	b, _ := e.Encode(7, rs)
	out, err := e.Restamp(append([]byte(nil), b...), 1763890000*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	rs = grouped(rs)
	for i, r := range p.Readings {
		if r.UnixMilli() != time.Unix(0, rs[i].Time).UnixMilli()+1763890000_000 || r.Flags != buffer.FlagTimeCorrected || p.Seq != 7 {
			t.Fatalf("reading %d: %+v (seq %d)", i, r, p.Seq)
		}
	}
}

// TestValuePrecision: values go out at float32 precision (within 6e-8 relative), positions at full
// float64 precision, and times round back to the millisecond they were taken at, even for a batch
// spanning hours (where float32 would not do).
func TestValuePrecision(t *testing.T) {
	chans := []Channel{{Name: "/env1/temperature", Unit: "Cel"}, {Name: "/gps/lat", Unit: "lat"}, {Name: "/gps/lon", Unit: "lon"}}
	e, _ := NewEncoder("gw", "b", chans, 8)
	start := int64(1763890000_123_000_000)
	rs := []buffer.Reading{
		{Time: start, Value: 21.37, Channel: 0},
		{Time: start + 1_001_000_000, Value: 52.520008123456, Channel: 1},
		{Time: start + 1_001_000_000, Value: 13.404954987654, Channel: 2},
		{Time: start + 9000_007_000_000, Value: 101325.17, Channel: 0}, // 2.5 hours later
		{Time: start + 7_000_000, Value: -40.000001, Channel: 0},
	}
	b, err := e.Encode(1, rs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range groupedBy(chans, rs) {
		got := p.Readings[i]
		if got.UnixMilli() != want.Time/1e6 {
			t.Errorf("%s: time %d ms, want %d", got.Name, got.UnixMilli(), want.Time/1e6)
		}
		if got.Unit == "lat" || got.Unit == "lon" {
			if got.Value != want.Value {
				t.Errorf("%s: %v, want exactly %v", got.Name, got.Value, want.Value)
			}
		} else if rel := math.Abs(got.Value-want.Value) / math.Abs(want.Value); rel > 6e-8 || got.Value != float64(float32(want.Value)) {
			t.Errorf("%s: %v, want %v to float32 precision (relative error %g)", got.Name, got.Value, want.Value, rel)
		}
	}
}

// TestMustUnderstand: RFC 8428 section 4.4, a record with an unknown label ending in "_" must not be
// processed; an unknown label without it is ignored. Packs written by hand (RFC 8949):
// [{0: "x", 2: 1.0 (float16), "zz_": 1}] and the same with "zz".
func TestMustUnderstand(t *testing.T) {
	rec := "81" + "a3" + "00" + tstr("x") + "02" + "f93c00"
	if _, err := Decode(mustHex(t, rec+tstr("zz_")+"01")); err == nil {
		t.Error("an unknown must-understand label was accepted")
	}
	p, err := Decode(mustHex(t, rec+tstr("zz")+"01"))
	if err != nil || len(p.Readings) != 1 || p.Readings[0].Value != 1 {
		t.Errorf("an unknown optional label: %v, %+v", err, p)
	}
	// Our own must-understand label is known: {0: "x", 2: 1.0, "wf_": 1} resolves with flags 1.
	p, err = Decode(mustHex(t, rec+tstr("wf_")+"01"))
	if err != nil || p.Readings[0].Flags != buffer.FlagClockUntrusted {
		t.Errorf("wf_: %v, %+v", err, p)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
