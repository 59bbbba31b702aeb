// Package buffer owns the readings between the sensors and the cloud link: the pointer-free Reading
// value and the bounded lock-free Ring that many producers push into and one consumer drains.
//
// The Ring offers two overflow policies, chosen per call: Push keeps the freshest data by overwriting
// the oldest value (counted in RingStats.Dropped), TryPush refuses the new value (counted in
// RingStats.Rejected) for a producer that would rather keep the old data. A consumer may drain with
// Pop or PopBatch and sleep in Wait until a producer signals.
//
// The gateway uses a part of this. Its samplers call Push only: a full ring overwrites the oldest
// readings and never blocks a sensor. Its batcher polls: on a ticker (gateway Options.Poll, 20 ms by
// default) it reads Len and Stats (to report Dropped) and drains with PopBatch; it never calls Wait,
// Pop or TryPush, so a reading waits in the ring at most batch.max_age plus one poll. Wait and TryPush
// are kept for consumers that block and for producers that hand overflow elsewhere, and the tests and
// benchmarks exercise them.
//
// Files: ring.go holds the Ring type, its counters and NewRing; slot.go a cell's layout and states;
// push.go the producers' side; pop.go the consumer's; wait.go the consumer's wait.
package buffer
