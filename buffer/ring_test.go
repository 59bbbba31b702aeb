package buffer

import (
	"context"
	"fmt"
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
	for i := range int64(capacity + extra) {
		q.Push(reading(0, i))
		if q.Len() != min(int(i+1), capacity) {
			t.Fatalf("after Push %d: Len = %d", i, q.Len())
		}
	}
	// Nothing is counted before the consumer finds the overwritten values.
	if s := q.Stats(); s != (RingStats{Pushed: capacity + extra}) {
		t.Fatalf("Stats = %+v before the consumer ran", s)
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
	want := RingStats{Pushed: capacity + extra, Popped: capacity, Dropped: extra}
	if s := q.Stats(); s != want || q.Len() != 0 {
		t.Fatalf("Stats = %+v, Len %d; want %+v, 0", s, q.Len(), want)
	}
}

// TestRingPopSkipsLaps lets producers run many laps ahead of the consumer: the consumer must jump to the
// oldest value still in the ring in one step, count everything before it dropped, and deliver the
// last Cap() values in order, with Pop and with PopBatch.
func TestRingPopSkipsLaps(t *testing.T) {
	const capacity, pushed = 16, 16*1000 + 5
	for _, batch := range []bool{false, true} {
		q := newRing(t, capacity)
		for i := range int64(pushed) {
			q.Push(reading(0, i))
		}
		if s := q.Stats(); s != (RingStats{Pushed: pushed}) || q.Len() != capacity {
			t.Fatalf("batch %v: Stats before popping = %+v, Len %d", batch, s, q.Len())
		}
		var got []Reading
		if batch {
			dst := make([]Reading, 2*capacity)
			got = dst[:q.PopBatch(dst)]
		} else {
			for {
				r, ok := q.Pop()
				if !ok {
					break
				}
				got = append(got, r)
			}
		}
		if len(got) != capacity {
			t.Fatalf("batch %v: got %d values, want %d", batch, len(got), capacity)
		}
		for i, r := range got {
			checkIntact(t, r)
			if want := int64(pushed - capacity + i); r.Time != want {
				t.Fatalf("batch %v: value %d = %d, want %d", batch, i, r.Time, want)
			}
		}
		want := RingStats{Pushed: pushed, Popped: capacity, Dropped: pushed - capacity}
		if s := q.Stats(); s != want || q.Len() != 0 {
			t.Fatalf("batch %v: Stats = %+v, Len %d; want %+v, 0", batch, s, q.Len(), want)
		}
	}
}

// TestRingPublishLag pins down when the consumer tells producers and Stats how far it has got: every
// lag Pops, when a Pop finds nothing, at once when a producer found the ring full, after every
// PopBatch and in Wait.
func TestRingPublishLag(t *testing.T) {
	const capacity = 1024 // lag = maxLag
	q := newRing(t, capacity)
	for i := range int64(capacity) {
		q.Push(reading(0, i))
	}
	for i := 1; i <= 3*maxLag; i++ {
		if r, ok := q.Pop(); !ok || r.Time != int64(i-1) {
			t.Fatalf("Pop %d = %+v, %v", i, r, ok)
		}
		if want := capacity - i/maxLag*maxLag; q.Len() != want {
			t.Fatalf("after %d Pops: Len = %d, want %d (published every %d)", i, q.Len(), want, maxLag)
		}
	}
	q.Pop() // 3*maxLag+1 popped, 3*maxLag published
	if q.Len() != capacity-3*maxLag {
		t.Fatalf("Len = %d, want %d", q.Len(), capacity-3*maxLag)
	}
	q.Wait(0)
	if q.Len() != capacity-3*maxLag-1 {
		t.Fatalf("Len after Wait = %d, want %d", q.Len(), capacity-3*maxLag-1)
	}
	q.Pop()
	dst := make([]Reading, 10)
	if n := q.PopBatch(dst); n != 10 || q.Len() != capacity-3*maxLag-12 {
		t.Fatalf("PopBatch = %d, Len %d; want 10, %d", n, q.Len(), capacity-3*maxLag-12)
	}

	// A full ring as the producers see it: refill what was popped and published.
	for q.TryPush(reading(0, 0)) {
	}
	s := q.Stats()
	q.Pop() // would not publish on its own: the refused TryPush's wantDeq makes it
	if !q.TryPush(reading(0, 0)) {
		t.Fatalf("TryPush refused after a Pop made room (Stats before %+v, after %+v)", s, q.Stats())
	}
	if q.wantDeq.Load() != 0 {
		t.Error("wantDeq still set after the consumer published")
	}

	// Drained: a Pop that finds nothing publishes, and the counts are exact.
	for {
		if _, ok := q.Pop(); !ok {
			break
		}
	}
	if s := q.Stats(); q.Len() != 0 || s.Pushed != s.Popped || s.Dropped != 0 {
		t.Fatalf("drained ring: Len %d Stats %+v", q.Len(), s)
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
		{"Push", func() { q.Push(v) }},             // fills the ring
		{"Push overwriting", func() { q.Push(v) }}, // ring is full now
		{"TryPush rejected", func() { q.TryPush(v) }},
		{"Pop", func() { q.Pop() }},
		{"TryPush", func() { q.TryPush(v) }},
		{"PopBatch", func() { q.PopBatch(dst) }},
		{"Wait ready", func() { q.Push(v); q.Wait(time.Second); q.Pop() }},
		{"Wait parked", func() { q.Wait(time.Microsecond) }},
		{"Len Cap Stats", func() { _, _, _ = q.Len(), q.Cap(), q.Stats() }},
	} {
		if tc.name == "Push overwriting" {
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
// 128 bytes between the fields different goroutines write, 64-bit atomics aligned on 32-bit ARM
// (including the value words, which the consumer reads with atomic.LoadUint64).
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
	groups := []span{
		{unsafe.Offsetof(q.slots), unsafe.Offsetof(q.timer) + unsafe.Sizeof(q.timer)},
		{unsafe.Offsetof(q.enq), unsafe.Offsetof(q.rejected) + unsafe.Sizeof(q.rejected)},
		{unsafe.Offsetof(q.deq), unsafe.Offsetof(q.dropped) + unsafe.Sizeof(q.dropped)},
		{unsafe.Offsetof(q.head), unsafe.Offsetof(q.pubSkipped) + unsafe.Sizeof(q.pubSkipped)},
		{unsafe.Offsetof(q.wantDeq), unsafe.Offsetof(q.wantDeq) + unsafe.Sizeof(q.wantDeq)},
	}
	names := []string{"read-mostly header", "producer indexes", "consumer publication",
		"consumer state", "wantDeq"}
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
		"enq": unsafe.Pointer(&r.enq), "deqSeen": unsafe.Pointer(&r.deqSeen), "deq": unsafe.Pointer(&r.deq),
		"popped": unsafe.Pointer(&r.popped), "dropped": unsafe.Pointer(&r.dropped), "rejected": unsafe.Pointer(&r.rejected),
		"slots[1].seq": unsafe.Pointer(&r.slots[1].seq), "slots[3].seq": unsafe.Pointer(&r.slots[3].seq),
		"slots[1].w[0]": unsafe.Pointer(&r.slots[1].w[0]), "slots[3].w[2]": unsafe.Pointer(&r.slots[3].w[2]),
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

// fullRing returns a ring of capacity 4 holding the values 0..3 of producer 0.
func fullRing(t *testing.T) *Ring {
	t.Helper()
	q := newRing(t, 4)
	for i := range int64(4) {
		if !q.TryPush(reading(0, i)) {
			t.Fatalf("TryPush %d failed on a ring that was not full", i)
		}
	}
	return q
}

// expectValues pops everything left in q and checks that it is exactly want, in order.
func expectValues(t *testing.T, q *Ring, want ...int64) {
	t.Helper()
	dst := make([]Reading, 8)
	n := q.PopBatch(dst)
	if n != len(want) {
		t.Fatalf("PopBatch = %d values %+v, want %v", n, dst[:n], want)
	}
	for i, r := range dst[:n] {
		checkIntact(t, r)
		if r.Time != want[i] {
			t.Fatalf("PopBatch = %+v, want values %v", dst[:n], want)
		}
	}
}

// waitFor receives from ch or fails the test after a generous timeout.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestRingPopBeforeOverwrite lets the consumer take the oldest value after a Push into the full ring
// has claimed its slot and before it marks it. The consumer gets the value intact and nothing is
// counted dropped: the producer overwrote a value already taken.
func TestRingPopBeforeOverwrite(t *testing.T) {
	q := fullRing(t)
	var got []Reading
	testHookOverwriting = func(q *Ring) {
		if r, ok := q.Pop(); ok {
			got = append(got, r)
		}
	}
	defer func() { testHookOverwriting = nil }()
	done := make(chan struct{})
	go func() { q.Push(reading(0, 4)); close(done) }()
	waitFor(t, done, "Push")
	testHookOverwriting = nil
	if len(got) != 1 || got[0].Time != 0 {
		t.Fatalf("Pop during the overwrite = %+v, want value 0", got)
	}
	checkIntact(t, got[0])
	if s := q.Stats(); s != (RingStats{Pushed: 5, Popped: 1}) {
		t.Errorf("Stats = %+v, want Pushed 5 Popped 1 Dropped 0", s)
	}
	expectValues(t, q, 1, 2, 3, 4)
}

// TestRingPopLosesToOverwrite overwrites the oldest value after Pop (and then PopBatch) has copied it
// and before it checked the copy. The consumer must not return the overwritten value or a mix of the
// two: it counts it dropped and goes on with the next value.
func TestRingPopLosesToOverwrite(t *testing.T) {
	for _, tc := range []struct {
		batch  bool
		copies int     // values the consumer copied
		want   []int64 // values returned
		rest   []int64 // values left in the ring
	}{
		{batch: false, copies: 2, want: []int64{1}, rest: []int64{2, 3, 4}},
		{batch: true, copies: 5, want: []int64{1, 2, 3, 4}, rest: nil},
	} {
		q := fullRing(t)
		copies := 0
		testHookPopCopied = func(q *Ring) {
			copies++
			if copies == 1 {
				q.Push(reading(0, 4))
			}
		}
		res := make(chan []Reading, 1)
		go func() {
			if tc.batch {
				dst := make([]Reading, 4)
				res <- dst[:q.PopBatch(dst)]
			} else if r, ok := q.Pop(); ok {
				res <- []Reading{r}
			} else {
				res <- nil
			}
		}()
		got := waitFor(t, res, "the consumer")
		testHookPopCopied = nil
		if copies != tc.copies {
			t.Fatalf("batch %v: the consumer copied %d values, want %d", tc.batch, copies, tc.copies)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("batch %v: got %+v, want values %v", tc.batch, got, tc.want)
		}
		for i, r := range got {
			checkIntact(t, r)
			if r.Time != tc.want[i] {
				t.Fatalf("batch %v: got %+v, want values %v", tc.batch, got, tc.want)
			}
		}
		if s := q.Stats(); s != (RingStats{Pushed: 5, Popped: uint64(len(tc.want)), Dropped: 1}) {
			t.Errorf("batch %v: Stats = %+v, want Pushed 5 Popped %d Dropped 1", tc.batch, s, len(tc.want))
		}
		expectValues(t, q, tc.rest...)
	}
}

// TestRingPopWaitsForOverwrite stops a Push into the full ring after it marked the oldest value's slot
// and before it stored its own value there. The consumer must skip the old value (dropped), take the
// three after it, and wait for the new one; once the Push finishes, Wait wakes and Pop returns it.
func TestRingPopWaitsForOverwrite(t *testing.T) {
	q := fullRing(t)
	marked, resume := make(chan struct{}), make(chan struct{})
	testHookMarked = func(*Ring) {
		close(marked)
		<-resume
	}
	defer func() { testHookMarked = nil }()
	done := make(chan struct{})
	go func() { q.Push(reading(0, 4)); close(done) }()
	waitFor(t, marked, "Push to mark the slot")
	expectValues(t, q, 1, 2, 3)
	if r, ok := q.Pop(); ok {
		t.Fatalf("Pop = %+v while its producer was still storing it", r)
	}
	if s := q.Stats(); s != (RingStats{Pushed: 5, Popped: 3, Dropped: 1}) {
		t.Errorf("Stats = %+v, want Pushed 5 Popped 3 Dropped 1", s)
	}
	close(resume)
	waitFor(t, done, "Push")
	if !q.Wait(5 * time.Second) {
		t.Fatal("Wait did not see the stored value")
	}
	expectValues(t, q, 4)
}

// stressMode is what the producers of a stress run do when the ring is full.
type stressMode int

const (
	lossless stressMode = iota // TryPush, retried until accepted: nothing may be lost
	evicting                   // Push: producers overflow the ring and overwrite while the consumer pops
	mixed                      // producers 0 and 1 Push; 2 and 3 TryPush once and give the value up
)

// stress runs 4 producers against one consumer and checks that every value arrives once, in order per
// producer, or was counted: dropped (overwritten) or rejected (refused). Meanwhile another goroutine
// reads Stats and checks that no counter goes down and Pushed never falls below Popped+Dropped.
func stress(t *testing.T, mode stressMode, capacity int) {
	const producers = 4
	const perProducer = 50_000
	const total = producers * perProducer
	q := newRing(t, capacity)
	// A guard, not a timing target: under qemu-user on a loaded 2-core machine 200k pushes with a
	// 2-slot ring have taken more than 15 s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	var done atomic.Bool
	for p := range uint32(producers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			push := mode == evicting || (mode == mixed && p < 2)
			for i := range int64(perProducer) {
				v := reading(p, i)
				switch {
				case push:
					q.Push(v)
					if i%1024 == 1023 {
						// Push never blocks: without this the producers can finish before the
						// consumer runs at all (one CPU, or a consumer still parked).
						runtime.Gosched()
					}
				case mode == mixed:
					if !q.TryPush(v) { // a spooling producer would write v to disk instead
						runtime.Gosched()
					}
				default:
					for !q.TryPush(v) {
						if ctx.Err() != nil {
							return
						}
						runtime.Gosched()
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()

	observed := make(chan int)
	go func() {
		var prev RingStats
		n := 0
		for ; !done.Load() && ctx.Err() == nil; n++ {
			s := q.Stats()
			if s.Pushed < prev.Pushed || s.Popped < prev.Popped || s.Dropped < prev.Dropped || s.Rejected < prev.Rejected {
				t.Errorf("Stats went down: %+v after %+v", s, prev)
				break
			}
			if s.Pushed < s.Popped+s.Dropped {
				t.Errorf("Stats %+v: Pushed below Popped+Dropped", s)
				break
			}
			prev = s
			runtime.Gosched()
		}
		observed <- n
	}()

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
			if r.Time < next[p] || (mode == lossless && r.Time != next[p]) {
				t.Fatalf("producer %d: got value %d, expected %d next: duplicate, lost or out of order",
					p, r.Time, next[p])
			}
			next[p] = r.Time + 1
			received++
		}
	}

	s := q.Stats()
	t.Logf("received %d, Stats %+v, %d Stats calls while it ran", received, s, <-observed)
	if s.Pushed+s.Rejected != total && mode != lossless || s.Popped != uint64(received) || s.Popped+s.Dropped != s.Pushed {
		t.Errorf("received %d, Stats %+v: not every value of %d counted once", received, s, total)
	}
	switch {
	case mode == lossless && (s.Dropped != 0 || s.Pushed != total):
		t.Errorf("Stats %+v: TryPush must never overwrite, and every value was retried until stored", s)
	case mode != lossless && (s.Dropped == 0 || s.Popped == 0):
		t.Errorf("Stats %+v: the consumer never raced an overwriting producer", s)
	case mode == mixed && s.Rejected == 0:
		t.Errorf("Stats %+v: no TryPush was refused", s)
	}
}

func TestRingStressLossless(t *testing.T) { stress(t, lossless, 256) }
func TestRingStressEvicting(t *testing.T) { stress(t, evicting, 16) }

// TestRingStressEvictingTiny uses the smallest ring, where nearly every Push overwrites and races the
// consumer's copy of the same slot.
func TestRingStressEvictingTiny(t *testing.T) { stress(t, evicting, 2) }

// TestRingStressMixed has overwriting and refused producers on one ring, with the counters checked
// while they run.
func TestRingStressMixed(t *testing.T) {
	for _, c := range []int{4, 64} {
		t.Run(fmt.Sprint(c), func(t *testing.T) { stress(t, mixed, c) })
	}
}
