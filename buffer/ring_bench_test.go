package buffer

import (
	"bytes"
	"log"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	diodes "code.cloudfoundry.org/go-diodes"
)

// The benchmarks compare the ring with a buffered channel of the same capacity and with go-diodes'
// ManyToOne (a drop-oldest ring of pointers), in three shapes:
//
//	BenchmarkSameGoroutine  push then pop in one goroutine: the cost of the operations themselves
//	BenchmarkSPSC           one producer goroutine, one consumer goroutine
//	BenchmarkMPSC4          four producer goroutines, one consumer goroutine
//
// ns/op is per value pushed; every variant pushes b.N values and takes each out once (or reports it
// dropped). Variants:
//
//	chan           blocking send, `for range` receive: the producer waits when the channel is full
//	diodes         Set (allocates a bucket and our *Reading), TryNext polled with runtime.Gosched
//	ring           Push (overwrites the oldest when full); the consumer drains with PopBatch into a
//	               buffer of benchBatch like the gateway's batcher, and calls Wait when the ring is
//	               empty (the batcher polls Len on a 20 ms ticker instead, which would only measure
//	               the ticker)
//	ring_lossless  TryPush retried with runtime.Gosched when full, like the channel's blocking send;
//	               "full" counts the refused TryPush calls
//
// BenchmarkSameGoroutine has one value in flight: chan sends and receives it, ring Pushes and Pops it.
// Its *_batch variants push benchBatch values and then take them out, with receives and one PopBatch.
//
// "dropped" is the number of values the implementation reports it dropped during the last run (b.N
// values); diodes' own count comes from its Alerter. The ring's count is exact (the benchmark fails
// otherwise); diodes' is not: "unaccounted" is b.N minus values received minus values it reported
// dropped (negative when it over-reports), "collisions" counts its "Diode set collision" log lines.

const benchCap = 1024

// benchBatch is the consumer's buffer, the gateway's default batch.max_readings.
const benchBatch = 100

var benchSink int64

func BenchmarkSameGoroutine(b *testing.B) {
	v := reading(1, 42)
	b.Run("chan", func(b *testing.B) {
		ch := make(chan Reading, benchCap)
		var sum int64
		for b.Loop() {
			ch <- v
			sum += (<-ch).Time
		}
		benchSink = sum
	})
	b.Run("diodes", func(b *testing.B) {
		d := diodes.NewManyToOne(benchCap, nil)
		var sum int64
		for b.Loop() {
			p := new(Reading)
			*p = v
			d.Set(diodes.GenericDataType(unsafe.Pointer(p)))
			data, _ := d.TryNext()
			sum += (*Reading)(data).Time
		}
		benchSink = sum
	})
	b.Run("ring", func(b *testing.B) {
		q := newRing(b, benchCap)
		var sum int64
		for b.Loop() {
			q.Push(v)
			r, _ := q.Pop()
			sum += r.Time
		}
		benchSink = sum
	})
	b.Run("chan_batch", func(b *testing.B) {
		ch := make(chan Reading, benchCap)
		var sum int64
		for i := 0; i < b.N; i += benchBatch {
			n := min(benchBatch, b.N-i)
			for range n {
				ch <- v
			}
			for range n {
				sum += (<-ch).Time
			}
		}
		benchSink = sum
	})
	b.Run("ring_batch", func(b *testing.B) {
		q := newRing(b, benchCap)
		dst := make([]Reading, benchBatch)
		var sum int64
		for i := 0; i < b.N; i += benchBatch {
			n := min(benchBatch, b.N-i)
			for range n {
				q.Push(v)
			}
			if got := q.PopBatch(dst[:n]); got != n {
				b.Fatalf("PopBatch = %d, want %d", got, n)
			}
			for _, r := range dst[:n] {
				sum += r.Time
			}
		}
		benchSink = sum
	})
}

