package buffer

import (
	"context"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// reading returns the i-th test value of producer p. Value and Flags repeat the sequence number so that
// a torn copy (half of one slot's lap, half of another's) shows up as a mismatch.
func reading(p uint32, i int64) Reading {
	return Reading{Time: i, Value: float64(i), Channel: p, Flags: ^uint32(i)}
}

func checkIntact(t *testing.T, r Reading) {
	t.Helper()
	if r.Value != float64(r.Time) || r.Flags != ^uint32(r.Time) {
		t.Fatalf("torn or corrupt reading %+v", r)
	}
}

func newRing(t testing.TB, capacity int) *Ring {
	t.Helper()
	q, err := NewRing(capacity)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestNewRingCapacity(t *testing.T) {
	for _, tc := range []struct {
		capacity int
		want     string
	}{
		{-4, "buffer: ring capacity -4 is not a power of two between 2 and 1<<24; try 2"},
		{0, "buffer: ring capacity 0 is not a power of two between 2 and 1<<24; try 2"},
		{1, "buffer: ring capacity 1 is not a power of two between 2 and 1<<24; try 2"},
		{3, "buffer: ring capacity 3 is not a power of two between 2 and 1<<24; try 4"},
		{1000, "buffer: ring capacity 1000 is not a power of two between 2 and 1<<24; try 1024"},
		{1<<24 + 1, "buffer: ring capacity 16777217 is not a power of two between 2 and 1<<24; try 16777216"},
		{1 << 25, "buffer: ring capacity 33554432 is not a power of two between 2 and 1<<24; try 16777216"},
	} {
		q, err := NewRing(tc.capacity)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewRing(%d) = %v, %v; want error %q", tc.capacity, q, err, tc.want)
		}
	}
	for _, capacity := range []int{2, 4, 1024, 1 << 14} {
		q, err := NewRing(capacity)
		if err != nil {
			t.Fatalf("NewRing(%d): %v", capacity, err)
		}
		if q.Cap() != capacity || q.Len() != 0 || q.Stats() != (RingStats{}) {
			t.Errorf("NewRing(%d): Cap %d Len %d Stats %+v", capacity, q.Cap(), q.Len(), q.Stats())
		}
	}
}

func TestRingEmpty(t *testing.T) {
	q := newRing(t, 4)
	if r, ok := q.Pop(); ok {
		t.Errorf("Pop on empty ring = %+v, true", r)
	}
	if n := q.PopBatch(make([]Reading, 4)); n != 0 {
		t.Errorf("PopBatch on empty ring = %d", n)
	}
	q.Push(reading(0, 1))
	if n := q.PopBatch(nil); n != 0 {
		t.Errorf("PopBatch(nil) = %d", n)
	}
	if q.Len() != 1 {
		t.Errorf("Len = %d after PopBatch(nil), want 1", q.Len())
	}
}

// TestRingFIFOWraparound runs many laps around a small ring with every interleaving of fill level and
// batch size, so each slot is reused with seq values far from its index.
func TestRingFIFOWraparound(t *testing.T) {
	const capacity = 8
	q := newRing(t, capacity)
	var next, want int64
	dst := make([]Reading, capacity+3) // longer than the ring: PopBatch must stop at Cap()
	for lap := 0; lap < 200; lap++ {
		fill := 1 + lap%capacity
		for range fill {
			if !q.TryPush(reading(0, next)) {
				t.Fatalf("TryPush %d failed with Len %d", next, q.Len())
			}
			next++
		}
		if q.Len() != fill {
			t.Fatalf("Len = %d, want %d", q.Len(), fill)
		}
		for q.Len() > 0 {
			var got []Reading
			if lap%2 == 0 {
				r, ok := q.Pop()
				if !ok {
					t.Fatalf("Pop failed with Len %d", q.Len())
				}
				got = []Reading{r}
			} else {
				n := q.PopBatch(dst[:1+lap%len(dst)])
				if n == 0 {
					t.Fatalf("PopBatch returned 0 with Len %d", q.Len())
				}
				got = dst[:n]
			}
			for _, r := range got {
				checkIntact(t, r)
				if r.Time != want {
					t.Fatalf("got value %d, want %d (FIFO order)", r.Time, want)
				}
				want++
			}
		}
	}
	if want != next || want < 100*capacity {
		t.Fatalf("popped %d of %d values", want, next)
	}
	if s := q.Stats(); s != (RingStats{Pushed: uint64(next), Popped: uint64(next)}) {
		t.Errorf("Stats = %+v, want Pushed = Popped = %d", s, next)
	}
}

func TestRingPushDropsOldest(t *testing.T) {
	const capacity, extra = 8, 5
	q := newRing(t, capacity)
	for i := range int64(capacity) {
		if q.Push(reading(0, i)) {
			t.Fatalf("Push %d dropped a value from a ring that was not full", i)
		}
	}
	for i := int64(capacity); i < capacity+extra; i++ {
		if !q.Push(reading(0, i)) {
			t.Fatalf("Push %d into a full ring did not report a drop", i)
		}
		if q.Len() != capacity {
			t.Fatalf("Len = %d after evicting Push, want %d", q.Len(), capacity)
		}
	}
	want := RingStats{Pushed: capacity + extra, Dropped: extra}
	if s := q.Stats(); s != want {
		t.Fatalf("Stats = %+v, want %+v", s, want)
	}
	// Exactly the oldest `extra` values are gone; the rest come out in order.
	for i := int64(extra); i < capacity+extra; i++ {
		r, ok := q.Pop()
		if !ok || r.Time != i {
			t.Fatalf("Pop = %+v, %v; want value %d", r, ok, i)
		}
		checkIntact(t, r)
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("ring not empty after popping Cap() values")
	}
	want.Popped = capacity
	if s := q.Stats(); s != want {
		t.Fatalf("Stats = %+v, want %+v", s, want)
	}
}

func TestRingTryPushRejects(t *testing.T) {
	q := newRing(t, 4)
	for i := range int64(4) {
		if !q.TryPush(reading(0, i)) {
			t.Fatalf("TryPush %d failed on a ring that was not full", i)
		}
	}
	for i := range 3 {
		if q.TryPush(reading(0, 99)) {
			t.Fatalf("TryPush into a full ring succeeded (attempt %d)", i)
		}
	}
	if s := q.Stats(); s != (RingStats{Pushed: 4, Rejected: 3}) {
		t.Fatalf("Stats = %+v, want Pushed 4 Rejected 3", s)
	}
	if r, ok := q.Pop(); !ok || r.Time != 0 {
		t.Fatalf("Pop = %+v, %v; want value 0 (a rejected TryPush must not evict)", r, ok)
	}
	if !q.TryPush(reading(0, 4)) {
		t.Fatal("TryPush failed after Pop made room")
	}
	dst := make([]Reading, 8)
	n := q.PopBatch(dst)
	if n != 4 {
		t.Fatalf("PopBatch = %d, want 4", n)
	}
	for i, r := range dst[:n] {
		if r.Time != int64(i+1) {
			t.Fatalf("value %d = %d, want %d", i, r.Time, i+1)
		}
	}
}

func TestRingAllocs(t *testing.T) {
	const runs = 200
	q := newRing(t, 1024)
	v := reading(1, 1)
	dst := make([]Reading, 16)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Push", func() { q.Push(v) }},          // fills the ring
		{"Push evicting", func() { q.Push(v) }}, // ring is full now
		{"TryPush rejected", func() { q.TryPush(v) }},
		{"Pop", func() { q.Pop() }},
		{"TryPush", func() { q.TryPush(v) }},
		{"PopBatch", func() { q.PopBatch(dst) }},
		{"Wait ready", func() { q.Push(v); q.Wait(time.Second); q.Pop() }},
		{"Wait parked", func() { q.Wait(time.Microsecond) }},
		{"Len Cap Stats", func() { _, _, _ = q.Len(), q.Cap(), q.Stats() }},
	} {
		if tc.name == "Push evicting" {
			for q.Len() < q.Cap() {
				q.Push(v)
			}
		}
		if a := testing.AllocsPerRun(runs, tc.f); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, a)
		}
	}
	if s := q.Stats(); s.Dropped == 0 || s.Rejected == 0 || s.Popped == 0 {
		t.Errorf("Stats = %+v: some path was not exercised", s)
	}
}

