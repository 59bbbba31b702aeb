package gateway

import (
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/buffer"
)

// wallClock stamps readings. Boards without a real-time clock boot at 1970, or at fake-hwclock's last
// saved time, until NTP syncs. Until the wall clock is trusted, readings are stamped from the
// monotonic clock (the wall time at start plus the monotonic time since start, so a clock step
// cannot reorder them) and flagged untrusted; when trust arrives, the offset between that stamp
// and the true wall time corrects them.
type wallClock struct {
	start     time.Time // monotonic reference
	startWall int64     // wall time at start, Unix ns, possibly wrong
	trusted   atomic.Bool
	offset    atomic.Int64 // ns to add to an untrusted stamp; valid once trusted
	isTrusted func() bool
	wall      func() time.Time
}

func newWallClock(isTrusted func() bool, wall func() time.Time) *wallClock {
	if wall == nil {
		wall = time.Now
	}
	c := &wallClock{start: time.Now(), isTrusted: isTrusted, wall: wall}
	c.startWall = wall().UnixNano()
	c.check()
	return c
}

// stamp returns the time for a reading taken now, in Unix ns truncated to the millisecond, and its
// flags.
func (c *wallClock) stamp() (int64, uint32) {
	ns, flags := c.now()
	return ns - ns%1e6, flags
}

// now returns the time now on the timeline readings are stamped on, in Unix ns, and its flags: the
// wall clock once trusted; before, the wall time at start plus the monotonic time since, so the
// samplers' grid follows the monotonic clock until trust arrives.
func (c *wallClock) now() (int64, uint32) {
	if c.trusted.Load() {
		return c.wall().UnixNano(), 0
	}
	return c.startWall + int64(time.Since(c.start)), buffer.FlagClockUntrusted
}

// check asks whether the wall clock is trusted now; the first time it is, it fixes the offset that
// corrects untrusted stamps. It reports whether trust arrived with this call.
func (c *wallClock) check() bool {
	if c.trusted.Load() || !c.isTrusted() {
		return false
	}
	c.offset.Store(c.wall().UnixNano() - (c.startWall + int64(time.Since(c.start))))
	c.trusted.Store(true)
	return true
}

// correct turns an untrusted reading into a corrected one once the clock is trusted.
func (c *wallClock) correct(r *buffer.Reading) {
	if r.Flags&buffer.FlagClockUntrusted == 0 || !c.trusted.Load() {
		return
	}
	t := r.Time + c.offset.Load()
	r.Time = t - t%1e6
	r.Flags = r.Flags&^buffer.FlagClockUntrusted | buffer.FlagTimeCorrected
}
