package modbus

import (
	"encoding/binary"
	"math"
	"slices"
)

// request is one read of adjacent items, with the buffer its answer is decoded into.
type request struct {
	fn          byte
	addr, count uint16
	items       []uint16 // count items: registers as read, bits as 0 or 1
}

// field says where one channel's value is in the requests and how to convert it.
type field struct {
	req, off      int // request index, first item in it
	typ           string
	lowFirst      bool
	scale, offset float64
}

// plan groups a register map into requests: entries of one function whose registers abut are read
// together, up to maxRead registers (16 × maxRead bits, at most 2000) per request. Gaps are not
// bridged: a device may refuse a read that covers registers it does not have (exception 02).
// fields are in the order of regs, which Validate has checked.
func plan(regs []Register, maxRead int) ([]request, []field) {
	type item struct{ i, addr, width int }
	byFn := map[byte][]item{}
	for i, r := range regs {
		fn := functions[r.Function]
		w := widths[r.Type]
		if isBits(fn) {
			w = 1
		}
		byFn[fn] = append(byFn[fn], item{i, r.Address, w})
	}
	fields := make([]field, len(regs))
	var reqs []request
	for _, fn := range []byte{FuncReadCoils, FuncReadDiscreteInputs, FuncReadHolding, FuncReadInput} {
		items := byFn[fn]
		slices.SortFunc(items, func(a, b item) int { return a.addr - b.addr })
		limit := maxRead
		if isBits(fn) {
			limit = min(16*maxRead, MaxBits)
		}
		for _, it := range items {
			last := len(reqs) - 1
			if last < 0 || reqs[last].fn != fn || int(reqs[last].addr)+int(reqs[last].count) != it.addr ||
				int(reqs[last].count)+it.width > limit {
				reqs = append(reqs, request{fn: fn, addr: uint16(it.addr)})
				last++
			}
			r := regs[it.i]
			fields[it.i] = field{req: last, off: int(reqs[last].count), typ: r.Type, lowFirst: r.WordOrder == "low_first",
				scale: r.Scale, offset: r.Offset}
			reqs[last].count += uint16(it.width)
		}
	}
	for i := range reqs {
		reqs[i].items = make([]uint16, reqs[i].count)
	}
	return reqs, fields
}

// raw converts the items of a field to its raw number (before scale and offset).
func (f *field) raw(items []uint16) float64 {
	v := items[f.off:]
	switch f.typ {
	case "i16":
		return float64(int16(v[0]))
	case "u32", "i32", "f32":
		hi, lo := v[0], v[1]
		if f.lowFirst {
			hi, lo = lo, hi
		}
		var b [4]byte
		binary.BigEndian.PutUint16(b[:], hi)
		binary.BigEndian.PutUint16(b[2:], lo)
		u := binary.BigEndian.Uint32(b[:])
		switch f.typ {
		case "i32":
			return float64(int32(u))
		case "f32":
			return float64(math.Float32frombits(u))
		}
		return float64(u)
	}
	return float64(v[0]) // u16, bit
}

// value is the field's reading: raw × scale + offset.
func (f *field) value(items []uint16) float64 { return f.raw(items)*f.scale + f.offset }

// Value converts the items a register map entry takes (one register, two for the 32-bit types,
// one 0 or 1 for a bit) to its reading, as Sample does: raw × scale + offset.
func (r *Register) Value(items []uint16) float64 {
	f := field{typ: r.Type, lowFirst: r.WordOrder == "low_first", scale: r.Scale, offset: r.Offset}
	return f.value(items)
}

// Width is how many items the entry takes: 2 for u32, i32 and f32, else 1.
func (r *Register) Width() int {
	if w, ok := widths[r.Type]; ok {
		return w
	}
	return 1
}

// Func is the function code that reads the entry, 0 for an unknown function.
func (r *Register) Func() byte { return functions[r.Function] }