// TestRingLayout checks what the doc comments promise about memory: pointer-free 32-byte slots,
// 128 bytes between the fields different goroutines write, 64-bit atomics aligned on 32-bit ARM.
func TestRingLayout(t *testing.T) {
	if s := unsafe.Sizeof(slot{}); s != 32 {
		t.Errorf("slot is %d bytes, want 32", s)
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(typ.Field(i).Type)
			}
		case reflect.Array:
			walk(typ.Elem())
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
		default:
			t.Errorf("slot holds a %v: slots must be pointer-free", typ)
		}
	}
	walk(reflect.TypeFor[slot]())

	var q Ring
	type span struct{ start, end uintptr }
	f := func(off, size uintptr) span { return span{off, off + size} }
	groups := []span{
		{unsafe.Offsetof(q.slots), unsafe.Offsetof(q.timer) + unsafe.Sizeof(q.timer)},
		f(unsafe.Offsetof(q.enq), unsafe.Sizeof(q.enq)),
		f(unsafe.Offsetof(q.deq), unsafe.Sizeof(q.deq)),
		{unsafe.Offsetof(q.dropped), unsafe.Offsetof(q.rejected) + unsafe.Sizeof(q.rejected)},
	}
	names := []string{"read-mostly header", "producer index", "consumer index", "counters"}
	if groups[0].start < cacheLine {
		t.Errorf("%d bytes before the header, want >= %d", groups[0].start, cacheLine)
	}
	for i := 1; i < len(groups); i++ {
		if gap := groups[i].start - groups[i-1].end; gap < cacheLine {
			t.Errorf("%d bytes between %s and %s, want >= %d", gap, names[i-1], names[i], cacheLine)
		}
	}
	if gap := unsafe.Sizeof(q) - groups[len(groups)-1].end; gap < cacheLine {
		t.Errorf("%d bytes after the counters, want >= %d", gap, cacheLine)
	}

	r := newRing(t, 4)
	for name, p := range map[string]unsafe.Pointer{
		"enq": unsafe.Pointer(&r.enq), "deq": unsafe.Pointer(&r.deq),
		"dropped": unsafe.Pointer(&r.dropped), "rejected": unsafe.Pointer(&r.rejected),
		"slots[1].seq": unsafe.Pointer(&r.slots[1].seq), "slots[3].seq": unsafe.Pointer(&r.slots[3].seq),
	} {
		if uintptr(p)%8 != 0 {
			t.Errorf("%s at %#x is not 8-byte aligned", name, p)
		}
	}
}

