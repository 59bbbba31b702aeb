package gateway

import "time"

// Ring sizing when buffer.capacity is not set. The ring only bridges the samplers and the batcher,
// which looks at it every Options.Poll (20 ms) and takes a pack out once it holds batch.max_readings or
// its oldest reading is batch.max_age old; the spool, not the ring, rides out an outage. So the ring
// needs a pack's worth twice over plus what arrives while a pack ages, and beyond that room for the
// batcher to stall on a slow disk (an SD card's fsync can take seconds): ringHeadroom of readings at
// the configured rates. Every slot is 32 bytes and a ring that wraps touches all of them, so the 16384
// of old cost an idle cabinet 512 KiB of resident memory for 15 minutes of readings it never needed.
const (
	ringHeadroom = time.Minute
	ringMin      = 1024
)

// autoRingCapacity is the ring for sensors sampling rate readings a second in all, batched by maxN
// readings or maxAge: a power of two from ringMin up to limit (buffer.capacity's default).
func autoRingCapacity(rate float64, maxN int, maxAge time.Duration, limit int) int {
	want := max(rate*ringHeadroom.Seconds(), 2*float64(maxN)+rate*maxAge.Seconds())
	c := ringMin
	for float64(c) < want && c < limit {
		c <<= 1
	}
	return min(c, max(limit, ringMin))
}

// readingRate is the readings a second the sensors make at their configured intervals: each sample
// gives one reading per channel.
func readingRate(sensors []*sensorState) float64 {
	var r float64
	for _, s := range sensors {
		if iv := time.Duration(s.interval.Load()); iv > 0 {
			r += float64(len(s.dev.Channels())) / iv.Seconds()
		}
	}
	return r
}
