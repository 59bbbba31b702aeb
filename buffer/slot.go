package buffer

import (
	"math"
	"sync/atomic"
)

// The ring's cells: a slot's layout and states, and a Reading packed into and loaded from one.

// slot is one cell of the ring: 8 + 24 bytes, no pointers, so the garbage collector never scans the
// ring and a full ring of 16384 readings is a single 512 KiB allocation. Two slots share a 64-byte
// line; the consumer only reads slots, so they gain nothing from a line of their own.
//
// seq is a position shifted left by two with a state in the low bits (see tag): it says which value the
// slot holds. w is the Reading in three words (see pack), so that the consumer can read it with atomic
// loads.
type slot struct {
	seq atomic.Uint64
	w   [3]uint64
}

// Slot states, for the position p in seq's high bits:
//
//	slotEmpty    never written: free for p (the initial state, seq == tag(i, slotEmpty) for slot i)
//	slotWriting  a producer that overwrites the previous lap's value is storing p's value
//	slotFull     holds p's value
//
// A slot goes Empty(i) -> Full(i) on the first lap, then Full(p) -> Full(p+Cap()) when the consumer
// took p before the producer of p+Cap() came, or Full(p) -> Writing(p+Cap()) -> Full(p+Cap()) when that
// producer overwrote p. seq only grows, and the consumer at position p reads it as: below Full(p), p
// is not stored yet; Full(p), p is there; above, p has been overwritten and is lost.
const (
	slotEmpty = iota
	slotWriting
	slotFull
)

func tag(pos, state uint64) uint64 { return pos<<2 | state }

// pack turns a Reading into the three words a slot stores.
func pack(v Reading) [3]uint64 {
	return [3]uint64{uint64(v.Time), math.Float64bits(v.Value), uint64(v.Channel) | uint64(v.Flags)<<32}
}

// load copies the slot's value with atomic loads (plain moves on amd64), so that reading a slot an
// overwriting producer is rewriting is not a data race; the caller discards such a copy.
func (s *slot) load() Reading {
	w2 := atomic.LoadUint64(&s.w[2])
	return Reading{
		Time:    int64(atomic.LoadUint64(&s.w[0])),
		Value:   math.Float64frombits(atomic.LoadUint64(&s.w[1])),
		Channel: uint32(w2),
		Flags:   uint32(w2 >> 32),
	}
}

// storeAtomic writes w into a slot the consumer may be reading (see Ring).
func (s *slot) storeAtomic(w *[3]uint64) {
	atomic.StoreUint64(&s.w[0], w[0])
	atomic.StoreUint64(&s.w[1], w[1])
	atomic.StoreUint64(&s.w[2], w[2])
}