func TestRingWaitTimeout(t *testing.T) {
	q := newRing(t, 4)
	if q.Wait(0) || q.Wait(-time.Second) {
		t.Fatal("Wait on an empty ring reported data")
	}
	const timeout = 30 * time.Millisecond
	start := time.Now()
	if q.Wait(timeout) {
		t.Fatal("Wait on an empty ring reported data")
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("Wait(%v) returned after %v", timeout, d)
	}
	q.Push(reading(0, 1))
	if !q.Wait(0) || !q.Wait(time.Hour) {
		t.Fatal("Wait with a value in the ring reported none")
	}
	if q.parked.Load() != 0 {
		t.Fatal("Wait left the parked flag set")
	}
}

// TestRingWaitWakes hands values to a consumer that parks every time, half of them pushed exactly
// when the consumer has announced it is parking (the window where a wake-up could be missed). A missed
// wake-up makes Wait run into its timeout.
func TestRingWaitWakes(t *testing.T) {
	const rounds = 500
	const timeout = 5 * time.Second
	q := newRing(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		for i := range int64(rounds) {
			if i%2 == 0 {
				for q.parked.Load() == 0 { // wait until the consumer is past its spin and yield phases
					if ctx.Err() != nil {
						return
					}
					runtime.Gosched()
				}
			}
			q.Push(reading(0, i))
			for q.Len() != 0 { // one value at a time, so the consumer parks every round
				if ctx.Err() != nil {
					return
				}
				runtime.Gosched()
			}
		}
	}()
	for i := range int64(rounds) {
		start := time.Now()
		ok := q.Wait(timeout)
		if d := time.Since(start); !ok || d >= timeout/2 {
			t.Fatalf("round %d: Wait = %v after %v: missed wake-up", i, ok, d)
		}
		r, ok := q.Pop()
		if !ok || r.Time != i {
			t.Fatalf("round %d: Pop = %+v, %v", i, r, ok)
		}
	}
}