func BenchmarkSPSC(b *testing.B)  { benchCrossGoroutine(b, 1) }
func BenchmarkMPSC4(b *testing.B) { benchCrossGoroutine(b, 4) }

func benchCrossGoroutine(b *testing.B, producers int) {
	b.Run("chan", func(b *testing.B) { benchChan(b, producers) })
	b.Run("diodes", func(b *testing.B) { benchDiodes(b, producers) })
	b.Run("ring", func(b *testing.B) { benchRing(b, producers, false) })
	b.Run("ring_lossless", func(b *testing.B) { benchRing(b, producers, true) })
}

// startProducers runs push for b.N values split over producers goroutines and returns a flag that is
// set once they have all returned.
func startProducers(b *testing.B, producers int, push func(Reading)) *atomic.Bool {
	var wg sync.WaitGroup
	done := new(atomic.Bool)
	for p := range producers {
		n := b.N / producers
		if p == 0 {
			n += b.N % producers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				push(reading(uint32(p), int64(i)))
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()
	return done
}

func benchChan(b *testing.B, producers int) {
	ch := make(chan Reading, benchCap)
	b.ReportAllocs()
	b.ResetTimer()
	done := startProducers(b, producers, func(r Reading) { ch <- r })
	go func() {
		for !done.Load() {
			time.Sleep(100 * time.Microsecond)
		}
		close(ch)
	}()
	var sum int64
	for r := range ch {
		sum += r.Time
	}
	b.StopTimer()
	benchSink = sum
	b.ReportMetric(0, "dropped")
}

func benchRing(b *testing.B, producers int, lossless bool) {
	q := newRing(b, benchCap)
	push := func(r Reading) { q.Push(r) }
	if lossless {
		push = func(r Reading) {
			for !q.TryPush(r) {
				runtime.Gosched()
			}
		}
	}
	dst := make([]Reading, benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	done := startProducers(b, producers, push)
	var sum int64
	received := 0
	for {
		n := q.PopBatch(dst)
		if n == 0 {
			if done.Load() && q.Len() == 0 {
				break
			}
			q.Wait(time.Millisecond)
			continue
		}
		for _, r := range dst[:n] {
			sum += r.Time
		}
		received += n
	}
	b.StopTimer()
	benchSink = sum
	s := q.Stats()
	if s.Pushed != uint64(b.N) || uint64(received)+s.Dropped != uint64(b.N) {
		b.Fatalf("pushed %d values, received %d, Stats %+v", b.N, received, s)
	}
	b.ReportMetric(float64(s.Dropped), "dropped")
	if lossless {
		b.ReportMetric(float64(s.Rejected), "full")
	}
}

// countWriter counts go-diodes' "Diode set collision" log lines.
type countWriter struct{ lines atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.lines.Add(int64(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

func benchDiodes(b *testing.B, producers int) {
	var dropped int // the Alerter runs on the reader's goroutine
	d := diodes.NewManyToOne(benchCap, diodes.AlertFunc(func(missed int) { dropped += missed }))
	collisions := new(countWriter)
	defer log.SetOutput(log.Writer())
	log.SetOutput(collisions)
	b.ReportAllocs()
	b.ResetTimer()
	done := startProducers(b, producers, func(r Reading) {
		p := new(Reading)
		*p = r
		d.Set(diodes.GenericDataType(unsafe.Pointer(p)))
	})
	var sum int64
	received := 0
	for {
		data, ok := d.TryNext()
		if !ok {
			if done.Load() {
				if data, ok = d.TryNext(); !ok {
					break
				}
			} else {
				runtime.Gosched()
				continue
			}
		}
		sum += (*Reading)(data).Time
		received++
	}
	b.StopTimer()
	benchSink = sum
	b.ReportMetric(float64(dropped), "dropped")
	if n := b.N - received - dropped; n != 0 {
		b.ReportMetric(float64(n), "unaccounted")
	}
	if n := collisions.lines.Load(); n != 0 {
		b.ReportMetric(float64(n), "collisions")
	}
}
