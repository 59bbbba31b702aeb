// Package buffer owns the readings between the sensors and the cloud link: the pointer-free Reading
// value and the bounded lock-free ring that many sensor goroutines push into and one batcher drains.
//
// The ring has two overflow policies, chosen per call: Push keeps the freshest data by overwriting the
// oldest value (counted in RingStats.Dropped), TryPush refuses the new value (counted in
// RingStats.Rejected) for a caller that will spool it to disk instead. The batcher drains with
// PopBatch and sleeps in Wait.
package buffer