// TestRingWaitRecheck pushes a value in the one place a wake-up can be lost: after the consumer's last
// look at the ring and before it announces that it parks. The producer sees no parked consumer and
// sends nothing, so only Wait's own second look can find the value.
func TestRingWaitRecheck(t *testing.T) {
	q := newRing(t, 4)
	testHookBeforePark = func(q *Ring) {
		if q.Len() == 0 {
			q.Push(reading(0, 7))
		}
	}
	defer func() { testHookBeforePark = nil }()
	const timeout = 5 * time.Second
	start := time.Now()
	ok := q.Wait(timeout)
	if d := time.Since(start); !ok || d >= timeout/2 {
		t.Fatalf("Wait = %v after %v: missed the value pushed while it was about to park", ok, d)
	}
	if r, ok := q.Pop(); !ok || r.Time != 7 {
		t.Fatalf("Pop = %+v, %v", r, ok)
	}
}

// stress runs 4 producers against one consumer and checks that every value arrives once, in order per
// producer, or was counted as evicted. evict selects Push on a small ring (producers overflow and evict
// while the consumer pops) over TryPush retried until accepted (nothing may be lost).
func stress(t *testing.T, evict bool) {
	const producers = 4
	const perProducer = 50_000
	const total = producers * perProducer
	capacity := 256
	if evict {
		capacity = 16
	}
	q := newRing(t, capacity)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	var done atomic.Bool
	var pushDrops atomic.Uint64 // Push calls that reported droppedOldest
	for p := range uint32(producers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range int64(perProducer) {
				v := reading(p, i)
				if evict {
					if q.Push(v) {
						pushDrops.Add(1)
					}
					continue
				}
				for !q.TryPush(v) { // a spooling producer would write v to disk instead
					if ctx.Err() != nil {
						return
					}
					runtime.Gosched()
				}
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()

	var next [producers]int64 // next value expected from each producer (at least)
	received := 0
	dst := make([]Reading, 32)
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			t.Fatalf("timed out: received %d of %d, Stats %+v, Len %d", received, total, q.Stats(), q.Len())
		}
		var got []Reading
		if i%3 == 0 {
			if r, ok := q.Pop(); ok {
				got = []Reading{r}
			}
		} else {
			got = dst[:q.PopBatch(dst[:1+i%len(dst)])]
		}
		if len(got) == 0 {
			if done.Load() && q.Len() == 0 {
				break
			}
			q.Wait(10 * time.Millisecond)
			continue
		}
		for _, r := range got {
			checkIntact(t, r)
			p := r.Channel
			if p >= producers {
				t.Fatalf("reading from unknown producer %d", p)
			}
			if r.Time < next[p] || (!evict && r.Time != next[p]) {
				t.Fatalf("producer %d: got value %d, expected %d next: duplicate, lost or out of order",
					p, r.Time, next[p])
			}
			next[p] = r.Time + 1
			received++
		}
	}

	s := q.Stats()
	t.Logf("received %d, Stats %+v, Push reported drops %d", received, s, pushDrops.Load())
	if s.Pushed != total || s.Popped != uint64(received) || uint64(received)+s.Dropped != total {
		t.Errorf("received %d + dropped %d != %d pushed, or Stats %+v disagree", received, s.Dropped, total, s)
	}
	if evict {
		if s.Dropped == 0 || s.Popped == 0 {
			t.Errorf("Stats %+v: the consumer never raced an evicting producer", s)
		}
		if d := pushDrops.Load(); d == 0 || d > s.Dropped {
			t.Errorf("%d Push calls reported drops for %d drops counted", d, s.Dropped)
		}
	} else if s.Dropped != 0 {
		t.Errorf("Stats %+v: TryPush must never evict", s)
	}
}

func TestRingStressLossless(t *testing.T) { stress(t, false) }
func TestRingStressEvicting(t *testing.T) { stress(t, true) }
