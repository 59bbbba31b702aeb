// Package buffer owns the readings between the sensors and the cloud link: the pointer-free Reading
// value and the bounded lock-free ring that many sensor goroutines push into and one batcher drains.
package buffer
