package modbus

import (
	"testing"
)

// TestPlanMerges: abutting entries of one function share a request, gaps and other functions do not,
// and max_read splits long runs.
func TestPlanMerges(t *testing.T) {
	regsIn := []Register{
		reg("vwc", "%", "holding", 1, "u16"), reg("t", "Cel", "holding", 0, "i16"), reg("ec", "S/m", "holding", 2, "u16"),
		reg("far", "count", "holding", 10, "u32"), reg("v", "V", "input", 0, "f32"), reg("i", "A", "input", 2, "f32"),
		reg("door", "/", "coil", 5, "bit"), reg("lid", "/", "coil", 6, "bit"),
	}
	regsIn[6].Type, regsIn[7].Type = "bit", "bit"
	reqs, fields := plan(regsIn, MaxRegisters)
	type rq struct {
		fn          byte
		addr, count uint16
	}
	want := []rq{{FuncReadCoils, 5, 2}, {FuncReadHolding, 0, 3}, {FuncReadHolding, 10, 2}, {FuncReadInput, 0, 4}}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(reqs), len(want), reqs)
	}
	for i, w := range want {
		if got := (rq{reqs[i].fn, reqs[i].addr, reqs[i].count}); got != w || len(reqs[i].items) != int(w.count) {
			t.Errorf("request %d: %+v, want %+v", i, got, w)
		}
	}
	if f := fields[0]; f.req != 1 || f.off != 1 { // vwc: second register of 0..2
		t.Errorf("vwc at %+v", f)
	}
	if f := fields[5]; f.req != 3 || f.off != 2 {
		t.Errorf("i at %+v", f)
	}
	// At most 2 registers per request: 0..2 becomes 0..1 and 2; the f32s stay whole.
	reqs, _ = plan(regsIn, 2)
	if len(reqs) != 6 {
		t.Fatalf("max_read 2: %d requests: %+v", len(reqs), reqs)
	}
}

// TestConversions: known answers from the manuals and from IEEE 754.
func TestConversions(t *testing.T) {
	cases := []struct {
		name  string
		f     field
		items []uint16
		want  float64
	}{
		// Seeed S-Temp&VWC&EC-02 manual V1.0, 5.3 (p. 10): "if the return value is 0702H [...] the
		// temperature [...] /100=17.94"; VWC "071DH [...] 1821 [...] 18.21%".
		{"seeed temperature", field{typ: "i16", scale: 0.01}, []uint16{0x0702}, 17.94},
		{"seeed vwc", field{typ: "u16", scale: 0.01}, []uint16{0x071D}, 18.21},
		// Two's complement: FF05H is -251 (the manual's formula ((FFH*256+05H)-FFFFH-1H)/100).
		{"negative i16", field{typ: "i16", scale: 0.01}, []uint16{0xFF05}, -2.51},
		// IEEE 754 single: 230.0 = 0x43660000 (sign 0, exponent 134, fraction 0.796875); -1.5 =
		// 0xBFC00000.
		{"f32 high first", field{typ: "f32", scale: 1}, []uint16{0x4366, 0x0000}, 230},
		{"f32 low first", field{typ: "f32", scale: 1, lowFirst: true}, []uint16{0x0000, 0xBFC0}, -1.5},
		{"u32", field{typ: "u32", scale: 1}, []uint16{0x0001, 0x0002}, 65538},
		{"u32 low first", field{typ: "u32", scale: 1, lowFirst: true}, []uint16{0x0002, 0x0001}, 65538},
		{"i32", field{typ: "i32", scale: 1}, []uint16{0xFFFF, 0xFFFE}, -2},
		{"u16 offset", field{typ: "u16", scale: 0.1, offset: -40}, []uint16{500}, 10},
		{"bit", field{typ: "bit", scale: 1}, []uint16{1}, 1},
	}
	for _, c := range cases {
		if got := c.f.value(c.items); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
